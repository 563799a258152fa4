import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openDataset } from '../../../src-worker/data';
import { cifarCropFlip } from '../../../src-worker/data/augment';
import { ImageNet32Dataset } from '../../../src-worker/data/imagenet32';
import { isNdArray, readPickle } from '../../../src-worker/data/pickle';
import type { Batch } from '../../../src-worker/data/types';
import { patternPixel, tempDir } from './helpers';
import { ndFloat64, ndUint8, pickle, type Flavor, type PyValue, type WriterOptions } from './pickle-writer';

const all = (n: number) => Int32Array.from({ length: n }, (_, i) => i);
const VAL_OFFSET = 5000;
const byValue = (a: number, b: number) => a - b;

/** CHW rows (R, G, B planes) of images first..first+count-1, pixel (y, x, c) = patternPixel(image, y, x, c). */
function planeRows(first: number, count: number): Uint8Array {
  const rows = new Uint8Array(count * 3072);
  for (let r = 0; r < count; r++)
    for (let c = 0; c < 3; c++)
      for (let y = 0; y < 32; y++) for (let x = 0; x < 32; x++) rows[r * 3072 + c * 1024 + y * 32 + x] = patternPixel(first + r, y, x, c);
  return rows;
}

function batchDict(rows: Uint8Array, labels: number[], withMean: boolean): PyValue {
  const entries: [string, PyValue][] = [
    ['data', ndUint8(rows, 3072)],
    ['labels', { t: 'list', items: labels }],
  ];
  if (withMean) entries.push(['mean', ndFloat64(Array.from({ length: 3072 }, (_, i) => i / 10))]);
  return { t: 'dict', entries };
}

interface Written {
  /** 1-based, as stored. */
  trainLabels: number[];
  valLabels: number[];
  trainFiles: string[];
  valFile: string;
}

interface ImageNet32Layout {
  trainCounts?: number[];
  valCount?: number;
  flavor?: Flavor;
  flat?: boolean;
  writer?: WriterOptions;
}

/** The published layout with tiny batch files; labels spread over 1..1000 including both ends. */
async function writeImageNet32(
  dataDir: string,
  { trainCounts = [3, 2, 2], valCount = 2, flavor = 'py2', flat = false, writer = {} }: ImageNet32Layout = {},
): Promise<Written> {
  const trainDir = flat ? dataDir : join(dataDir, 'Imagenet32_train');
  const valDir = flat ? dataDir : join(dataDir, 'Imagenet32_val');
  await mkdir(trainDir, { recursive: true });
  await mkdir(valDir, { recursive: true });
  const trainLabels: number[] = [];
  const trainFiles: string[] = [];
  let first = 0;
  for (const [i, count] of trainCounts.entries()) {
    const labels = Array.from({ length: count }, (_, k) => [1000, 1, 257, 65, 999, 500][(first + k) % 6]);
    const file = join(trainDir, `train_data_batch_${i + 1}`);
    await writeFile(file, pickle(batchDict(planeRows(first, count), labels, true), flavor, writer));
    trainLabels.push(...labels);
    trainFiles.push(file);
    first += count;
  }
  const valLabels = Array.from({ length: valCount }, (_, k) => 1 + ((k * 389) % 1000));
  const valFile = join(valDir, 'val_data');
  await writeFile(valFile, pickle(batchDict(planeRows(VAL_OFFSET, valCount), valLabels, false), flavor, writer));
  return { trainLabels, valLabels, trainFiles, valFile };
}

function expectPixels(batch: Batch, images: number[], first = 0): void {
  for (const [b, image] of images.entries()) {
    for (const [y, x, c] of [[0, 0, 0], [0, 0, 2], [5, 17, 1], [31, 0, 2], [12, 31, 0], [31, 31, 1]] as const) {
      expect(batch.x[b * 3072 + (y * 32 + x) * 3 + c]).toBeCloseTo(patternPixel(first + image, y, x, c) / 255, 6);
    }
  }
}

