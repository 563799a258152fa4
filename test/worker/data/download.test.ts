import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tar from 'tar';
import { afterEach, describe, expect, it } from 'vitest';
import { openDataset } from '../../../src-worker/data';
import { archiveUrl, downloadCifar, type DownloadProgress } from '../../../src-worker/data/download';
import { buildCifar10Archive, serveFiles, tempDir, type ArchiveServer } from './helpers';

let server: ArchiveServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function exists(path: string): Promise<boolean> {
  return (await stat(path).catch(() => null)) !== null;
}

describe('CIFAR downloader', () => {
  it('uses the official URL unless a mirror is given', () => {
    expect(archiveUrl('cifar10')).toBe('https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz');
    expect(archiveUrl('cifar100')).toBe('https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz');
    expect(archiveUrl('cifar100', 'http://mirror.example/datasets')).toBe('http://mirror.example/datasets/cifar-100-binary.tar.gz');
    expect(() => archiveUrl('cifar10', 'not a url')).toThrow('mirror "not a url" is not a valid URL');
  });

  it('downloads from a mirror, reports progress, verifies, extracts a readable data set and cleans up', async () => {
    const archive = await buildCifar10Archive();
    server = await serveFiles({ 'cifar-10-binary.tar.gz': archive.bytes });
    const dataDir = join(await tempDir(), 'data');
    const progress: DownloadProgress[] = [];
    const result = await downloadCifar('cifar10', { dataDir, mirror: server.baseUrl, md5: archive.md5, onProgress: (p) => progress.push(p) });
    expect(result).toEqual({ folder: join(dataDir, 'cifar-10-batches-bin'), alreadyPresent: false, resumedFrom: 0 });
    expect(server.requests).toEqual([{ url: '/cifar-10-binary.tar.gz', range: undefined }]);

    const downloads = progress.filter((p) => p.phase === 'download');
    expect(downloads.length).toBeGreaterThan(0);
    expect(downloads.every((p) => p.totalBytes === archive.bytes.length)).toBe(true);
    expect(downloads.at(-1)!.receivedBytes).toBe(archive.bytes.length);
    expect(progress.map((p) => p.phase).filter((p, i, all) => p !== all[i - 1])).toEqual(['download', 'verify', 'extract']);

    const ds = await openDataset({ dataset: 'cifar10', dataDir, normalize: false });
    expect([ds.trainSize, ds.testSize]).toEqual([20, 4]);
    expect((await readdir(dataDir)).sort()).toEqual(['cifar-10-batches-bin']);
    expect(await exists(join(dataDir, 'cifar-10-batches-bin', 'batches.meta.txt'))).toBe(true);

    const again = await downloadCifar('cifar10', { dataDir, mirror: server.baseUrl, md5: archive.md5 });
    expect(again.alreadyPresent).toBe(true);
    expect(server.requests).toHaveLength(1);
  });

  it('refuses an archive whose MD5 does not match, deleting it and extracting nothing', async () => {
    const archive = await buildCifar10Archive();
    server = await serveFiles({ 'cifar-10-binary.tar.gz': archive.bytes });
    const dataDir = await tempDir();
    // without an override the official checksum applies, which the test archive cannot match
    const failure = downloadCifar('cifar10', { dataDir, mirror: server.baseUrl });
    await expect(failure).rejects.toThrow(
      `checksum mismatch for ${server.baseUrl}cifar-10-binary.tar.gz: expected MD5 c32a1d4ab5d03f1284b67883e8d87530, got ${archive.md5}`,
    );
    await expect(failure).rejects.toThrow('The download was deleted and nothing was extracted');
    expect(await readdir(dataDir)).toEqual([]);
  });

  it('keeps an interrupted transfer and resumes it with a Range request', async () => {
    const archive = await buildCifar10Archive();
    server = await serveFiles({ 'cifar-10-binary.tar.gz': archive.bytes });
    const dataDir = await tempDir();
    const cut = Math.floor(archive.bytes.length / 3);
    server.interruptNext(1, cut);
    const opts = { dataDir, mirror: server.baseUrl, md5: archive.md5, retries: 0 };
    const interrupted = await downloadCifar('cifar10', opts).then(() => null, (err: unknown) => err);
    expect(interrupted).toBeInstanceOf(Error);
    expect((interrupted as Error).message).toMatch(
      /download of http:\/\/127\.0\.0\.1:\d+\/cifar-10-binary\.tar\.gz failed after 1 attempt: transfer broke off after \d+ of \d+ bytes \(.+\)\. \d+ bytes are kept in .*\.part; run the download again to resume\./,
    );
    const partPath = join(dataDir, 'cifar-10-binary.tar.gz.part');
    expect((await stat(partPath)).size).toBe(cut);
    expect(await exists(join(dataDir, 'cifar-10-batches-bin'))).toBe(false);

    const progress: DownloadProgress[] = [];
    const result = await downloadCifar('cifar10', { ...opts, onProgress: (p) => progress.push(p) });
    expect(result.resumedFrom).toBe(cut);
    expect(server.requests.map((r) => r.range)).toEqual([undefined, `bytes=${cut}-`]);
    expect(progress.find((p) => p.phase === 'download')!.resumedFrom).toBe(cut);
    const ds = await openDataset({ dataset: 'cifar10', dataDir, normalize: false });
    expect(ds.trainSize).toBe(20);
    expect(await exists(partPath)).toBe(false);
  });

  it('retries an interrupted transfer by itself, resuming each time', async () => {
    const archive = await buildCifar10Archive();
    server = await serveFiles({ 'cifar-10-binary.tar.gz': archive.bytes });
    const dataDir = await tempDir();
    server.interruptNext(2, 5000);
    const result = await downloadCifar('cifar10', { dataDir, mirror: server.baseUrl, md5: archive.md5, keepArchive: true, retryDelayMs: 10 });
    expect(server.requests.map((r) => r.range)).toEqual([undefined, 'bytes=5000-', 'bytes=10000-']);
    expect(result.resumedFrom).toBe(10000);
    expect((await readFile(join(dataDir, 'cifar-10-binary.tar.gz'))).equals(archive.bytes)).toBe(true);
  });

  it('starts over when the server ignores the Range header', async () => {
    const archive = await buildCifar10Archive();
    server = await serveFiles({ 'cifar-10-binary.tar.gz': archive.bytes });
    server.ignoreRanges = true;
    const dataDir = await tempDir();
    await writeFile(join(dataDir, 'cifar-10-binary.tar.gz.part'), archive.bytes.subarray(0, 1000));
    const result = await downloadCifar('cifar10', { dataDir, mirror: server.baseUrl, md5: archive.md5 });
    expect(server.requests.map((r) => r.range)).toEqual(['bytes=1000-']);
    expect(result.resumedFrom).toBe(0);
    expect((await openDataset({ dataset: 'cifar10', dataDir, normalize: false })).testSize).toBe(4);
  });

  it('reports an HTTP error without retrying', async () => {
    server = await serveFiles({});
    const dataDir = await tempDir();
    await expect(downloadCifar('cifar100', { dataDir, mirror: server.baseUrl, retries: 3 })).rejects.toThrow(
      `download of ${server.baseUrl}cifar-100-binary.tar.gz failed after 1 attempt: HTTP 404 Not Found.`,
    );
    expect(server.requests).toHaveLength(1);
  });

  it('refuses an archive that lacks the expected files, leaving no extracted folder', async () => {
    const source = await tempDir();
    await mkdir(join(source, 'cifar-100-binary'));
    await writeFile(join(source, 'cifar-100-binary', 'train.bin'), new Uint8Array(3074));
    const file = join(await tempDir(), 'cifar-100-binary.tar.gz');
    await tar.c({ gzip: true, file, cwd: source }, ['cifar-100-binary']);
    const bytes = await readFile(file);
    server = await serveFiles({ 'cifar-100-binary.tar.gz': bytes });
    const dataDir = await tempDir();
    const md5 = createHash('md5').update(bytes).digest('hex');
    await expect(downloadCifar('cifar100', { dataDir, mirror: server.baseUrl, md5 })).rejects.toThrow(
      `${join(dataDir, 'cifar-100-binary.tar.gz')}: archive lacks cifar-100-binary/test.bin`,
    );
    expect(await readdir(dataDir)).toEqual(['cifar-100-binary.tar.gz']);
  });
});
