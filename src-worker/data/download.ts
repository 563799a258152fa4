import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import * as tar from 'tar';
import { CIFAR_LAYOUTS, missingCifarFiles, type CifarName } from './cifar-binary';
import { DataError } from './types';

/** The dataset authors' archives (https://www.cs.toronto.edu/~kriz/cifar.html lists these MD5s). */
export interface ArchiveSource {
  url: string;
  fileName: string;
  md5: string;
  bytes: number;
}

export const CIFAR_ARCHIVES: Record<CifarName, ArchiveSource> = {
  cifar10: {
    url: 'https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz',
    fileName: 'cifar-10-binary.tar.gz',
    md5: 'c32a1d4ab5d03f1284b67883e8d87530',
    bytes: 170_052_171,
  },
  cifar100: {
    url: 'https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz',
    fileName: 'cifar-100-binary.tar.gz',
    md5: '03b5dce01913d631647c71ecec9e9cb8',
    bytes: 168_513_733,
  },
};

export interface DownloadProgress {
  phase: 'download' | 'verify' | 'extract';
  /** Bytes of the archive on disk so far, including any resumed part. */
  receivedBytes: number;
  totalBytes?: number;
  /** Bytes that were already on disk from an earlier, interrupted attempt. */
  resumedFrom: number;
}

export interface DownloadOptions {
  dataDir: string;
  /** Base URL serving the same archive file names (e.g. an in-house mirror); replaces the official host. */
  mirror?: string;
  /** Expected MD5 of the archive, for a mirror that serves a repackaged archive. Defaults to the official one. */
  md5?: string;
  onProgress?: (progress: DownloadProgress) => void;
  /** Further attempts after an interrupted transfer, each resuming where the last stopped (default 3). */
  retries?: number;
  /** Pause before retry k is k times this (default 1000 ms). */
  retryDelayMs?: number;
  keepArchive?: boolean;
  signal?: AbortSignal;
}

export interface DownloadResult {
  /** The folder holding the extracted layout, e.g. <dataDir>/cifar-10-batches-bin. */
  folder: string;
  alreadyPresent: boolean;
  /** Byte offset the successful transfer resumed from (0 for a fresh one). */
  resumedFrom: number;
}

export function archiveUrl(name: CifarName, mirror?: string): string {
  const source = CIFAR_ARCHIVES[name];
  if (!mirror) return source.url;
  try {
    return new URL(source.fileName, mirror.endsWith('/') ? mirror : `${mirror}/`).href;
  } catch {
    throw new DataError(`mirror "${mirror}" is not a valid URL`);
  }
}

/** The server answered but refused: retrying will not help. */
class HttpStatusError extends Error {}

/** fetch's errors say little ("terminated", "fetch failed"); the cause says what happened. */
function describeError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = err.cause instanceof Error ? `: ${err.cause.message}` : '';
  return `${err.message}${cause}`;
}

async function fileSize(path: string): Promise<number> {
  return (await stat(path).catch(() => null))?.size ?? 0;
}

export async function md5OfFile(path: string): Promise<string> {
  const hash = createHash('md5');
  await pipeline(createReadStream(path), hash);
  return hash.digest('hex');
}

/** Total size from a 206's Content-Range ("bytes 100-199/200") or a 200's Content-Length. */
function totalFrom(response: Response, offset: number): number | undefined {
  const range = response.headers.get('content-range');
  const total = range?.match(/\/(\d+)$/)?.[1];
  if (total) return Number(total);
  const length = response.headers.get('content-length');
  return length ? offset + Number(length) : undefined;
}

/**
 * One attempt: appends the rest of the archive to `partPath`, asking for it with a Range request when part
 * of it is already there. Returns the offset it resumed from.
 */
async function transferOnce(url: string, partPath: string, opts: DownloadOptions): Promise<number> {
  let offset = await fileSize(partPath);
  const headers: Record<string, string> = offset > 0 ? { Range: `bytes=${offset}-` } : {};
  const response = await fetch(url, { headers, signal: opts.signal }).catch((err: unknown) => {
    throw new Error(`cannot connect (${describeError(err)})`);
  });
  if (response.status === 416 && offset > 0) {
    // the part is already as long as the file (or longer): let the checksum decide
    await response.body?.cancel();
    return offset;
  }
  if (response.status !== 200 && response.status !== 206) {
    await response.body?.cancel();
    throw new HttpStatusError(`HTTP ${response.status} ${response.statusText}`.trim());
  }
  if (response.status === 206) {
    const start = Number(response.headers.get('content-range')?.match(/bytes (\d+)-/)?.[1] ?? NaN);
    if (start !== offset) {
      await response.body?.cancel();
      throw new DataError(`download of ${url}: server resumed at byte ${start}, expected ${offset}`);
    }
  } else {
    offset = 0; // the server ignored the Range header and sent the whole file
  }
  if (!response.body) throw new DataError(`download of ${url}: empty response body`);
  const totalBytes = totalFrom(response, offset);
  let received = offset;
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      received += chunk.length;
      opts.onProgress?.({ phase: 'download', receivedBytes: received, totalBytes, resumedFrom: offset });
      done(null, chunk);
    },
  });
  const expected = totalBytes === undefined ? '' : ` of ${totalBytes}`;
  await pipeline(
    Readable.fromWeb(response.body as unknown as WebReadableStream<Uint8Array>),
    counter,
    createWriteStream(partPath, { flags: offset > 0 ? 'a' : 'w' }),
  ).catch((err: unknown) => {
    throw new Error(`transfer broke off after ${received}${expected} bytes (${describeError(err)})`);
  });
  if (totalBytes !== undefined && received !== totalBytes) {
    throw new Error(`transfer ended after ${received}${expected} bytes`);
  }
  return offset;
}

