import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseRunSpec } from '../../../src-worker/run-spec';
import {
  CheckpointError, decodeCheckpoint, encodeCheckpoint, listCheckpoints, loadLatestCheckpoint, pruneCheckpoints,
  writeCheckpoint, type CheckpointContent, type CheckpointTensor,
} from '../../../src-worker/train/checkpoint';

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'normlab-ckpt-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const spec = parseRunSpec({ model: 'kn_cnn', dataset: 'synthetic', epochs: 3, batchSize: 8, lr: 0.1 });
function content(epoch: number, batchInEpoch: number): CheckpointContent {
  return {
    reason: 'periodic',
    spec,
    position: { epoch, batchInEpoch, globalStep: epoch * 10 + batchInEpoch },
    rng: { seed: 0, globalStep: epoch * 10 + batchInEpoch },
    schedule: { kind: 'cosine', epoch, globalStep: 0, lastLr: 0.05 },
    optimizer: { initialized: true },
    partialEpoch: { lossSum: 1.25, correct: 3, seen: 8 },
    history: [],
    bestTestAcc: 0.5,
  };
}
const tensors: CheckpointTensor[] = [
  { name: 'var:conv1.weight', dtype: 'float32', shape: [2, 3], values: new Float32Array([1, 2, 3, -4.5, 1e-30, Math.PI]) },
  { name: 'var:bn1.num_batches', dtype: 'int32', shape: [1], values: new Int32Array([7]) },
  { name: 'momentum:conv1.weight', dtype: 'float32', shape: [3], values: new Float32Array([0.1, 0.2, 0.3]) },
];

describe('checkpoint format', () => {
  it('round-trips header and tensors exactly', () => {
    const decoded = decodeCheckpoint(encodeCheckpoint(content(2, 5), tensors));
    expect(decoded.header.position).toEqual({ epoch: 2, batchInEpoch: 5, globalStep: 25 });
    expect(decoded.header.spec).toEqual(spec);
    expect(decoded.header.partialEpoch.lossSum).toBe(1.25);
    for (const t of tensors) {
      const got = decoded.tensors.get(t.name)!;
      expect(got.shape).toEqual(t.shape);
      expect(got.values).toEqual(t.values);
      expect(got.values.constructor).toBe(t.values.constructor);
    }
  });

  it('rejects corrupted, truncated and foreign files with a clear reason', () => {
    const good = encodeCheckpoint(content(1, 0), tensors);
    const flipped = Buffer.from(good);
    flipped[flipped.length - 3] ^= 0xff;
    expect(() => decodeCheckpoint(flipped, 'x.nlck')).toThrow(/x\.nlck is unreadable: tensor data does not match its checksum/);
    expect(() => decodeCheckpoint(good.subarray(0, good.length - 4), 'x.nlck')).toThrow(CheckpointError);
    expect(() => decodeCheckpoint(good.subarray(0, 20), 'x.nlck')).toThrow(/header says \d+ bytes/);
    expect(() => decodeCheckpoint(Buffer.from('{"not":"a checkpoint"}'), 'x.nlck')).toThrow(/bad magic bytes/);
  });
});

describe('checkpoint files', () => {
  it('are written atomically under a name ordered by training position, leaving no temp file', () => {
    const dir = tempDir();
    const path = writeCheckpoint(dir, content(1, 0), tensors);
    expect(path).toBe(join(dir, 'ckpt-e0001-b000000.nlck'));
    expect(readdirSync(dir)).toEqual(['ckpt-e0001-b000000.nlck']);
    expect(loadLatestCheckpoint(dir)!.header.position.epoch).toBe(1);
  });

  it('picks the newest position; a temp file left by a crash does not count', () => {
    const dir = tempDir();
    writeCheckpoint(dir, content(1, 0), tensors);
    writeCheckpoint(dir, content(1, 7), tensors);
    writeCheckpoint(dir, content(0, 9), tensors);
    // what a crash between write and rename leaves behind: a newer but incomplete file
    writeFileSync(join(dir, '.ckpt-e0002-b000000.nlck.123.tmp'), encodeCheckpoint(content(2, 0), tensors).subarray(0, 50));
    const latest = loadLatestCheckpoint(dir)!;
    expect(latest.path).toBe(join(dir, 'ckpt-e0001-b000007.nlck'));
    expect(listCheckpoints(dir).map((c) => [c.epoch, c.batchInEpoch])).toEqual([[1, 7], [1, 0], [0, 9]]);
  });

  it('a corrupt newest checkpoint is a clear error, not a silent fallback', () => {
    const dir = tempDir();
    writeCheckpoint(dir, content(1, 0), tensors);
    const p = writeCheckpoint(dir, content(2, 0), tensors);
    const bytes = readFileSync(p);
    writeFileSync(p, bytes.subarray(0, bytes.length - 8));
    expect(() => loadLatestCheckpoint(dir)).toThrow(/ckpt-e0002-b000000\.nlck is unreadable/);
  });

  it('an empty or missing directory has no checkpoint', () => {
    expect(loadLatestCheckpoint(tempDir())).toBeNull();
    expect(loadLatestCheckpoint(join(tempDir(), 'absent'))).toBeNull();
  });

  it('pruning keeps the newest ones', () => {
    const dir = tempDir();
    for (let e = 0; e < 4; e++) writeCheckpoint(dir, content(e, 0), tensors);
    pruneCheckpoints(dir, 2);
    expect(readdirSync(dir).sort()).toEqual(['ckpt-e0002-b000000.nlck', 'ckpt-e0003-b000000.nlck']);
  });
});
