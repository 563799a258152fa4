import { closeSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { MachineSpeed } from '../doctor/speed';
import type { RunSpec } from '../../src-worker/run-spec';

/**
 * The estimate of a sweep whose models have no finished run here yet: the doctor's micro-benchmark (one
 * knresnet18 step on the backend `auto` picks) scaled by each run's cost relative to the benchmarked step —
 * trainable parameters at the run's width, times pixels per image. A rough model (parameters are not FLOPs, and
 * small batches run slower per image than the benchmark's), which is why the builder sets measured speed beside it
 * once runs finish.
 *
 * The measurement takes seconds, so it is made once per machine in the background and kept in a file
 * (`NORMLAB_SPEED_FILE`, else one in the temp folder) for a week; a preview asked while it runs says so.
 */

const MAX_AGE_MS = 7 * 24 * 3600 * 1000;

export type SpeedState =
  | { state: 'ready'; speed: MachineSpeed }
  | { state: 'measuring' }
  | { state: 'failed'; reason: string };

export function speedFile(): string {
  return process.env.NORMLAB_SPEED_FILE ?? join(tmpdir(), `normlab-speed-${hostname()}.json`);
}

function readSpeedFile(file: string): MachineSpeed | null {
  try {
    const speed = JSON.parse(readFileSync(file, 'utf8')) as MachineSpeed;
    const age = Date.now() - Date.parse(speed.measuredAt);
    return Number.isFinite(speed.imagesPerSec) && speed.imagesPerSec > 0 && age >= 0 && age < MAX_AGE_MS ? speed : null;
  } catch {
    return null; // none yet, or unreadable: measure again
  }
}

/** A lock older than this is a measurement whose process died; another may take over. */
const STALE_LOCK_MS = 3 * 60 * 1000;

/** One process on the machine measures at a time (several test files or servers may ask at once). */
function takeLock(lock: string): boolean {
  try {
    closeSync(openSync(lock, 'wx'));
    return true;
  } catch {
    try {
      if (Date.now() - statSync(lock).mtimeMs < STALE_LOCK_MS) return false;
      rmSync(lock, { force: true });
      closeSync(openSync(lock, 'wx'));
      return true;
    } catch {
      return false;
    }
  }
}

let measuring: Promise<void> | null = null;
let failure: string | null = null;

/** What the estimate can use now; starts the measurement (once per process) when there is none. */
export function machineSpeed(): SpeedState {
  const file = speedFile();
  const saved = readSpeedFile(file);
  if (saved) return { state: 'ready', speed: saved };
  if (failure !== null) return { state: 'failed', reason: failure };
  if (measuring) return { state: 'measuring' };
  mkdirSync(dirname(file), { recursive: true });
  const lock = `${file}.lock`;
  // another process is measuring: its file will be there on a later ask
  if (!takeLock(lock)) return { state: 'measuring' };
  measuring = import('../doctor/speed')
    .then(({ measureMachineSpeed }) => measureMachineSpeed())
    .then((speed) => {
      // written whole and renamed, so a reader never sees half a file
      writeFileSync(`${file}.${process.pid}`, JSON.stringify(speed, null, 2));
      renameSync(`${file}.${process.pid}`, file);
    })
    .catch((error: unknown) => {
      failure = error instanceof Error ? error.message : String(error);
    })
    .finally(() => {
      rmSync(lock, { force: true });
      measuring = null;
    });
  return { state: 'measuring' };
}

/** Side of the images a run trains on: what sets its pixels per image. */
function imageSide(spec: RunSpec): number {
  if (spec.dataset === 'folder') return spec.trainCropSize ?? spec.imageSize ?? 224;
  if (spec.dataset === 'cityscapes') return Math.sqrt(spec.cropSize[0] * spec.cropSize[1]);
  return 32;
}

export type ParamCounter = (model: string, width: number) => number;

/** Seconds one run takes at `speed`: training epochs, evaluation (a forward pass: about a third of a step), start-up. */
export function runSecondsFromBench(
  spec: RunSpec,
  trainImages: number,
  testImages: number,
  speed: MachineSpeed,
  params: ParamCounter,
): number {
  const cost = (params(spec.model, spec.width) / params(speed.model, speed.width)) * (imageSide(spec) / 32) ** 2;
  const perImage = cost / speed.imagesPerSec;
  return spec.epochs * (trainImages + testImages / 3) * perImage + speed.warmupMs / 1000;
}