describe('ImageNet32 pickle batches', () => {
  it('reads Python 2 cPickle batch files: discovers the batches, turns CHW planes into HWC, labels 1..1000 into 0..999', async () => {
    const dir = await tempDir();
    const { trainLabels, valLabels } = await writeImageNet32(dir, { trainCounts: [3, 2, 2], valCount: 2 });
    const ds = await openDataset({ dataset: 'imagenet32', dataDir: dir, normalize: false });
    expect([ds.name, ds.numClasses, ds.trainSize, ds.testSize]).toEqual(['imagenet32', 1000, 7, 2]);
    expect(ds.imageShape).toEqual([32, 32, 3]);

    const train = await ds.getBatch('train', all(7), { augment: false, seed: 0 });
    expect(Array.from(train.y)).toEqual(trainLabels.map((l) => l - 1));
    expect(Math.min(...train.y)).toBe(0);
    expect(Math.max(...train.y)).toBe(999);
    expectPixels(train, [0, 1, 2, 3, 4, 5, 6]);

    const val = await ds.getBatch('test', Int32Array.of(1, 0), { augment: false, seed: 0 });
    expect(Array.from(val.y)).toEqual([valLabels[1] - 1, valLabels[0] - 1]);
    expectPixels(val, [1, 0], VAL_OFFSET);
    await ds.close();
  });

  it('accepts the files directly in dataDir, the Python 3 protocol-2 form (_codecs.encode) and numpy 2 module names', async () => {
    const dir = await tempDir();
    const { trainLabels } = await writeImageNet32(dir, {
      trainCounts: [2, 2],
      flat: true,
      flavor: 'py3-proto2',
      writer: { numpyCore: 'numpy._core.multiarray' },
    });
    const ds = await openDataset({ dataset: 'imagenet32', dataDir: dir, normalize: false });
    expect(ds.trainSize).toBe(4);
    const train = await ds.getBatch('train', all(4), { augment: false, seed: 0 });
    expect(Array.from(train.y)).toEqual(trainLabels.map((l) => l - 1));
    expectPixels(train, [0, 1, 2, 3]);
  });

  it('reads protocol 4 (FRAME, MEMOIZE, STACK_GLOBAL, BINBYTES8) the same as protocol 2', async () => {
    const [dir2, dir4] = [await tempDir(), await tempDir()];
    await writeImageNet32(dir2, { flavor: 'py2' });
    await writeImageNet32(dir4, { flavor: 'py3-proto4', writer: { bytes8: true } });
    const [ds2, ds4] = [await ImageNet32Dataset.open(dir2, { normalize: true }), await ImageNet32Dataset.open(dir4, { normalize: true })];
    const opts = { augment: true, seed: 3, epoch: 1 };
    const [a, b] = [await ds2.getBatch('train', Int32Array.of(6, 0, 3), opts), await ds4.getBatch('train', Int32Array.of(6, 0, 3), opts)];
    expect(Array.from(b.y)).toEqual(Array.from(a.y));
    expect(b.x).toEqual(a.x);
  });

  it('unpickles the numpy arrays with their dtypes and shapes (the train batches’ float64 mean)', async () => {
    const dir = await tempDir();
    const { trainFiles } = await writeImageNet32(dir, { trainCounts: [3] });
    const root = readPickle(await readFile(trainFiles[0]), trainFiles[0]);
    expect(root).toBeInstanceOf(Map);
    const dict = root as Map<string, unknown>;
    expect([...dict.keys()]).toEqual(['data', 'labels', 'mean']);
    const mean = dict.get('mean') as never;
    expect(isNdArray(mean)).toBe(true);
    const { dtype, shape, data } = mean as { dtype: string; shape: number[]; data: Float64Array };
    expect([dtype, shape]).toEqual(['float64', [3072]]);
    expect(data).toBeInstanceOf(Float64Array);
    expect([data[0], data[17], data[3071]]).toEqual([0, 1.7, 307.1]);
    const pixels = dict.get('data') as { shape: number[]; data: Uint8Array };
    expect(pixels.shape).toEqual([3, 3072]);
    expect(pixels.data[1024 + 5 * 32 + 9]).toBe(patternPixel(0, 5, 9, 1));
  });

  it('gives identical batches whether a split is held in memory or read from disk per image', async () => {
    const dir = await tempDir();
    await writeImageNet32(dir, { trainCounts: [4, 3, 2], valCount: 3 });
    const memory = await ImageNet32Dataset.open(dir, { normalize: true });
    const disk = await ImageNet32Dataset.open(dir, { normalize: true, residentLimitBytes: 0 });
    expect([memory.residentImages('train'), memory.residentImages('test')]).toEqual([9, 3]);
    expect([disk.residentImages('train'), disk.residentImages('test')]).toEqual([0, 0]);

    const indices = Int32Array.of(8, 0, 4, 4, 7, 3);
    for (const augment of [false, true]) {
      const a = await memory.getBatch('train', indices, { augment, seed: 11, epoch: 2 });
      const b = await disk.getBatch('train', indices, { augment, seed: 11, epoch: 2 });
      expect(Array.from(b.y)).toEqual(Array.from(a.y));
      expect(b.x).toEqual(a.x);
    }
    const epoch = async (ds: ImageNet32Dataset) => {
      const out: Batch[] = [];
      for await (const batch of ds.batches('train', { batchSize: 4, epoch: 0, seed: 5 })) out.push(batch);
      return out;
    };
    const [fromMemory, fromDisk] = [await epoch(memory), await epoch(disk)];
    expect(fromDisk.map((b) => b.size)).toEqual([4, 4, 1]);
    expect(fromDisk.map((b) => Array.from(b.y))).toEqual(fromMemory.map((b) => Array.from(b.y)));
    expect(fromDisk.map((b) => b.x)).toEqual(fromMemory.map((b) => b.x));
    // a shuffled epoch still visits every image once
    expect(fromDisk.flatMap((b) => Array.from(b.y)).sort(byValue)).toEqual(Array.from((await memory.getBatch('train', all(9), { augment: false, seed: 0 })).y).sort(byValue));
    await disk.close();
  });

  it('keeps the Python 3 protocol-2 form in memory even when asked for disk, since its pixels are re-encoded in the file', async () => {
    const dir = await tempDir();
    await writeImageNet32(dir, { flavor: 'py3-proto2' });
    const ds = await ImageNet32Dataset.open(dir, { normalize: false, residentLimitBytes: 0 });
    expect(ds.residentImages('train')).toBe(7);
    expectPixels(await ds.getBatch('train', Int32Array.of(5), { augment: false, seed: 0 }), [5]);
  });

  it('normalises with the standard ImageNet mean/std and augments like CIFAR (4-pixel padded crop + flip)', async () => {
    const dir = await tempDir();
    await writeImageNet32(dir);
    const ds = await openDataset({ dataset: 'imagenet32', dataDir: dir, normalize: true });
    const plain = await ds.getBatch('train', Int32Array.of(2), { augment: false, seed: 0 });
    const mean = [0.485, 0.456, 0.406];
    const std = [0.229, 0.224, 0.225];
    for (const c of [0, 1, 2]) {
      expect(plain.x[(6 * 32 + 9) * 3 + c]).toBeCloseTo((patternPixel(2, 6, 9, c) / 255 - mean[c]) / std[c], 5);
    }
    // the crop/flip drawn for (seed, epoch, index), applied to the zero-padded image
    let moved = 0;
    for (let seed = 0; seed < 8; seed++) {
      const { dy, dx, flip } = cifarCropFlip(seed, 1, 2);
      if (dy !== 0 || dx !== 0 || flip) moved++;
      const aug = await ds.getBatch('train', Int32Array.of(2), { augment: true, seed, epoch: 1 });
      for (const [y, x] of [[0, 0], [3, 30], [16, 16], [31, 2], [29, 31]] as const) {
        const [sy, sx] = [y + dy, (flip ? 31 - x : x) + dx];
        const inside = sy >= 0 && sy < 32 && sx >= 0 && sx < 32;
        for (const c of [0, 1, 2]) {
          const byte = inside ? patternPixel(2, sy, sx, c) : 0;
          expect(aug.x[(y * 32 + x) * 3 + c]).toBeCloseTo((byte / 255 - mean[c]) / std[c], 5);
        }
      }
    }
    expect(moved).toBeGreaterThan(4);
  });
});

