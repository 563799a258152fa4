import { createHash } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { EpochMetrics } from '../protocol';
import { faultPoint } from './fault-points';
import type { RunSpec } from '../run-spec';

/**
 * Checkpoint file format (`.nlck`), version 1, little-endian:
 *
 *   bytes 0..7    magic "NLCKPT01"
 *   bytes 8..11   uint32 length H of the JSON header
 *   bytes 12..    H bytes of UTF-8 JSON (CheckpointHeader), then zero padding up to a multiple of 4
 *   then          the tensor blobs back to back; each entry of header.tensors gives its byte offset
 *                 (relative to the start of the blob region), byte length, dtype and shape
 *
 * header.blobSha256 is the SHA-256 of the whole blob region, so a truncated or corrupted file is rejected
 * with a clear message instead of loading garbage. Files are written to a dot-prefixed `.tmp` name, fsynced
 * and renamed, so a crash mid-write never leaves something that looks like a checkpoint.
 */
const MAGIC = 'NLCKPT01';
const FORMAT_VERSION = 1;
const NAME_RE = /^ckpt-e(\d{4,})-b(\d{6,})\.nlck$/;

export class CheckpointError extends Error {
  override name = 'CheckpointError';
}

export type TensorDtype = 'float32' | 'int32';

export interface CheckpointTensor {
  name: string;
  dtype: TensorDtype;
  shape: number[];
  values: Float32Array | Int32Array;
}

/** Sums over the part of an epoch already trained, so a mid-epoch resume reports the same epoch metrics. */
export interface PartialEpoch {
  lossSum: number;
  correct: number;
  seen: number;
  /** The step-level log's open window (step-log.ts); absent in checkpoints written before step curves existed. */
  stepWindow?: { lossSum: number; examples: number };
}

export interface TrainingPosition {
  /** Epochs fully completed (training and evaluation). */
  epoch: number;
  /** Batches of epoch `epoch` already trained (0 when the checkpoint falls between epochs). */
  batchInEpoch: number;
  /** Optimizer steps taken so far; with the seed it fixes every later dropout seed. */
  globalStep: number;
}

export interface CheckpointHeader {
  format: 'normlab-checkpoint';
  version: number;
  createdAt: string;
  reason: 'periodic' | 'cancel' | 'final';
  spec: RunSpec;
  /** runConfigHash(spec): what the run computes. Absent in checkpoints written before it existed. */
  configHash?: string;
  position: TrainingPosition;
  /** The random state is counter-based: every draw derives from (seed, globalStep), nothing else to store. */
  rng: { seed: number; globalStep: number };
  schedule: { kind: RunSpec['schedule']['kind']; epoch: number; globalStep: number; lastLr: number };
  /**
   * SGD: whether the momentum buffers hold a first gradient yet. AdamW (`kind` 'adamw', absent in checkpoints
   * written before AdamW existed, which are SGD): the step count its bias corrections use.
   */
  optimizer: { initialized: boolean; kind?: 'sgd' | 'adamw'; adamwSteps?: number };
  /** Runs with --model-ema: how many updates the average has taken since it last copied the weights. */
  ema?: { updates: number };
  partialEpoch: PartialEpoch;
  history: EpochMetrics[];
  bestTestAcc: number;
  /**
   * DP-SGD runs only: logical steps taken and the plan they were taken under, so a resumed run charges the
   * accountant for exactly these steps and refuses a plan that would make the old charge wrong.
   */
  dp?: { steps: number; noiseMultiplier: number; sampleRate: number; delta: number; epsilon: number };
  tensors: { name: string; dtype: TensorDtype; shape: number[]; offset: number; byteLength: number }[];
  blobSha256: string;
}

export interface Checkpoint {
  header: CheckpointHeader;
  tensors: Map<string, CheckpointTensor>;
}

export type CheckpointContent = Omit<CheckpointHeader, 'format' | 'version' | 'createdAt' | 'tensors' | 'blobSha256'>;

export function checkpointFileName(pos: Pick<TrainingPosition, 'epoch' | 'batchInEpoch'>): string {
  return `ckpt-e${String(pos.epoch).padStart(4, '0')}-b${String(pos.batchInEpoch).padStart(6, '0')}.nlck`;
}

function align4(n: number): number {
  return (n + 3) & ~3;
}

export function encodeCheckpoint(content: CheckpointContent, tensors: CheckpointTensor[]): Buffer {
  const entries: CheckpointHeader['tensors'] = [];
  let offset = 0;
  for (const t of tensors) {
    const expected = t.shape.reduce((a, b) => a * b, 1);
    if (t.values.length !== expected) {
      throw new CheckpointError(`tensor "${t.name}" has ${t.values.length} values but shape [${t.shape}]`);
    }
    entries.push({ name: t.name, dtype: t.dtype, shape: t.shape, offset, byteLength: t.values.byteLength });
    offset += t.values.byteLength;
  }
  const blob = Buffer.alloc(offset);
  for (let i = 0; i < tensors.length; i++) {
    const v = tensors[i].values;
    Buffer.from(v.buffer, v.byteOffset, v.byteLength).copy(blob, entries[i].offset);
  }
  const header: CheckpointHeader = {
    format: 'normlab-checkpoint',
    version: FORMAT_VERSION,
    createdAt: new Date().toISOString(),
    ...content,
    tensors: entries,
    blobSha256: createHash('sha256').update(blob).digest('hex'),
  };
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const prefix = Buffer.alloc(align4(12 + json.length));
  prefix.write(MAGIC, 0, 'latin1');
  prefix.writeUInt32LE(json.length, 8);
  json.copy(prefix, 12);
  return Buffer.concat([prefix, blob]);
}