async function transferWithRetries(url: string, partPath: string, opts: DownloadOptions): Promise<number> {
  const retries = opts.retries ?? 3;
  for (let attempt = 0; ; attempt++) {
    try {
      return await transferOnce(url, partPath, opts);
    } catch (err) {
      if (attempt >= retries || opts.signal?.aborted || err instanceof HttpStatusError || err instanceof DataError) {
        const kept = await fileSize(partPath);
        throw new DataError(
          `download of ${url} failed after ${attempt + 1} attempt${attempt ? 's' : ''}: ${describeError(err)}.` +
            (kept > 0 ? ` ${kept} bytes are kept in ${partPath}; run the download again to resume.` : ''),
        );
      }
      await new Promise((resolve) => setTimeout(resolve, (attempt + 1) * (opts.retryDelayMs ?? 1000)));
    }
  }
}

/** Extracts the archive's data folder into a staging folder, checks it, then renames it into place. */
async function extractVerified(archivePath: string, name: CifarName, dataDir: string): Promise<string> {
  const layout = CIFAR_LAYOUTS[name];
  const staging = await mkdtemp(join(dataDir, `.extract-${layout.folder}-`));
  try {
    await tar.x({
      file: archivePath,
      cwd: staging,
      strict: true,
      // only the data folder: nothing else in an archive gets written to disk
      filter: (path) => {
        const relative = path.replace(/^\.\//, '');
        return relative === layout.folder || relative.startsWith(`${layout.folder}/`);
      },
    }).catch((err: unknown) => {
      throw new DataError(`${archivePath}: cannot extract: ${err instanceof Error ? err.message : String(err)}`);
    });
    const missing = await missingCifarFiles(staging, name);
    if (missing.length > 0) {
      throw new DataError(`${archivePath}: archive lacks ${missing.map((p) => p.slice(staging.length + 1)).join(', ')}`);
    }
    const folder = join(dataDir, layout.folder);
    await rm(folder, { recursive: true, force: true });
    await rename(join(staging, layout.folder), folder);
    return folder;
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

/**
 * Downloads and extracts an official CIFAR binary archive into dataDir (torchvision's root layout).
 * Interrupted transfers resume from `<archive>.part` with HTTP Range requests; the archive is only
 * extracted once its MD5 matches, and a mismatching download is deleted, so no corrupt data is left behind.
 */
export async function downloadCifar(name: CifarName, opts: DownloadOptions): Promise<DownloadResult> {
  const layout = CIFAR_LAYOUTS[name];
  const folder = join(opts.dataDir, layout.folder);
  if ((await missingCifarFiles(opts.dataDir, name)).length === 0) return { folder, alreadyPresent: true, resumedFrom: 0 };

  const source = CIFAR_ARCHIVES[name];
  const url = archiveUrl(name, opts.mirror);
  const expectedMd5 = (opts.md5 ?? source.md5).toLowerCase();
  await mkdir(opts.dataDir, { recursive: true });
  const archivePath = join(opts.dataDir, source.fileName);
  const partPath = `${archivePath}.part`;

  let resumedFrom = 0;
  const haveArchive = (await fileSize(archivePath)) > 0 && (await md5OfFile(archivePath)) === expectedMd5;
  if (!haveArchive) {
    resumedFrom = await transferWithRetries(url, partPath, opts);
    const size = await fileSize(partPath);
    opts.onProgress?.({ phase: 'verify', receivedBytes: size, totalBytes: size, resumedFrom });
    const actualMd5 = await md5OfFile(partPath);
    if (actualMd5 !== expectedMd5) {
      await rm(partPath, { force: true });
      throw new DataError(
        `checksum mismatch for ${url}: expected MD5 ${expectedMd5}, got ${actualMd5} (${size} bytes). ` +
          `The download was deleted and nothing was extracted; try again, or use another --mirror.`,
      );
    }
    await rename(partPath, archivePath);
  }
  const size = await fileSize(archivePath);
  opts.onProgress?.({ phase: 'extract', receivedBytes: size, totalBytes: size, resumedFrom });
  const extracted = await extractVerified(archivePath, name, opts.dataDir);
  if (!opts.keepArchive) await rm(archivePath, { force: true });
  return { folder: extracted, alreadyPresent: false, resumedFrom };
}