describe('ImageNet32 errors', () => {
  it('names the expected layout when the folder is missing or empty', async () => {
    const dir = await tempDir();
    await expect(openDataset({ dataset: 'imagenet32', dataDir: join(dir, 'nowhere'), normalize: false })).rejects.toThrow(
      /ImageNet32 training data not found in .*nowhere: expected the ImageNet32 pickle release .*Imagenet32_train\/train_data_batch_1 … train_data_batch_10 and .*Imagenet32_val\/val_data/,
    );
    await expect(openDataset({ dataset: 'imagenet32', normalize: false })).rejects.toThrow('data set imagenet32 needs dataDir');
  });

  it('refuses a gap in the batch numbering and a missing val file', async () => {
    const dir = await tempDir();
    const { trainFiles, valFile } = await writeImageNet32(dir, { trainCounts: [2, 2, 2] });
    await rm(valFile);
    await expect(openDataset({ dataset: 'imagenet32', dataDir: dir, normalize: false })).rejects.toThrow(
      `ImageNet32 validation data not found in ${dir}`,
    );
    await rm(trainFiles[1]);
    await expect(openDataset({ dataset: 'imagenet32', dataDir: dir, normalize: false })).rejects.toThrow(
      `${join(dir, 'Imagenet32_train', 'train_data_batch_2')} is missing (found train_data_batch_1, 3)`,
    );
  });

  it('points out the .npz release', async () => {
    const dir = await tempDir();
    await mkdir(join(dir, 'Imagenet32_train'));
    await writeFile(join(dir, 'Imagenet32_train', 'train_data_batch_1.npz'), 'PK');
    await expect(openDataset({ dataset: 'imagenet32', dataDir: dir, normalize: false })).rejects.toThrow('found the .npz release');
  });

  it('refuses a truncated pickle, naming the file', async () => {
    const dir = await tempDir();
    const { trainFiles } = await writeImageNet32(dir);
    const file = trainFiles[1];
    const bytes = await readFile(file);
    await writeFile(file, bytes.subarray(0, 4000));
    await expect(openDataset({ dataset: 'imagenet32', dataDir: dir, normalize: false })).rejects.toThrow(
      new RegExp(`^${file}: pickle is truncated: opcode BINSTRING at byte \\d+ needs 6144 more bytes`),
    );
    await writeFile(file, bytes.subarray(0, bytes.length - 1));
    await expect(openDataset({ dataset: 'imagenet32', dataDir: dir, normalize: false })).rejects.toThrow(
      `${file}: pickle is truncated: no STOP opcode`,
    );
  });

  it('refuses globals other than numpy reconstruction, naming opcode, offset and global', async () => {
    const dir = await tempDir();
    const { valFile } = await writeImageNet32(dir);
    // pickle.dumps of os.system('touch pwned') by hand: GLOBAL 'os system', BINUNICODE, TUPLE1, REDUCE
    const attack = Buffer.concat([
      Buffer.from([0x80, 0x02]),
      Buffer.from('cos\nsystem\nq\x00X\x0b\x00\x00\x00touch pwnedq\x01\x85q\x02Rq\x03.', 'latin1'),
    ]);
    await writeFile(valFile, attack);
    await expect(openDataset({ dataset: 'imagenet32', dataDir: dir, normalize: false })).rejects.toThrow(
      `${valFile}: pickle opcode GLOBAL (0x63) at byte 2: global os.system is not allowed`,
    );
    const stackGlobal = Buffer.from('\x80\x04\x8c\x08builtins\x94\x8c\x04eval\x94\x93\x94.', 'latin1');
    expect(() => readPickle(stackGlobal, 'x.pkl')).toThrow('x.pkl: pickle opcode STACK_GLOBAL (0x93) at byte 20: global builtins.eval is not allowed');
    // opcodes outside the supported set, e.g. the text-mode INT and NEWOBJ
    expect(() => readPickle(Buffer.from('\x80\x02I12\n.', 'latin1'), 'y.pkl')).toThrow('y.pkl: pickle opcode INT (0x49) at byte 2: opcode not supported');
    expect(() => readPickle(Buffer.from('\x80\x02)\x81.', 'latin1'), 'z.pkl')).toThrow('z.pkl: pickle opcode NEWOBJ (0x81) at byte 3');
  });

  it('refuses labels outside 1..1000 (0 and 1001), naming file and image', async () => {
    const dir = await tempDir();
    const { trainFiles, valFile } = await writeImageNet32(dir);
    await writeFile(trainFiles[0], pickle(batchDict(planeRows(0, 2), [3, 0], true)));
    await expect(openDataset({ dataset: 'imagenet32', dataDir: dir, normalize: false })).rejects.toThrow(
      `${trainFiles[0]}: image 1 has label 0, expected 1..1000 (ImageNet32 labels are 1-based)`,
    );
    await writeFile(trainFiles[0], pickle(batchDict(planeRows(0, 2), [3, 4], true)));
    await writeFile(valFile, pickle(batchDict(planeRows(0, 2), [1001, 4], false)));
    await expect(openDataset({ dataset: 'imagenet32', dataDir: dir, normalize: false })).rejects.toThrow(
      `${valFile}: image 0 has label 1001, expected 1..1000`,
    );
  });

  it('refuses a batch whose data is not uint8 [N, 3072] or whose labels do not match', async () => {
    const dir = await tempDir();
    const { trainFiles } = await writeImageNet32(dir);
    const file = trainFiles[2];
    await writeFile(file, pickle({ t: 'dict', entries: [['data', ndUint8(new Uint8Array(2 * 3000), 3000)], ['labels', { t: 'list', items: [1, 2] }]] }));
    await expect(openDataset({ dataset: 'imagenet32', dataDir: dir, normalize: false })).rejects.toThrow(
      `${file}: 'data' is uint8 [2, 3000], expected uint8 [N, 3072]`,
    );
    await writeFile(file, pickle(batchDict(planeRows(0, 2), [1, 2, 3], true)));
    await expect(openDataset({ dataset: 'imagenet32', dataDir: dir, normalize: false })).rejects.toThrow(`${file}: 3 labels for 2 images`);
    // raw bytes that disagree with the array's shape
    const bad = { t: 'nd' as const, code: 'u1' as const, shape: [2, 3072], raw: new Uint8Array(3072) };
    await writeFile(file, pickle({ t: 'dict', entries: [['data', bad], ['labels', { t: 'list', items: [1, 2] }]] }));
    await expect(openDataset({ dataset: 'imagenet32', dataDir: dir, normalize: false })).rejects.toThrow(
      /pickle opcode BUILD \(0x62\) at byte \d+: ndarray data has 3072 bytes, but shape \[2, 3072\] of uint8 needs 6144/,
    );
  });
});