export function decodeCheckpoint(buf: Buffer, path = '(buffer)'): Checkpoint {
  const fail = (why: string): never => {
    throw new CheckpointError(`checkpoint ${path} is unreadable: ${why}`);
  };
  if (buf.length < 12 || buf.toString('latin1', 0, 8) !== MAGIC) fail('not a NormLab checkpoint (bad magic bytes)');
  const headerLength = buf.readUInt32LE(8);
  if (12 + headerLength > buf.length) fail(`header says ${headerLength} bytes but the file has ${buf.length}`);
  let header: CheckpointHeader;
  try {
    header = JSON.parse(buf.toString('utf8', 12, 12 + headerLength)) as CheckpointHeader;
  } catch (err) {
    return fail(`header is not valid JSON (${(err as Error).message})`);
  }
  if (header.format !== 'normlab-checkpoint' || header.version !== FORMAT_VERSION) {
    fail(`unsupported format ${String(header.format)} v${String(header.version)}`);
  }
  const blob = buf.subarray(align4(12 + headerLength));
  const digest = createHash('sha256').update(blob).digest('hex');
  if (digest !== header.blobSha256) fail('tensor data does not match its checksum (truncated or corrupted file)');
  const tensors = new Map<string, CheckpointTensor>();
  for (const e of header.tensors) {
    if (e.offset + e.byteLength > blob.length) fail(`tensor "${e.name}" runs past the end of the file`);
    // Copy out so the typed array is 4-byte aligned whatever the Buffer's pool offset is.
    const bytes = new Uint8Array(blob.subarray(e.offset, e.offset + e.byteLength));
    const values = e.dtype === 'int32' ? new Int32Array(bytes.buffer) : new Float32Array(bytes.buffer);
    tensors.set(e.name, { name: e.name, dtype: e.dtype, shape: e.shape, values });
  }
  return { header, tensors };
}

/** Writes atomically: temp file in the same directory, fsync, rename, fsync the directory. Returns the path. */
export function writeCheckpoint(dir: string, content: CheckpointContent, tensors: CheckpointTensor[]): string {
  mkdirSync(dir, { recursive: true });
  const name = checkpointFileName(content.position);
  const finalPath = join(dir, name);
  const tmpPath = join(dir, `.${name}.${process.pid}.tmp`);
  const data = encodeCheckpoint(content, tensors);
  const fd = openSync(tmpPath, 'w');
  try {
    let written = 0;
    while (written < data.length) written += writeSync(fd, data, written, data.length - written);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  faultPoint('checkpoint', content.position.epoch);
  renameSync(tmpPath, finalPath);
  try {
    const dirFd = openSync(dir, 'r');
    try {
      fsyncSync(dirFd);
    } finally {
      closeSync(dirFd);
    }
  } catch {
    // Some file systems refuse fsync on a directory; the rename itself is still atomic there.
  }
  return finalPath;
}

export interface CheckpointFile {
  path: string;
  epoch: number;
  batchInEpoch: number;
}

/** Checkpoints in `dir`, newest training position first. Temp files and other names are ignored. */
export function listCheckpoints(dir: string): CheckpointFile[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const found: CheckpointFile[] = [];
  for (const name of names) {
    const m = NAME_RE.exec(name);
    if (m) found.push({ path: join(dir, name), epoch: Number(m[1]), batchInEpoch: Number(m[2]) });
  }
  return found.sort((a, b) => b.epoch - a.epoch || b.batchInEpoch - a.batchInEpoch);
}

export function readCheckpoint(path: string): Checkpoint {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (err) {
    throw new CheckpointError(`cannot read checkpoint ${path}: ${(err as Error).message}`);
  }
  return decodeCheckpoint(buf, path);
}

/** The newest checkpoint in `dir`, or null when there is none. A corrupt newest checkpoint is an error. */
export function loadLatestCheckpoint(dir: string): Checkpoint & { path: string } | null {
  const latest = listCheckpoints(dir)[0];
  if (!latest) return null;
  return { ...readCheckpoint(latest.path), path: latest.path };
}

/** Deletes all but the newest `keep` checkpoints (each can be hundreds of MB for a full-width ResNet). */
export function pruneCheckpoints(dir: string, keep: number): void {
  for (const old of listCheckpoints(dir).slice(keep)) rmSync(old.path, { force: true });
}
