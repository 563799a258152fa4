import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tar from 'tar';
import { afterEach } from 'vitest';

/** A fresh temp folder per call, removed after the test. */
const created: string[] = [];
export async function tempDir(prefix = 'normlab-data-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  created.push(dir);
  return dir;
}
afterEach(async () => {
  await Promise.all(created.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

/** An image as the test means it: HWC bytes, pixel (y, x, c). */
export type PixelFn = (record: number, y: number, x: number, c: number) => number;

/**
 * Writes CIFAR records by hand (label bytes, then the R, G and B planes row-major), independently of the
 * code under test, so a reader that mixes up CHW and HWC fails.
 */
export function cifarRecords(labels: number[][], pixel: PixelFn): Uint8Array {
  const labelBytes = labels[0]?.length ?? 1;
  const size = labelBytes + 3072;
  const out = new Uint8Array(labels.length * size);
  labels.forEach((recordLabels, r) => {
    recordLabels.forEach((value, i) => (out[r * size + i] = value));
    for (let c = 0; c < 3; c++)
      for (let y = 0; y < 32; y++)
        for (let x = 0; x < 32; x++) out[r * size + labelBytes + c * 1024 + y * 32 + x] = pixel(r, y, x, c);
  });
  return out;
}

/** A deterministic but irregular pixel pattern, different per record. */
export const patternPixel: PixelFn = (r, y, x, c) => (r * 97 + y * 31 + x * 7 + c * 59 + ((x * y) % 13)) & 255;

export const noisePixel: PixelFn = (r, y, x, c) => {
  let h = Math.imul(r * 73856093 ^ y * 19349663 ^ x * 83492791 ^ c * 2654435761, 0x27d4eb2d);
  h ^= h >>> 15;
  return h & 255;
};

/** Writes a CIFAR-10 layout with the given record counts per training file and in the test file. */
export async function writeCifar10(
  dataDir: string,
  trainCounts = [3, 2, 2, 2, 1],
  testCount = 2,
  pixel: PixelFn = patternPixel,
): Promise<{ trainLabels: number[]; testLabels: number[] }> {
  const folder = join(dataDir, 'cifar-10-batches-bin');
  await mkdir(folder, { recursive: true });
  const trainLabels: number[] = [];
  let record = 0;
  for (const [i, count] of trainCounts.entries()) {
    const labels = Array.from({ length: count }, (_, k) => (record + k * 3 + i) % 10);
    const offset = record;
    await writeFile(join(folder, `data_batch_${i + 1}.bin`), cifarRecords(labels.map((l) => [l]), (r, y, x, c) => pixel(offset + r, y, x, c)));
    trainLabels.push(...labels);
    record += count;
  }
  const testLabels = Array.from({ length: testCount }, (_, k) => (k * 7) % 10);
  await writeFile(join(folder, 'test_batch.bin'), cifarRecords(testLabels.map((l) => [l]), (r, y, x, c) => pixel(1000 + r, y, x, c)));
  return { trainLabels, testLabels };
}

export interface RecordedRequest {
  url: string;
  range?: string;
}

export interface ArchiveServer {
  baseUrl: string;
  requests: RecordedRequest[];
  /** Make the next n responses stop after `bytes` body bytes by destroying the socket. */
  interruptNext(n: number, bytes: number): void;
  /** Answer Range requests with the whole file (200), like servers without range support. */
  ignoreRanges: boolean;
  close(): Promise<void>;
}

/** Serves `files` (name → bytes) on 127.0.0.1 with Range support, recording every request. */
export async function serveFiles(files: Record<string, Uint8Array>): Promise<ArchiveServer> {
  const requests: RecordedRequest[] = [];
  let interruptions = 0;
  let interruptAt = 0;
  const state = { ignoreRanges: false };
  const server: Server = createServer((req: IncomingMessage, res) => {
    requests.push({ url: req.url ?? '', range: req.headers.range });
    const body = files[(req.url ?? '').replace(/^\//, '')];
    if (!body) {
      res.writeHead(404).end('not found');
      return;
    }
    let start = 0;
    const range = req.headers.range?.match(/^bytes=(\d+)-$/);
    if (range && !state.ignoreRanges) {
      start = Number(range[1]);
      if (start >= body.length) {
        res.writeHead(416, { 'Content-Range': `bytes */${body.length}` }).end();
        return;
      }
      res.writeHead(206, { 'Content-Length': body.length - start, 'Content-Range': `bytes ${start}-${body.length - 1}/${body.length}` });
    } else {
      res.writeHead(200, { 'Content-Length': body.length, 'Accept-Ranges': 'bytes' });
    }
    const rest = body.subarray(start);
    if (interruptions > 0) {
      interruptions--;
      res.write(rest.subarray(0, interruptAt), () => setTimeout(() => res.socket?.destroy(), 20));
      return;
    }
    res.end(rest);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}/`,
    requests,
    interruptNext(n, bytes) {
      interruptions = n;
      interruptAt = bytes;
    },
    get ignoreRanges() {
      return state.ignoreRanges;
    },
    set ignoreRanges(value: boolean) {
      state.ignoreRanges = value;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A real cifar-10-binary.tar.gz in the official layout, with noise pixels so gzip cannot shrink it much. */
export async function buildCifar10Archive(): Promise<{ bytes: Buffer; md5: string }> {
  const source = await tempDir();
  await writeCifar10(source, [4, 4, 4, 4, 4], 4, noisePixel);
  await writeFile(join(source, 'cifar-10-batches-bin', 'batches.meta.txt'), 'airplane\nautomobile\n');
  const file = join(await tempDir(), 'cifar-10-binary.tar.gz');
  await tar.c({ gzip: true, file, cwd: source }, ['cifar-10-batches-bin']);
  const bytes = await readFile(file);
  return { bytes, md5: createHash('md5').update(bytes).digest('hex') };
}

