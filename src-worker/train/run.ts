import { existsSync } from 'node:fs';
import { initBackend, type BackendChoice } from '../backend';
import { DataError, DATASETS, openDataset, openSegmentationDataset, type Dataset, type SegmentationDataset } from '../data';
import { batchProblem, knownTrainSize } from '../data/train-size';
import { createModel, listModels, type NormLabModel } from '../models';
import type { FinalMetrics, WorkerEvent } from '../protocol';
import { parseRunSpec, RunSpecError, type RunSpec } from '../run-spec';
import { CheckpointError } from './checkpoint';
import { DpIncompatibleModelError } from './dp';
import { DpSetupError, refuseDpModel } from './dp-steps';
import { openDurableRun, type DurableRun } from './durable-run';
import type { JournalAck } from './journal';
import { trainModel, type TrainOutcome } from './loop';
import { PresetError, resolvePreset } from './presets';
import { trainSegmentation } from './segmentation/seg-loop';
import { OptimizerConfigError } from './recipe/optimizer';
import { isGeneratedDataset } from '../run-field-meta';
import { taskProblems } from './task-match';

/**
 * One run from an untrusted spec to a `done` event: validation, backend, data, model, training. Shared by the
 * worker process (src-worker/main.ts) and the in-process CLI commands, so both fail the same way.
 *
 * Exit codes: 0 the run ended in order (finished, diverged or cancelled), 1 it failed unexpectedly,
 * 2 the request was invalid (bad spec, unknown model, missing data, unusable checkpoint).
 */
export type RunExitCode = 0 | 1 | 2;

// Function properties, as in TrainHooks: executeRun hands them on detached.
export interface RunIO {
  emit: (event: WorkerEvent) => void;
  isCancelled: () => boolean;
  /** How a stop is reported (see TrainHooks.stopStatus). */
  stopStatus?: () => 'cancelled' | 'interrupted';
  /**
   * What the store already holds of this run's journal. Given (by a scheduler), the worker first replays the
   * journaled events the store lacks; absent (a one-off `normlab train`), nothing is replayed.
   */
  journalAck?: JournalAck;
}

export interface RunResult {
  exitCode: RunExitCode;
  status: 'finished' | 'diverged' | 'cancelled' | 'interrupted' | 'failed' | 'invalid';
  outcome?: TrainOutcome;
}

/** A request the worker cannot honour; reported as an `error` event with exit code 2. */
export class InvalidRunError extends Error {
  override name = 'InvalidRunError';
}

const NEEDS_DATA_DIR = new Set(['cifar10', 'cifar100', 'folder', 'imagenet32', 'cityscapes']);

/** Device label for the `started` event; CUDA_VISIBLE_DEVICES is passed through to tfjs-node-gpu untouched. */
export function deviceLabel(choice: BackendChoice, env: NodeJS.ProcessEnv = process.env): string {
  const visible = env.CUDA_VISIBLE_DEVICES?.trim();
  if (choice.package === '@tensorflow/tfjs-node-gpu' && visible && visible !== '-1') return `cuda:${visible}`;
  if (choice.backend === 'webgpu' && choice.adapter) {
    const a = choice.adapter;
    return `webgpu:${a.description || a.device || a.architecture}${a.software ? ' (software)' : ''}`;
  }
  return 'cpu';
}

function readSpec(input: unknown): RunSpec {
  try {
    const withPreset = input !== null && typeof input === 'object' && 'preset' in input ? resolvePreset(input as object) : input;
    return parseRunSpec(withPreset);
  } catch (err) {
    if (err instanceof RunSpecError || err instanceof PresetError) throw new InvalidRunError(err.message);
    throw err;
  }
}

/** Checks what a schema cannot: the model exists, the data is where the spec says. */
export function validateSpec(spec: RunSpec): void {
  if (!listModels().some((m) => m.name === spec.model)) {
    throw new InvalidRunError(`unknown model "${spec.model}"; valid models: ${listModels().map((m) => m.name).join(', ')}`);
  }
  if (NEEDS_DATA_DIR.has(spec.dataset)) {
    if (!spec.dataDir) {
      const hint = spec.dataset.startsWith('cifar') ? ` (or run \`normlab download ${spec.dataset}\` first)` : '';
      throw new InvalidRunError(`data set ${spec.dataset} needs a data directory: pass --data-dir DIR / dataDir${hint}`);
    }
    if (!existsSync(spec.dataDir)) throw new InvalidRunError(`data directory ${spec.dataDir} does not exist`);
  }
  if (spec.resume && !spec.checkpointDir) throw new InvalidRunError('resume needs checkpointDir (where the checkpoints are)');
  validateTask(spec);
  if (spec.dp) validateDp(spec);
  validateBatchFits(spec, knownTrainSize(spec));
}

const BATCH_FLAGS = { batchSize: '--batch-size / batchSize', 'dp.logicalBatch': '--logical-batch / dp.logicalBatch' } as const;

/**
 * A batch larger than the training set: checked from the spec where the size follows from it (synthetic, CIFAR),
 * before any data is read, and again once the data is open (folder, ImageNet32).
 */
function validateBatchFits(spec: RunSpec, trainSize: number | undefined): void {
  const problem = trainSize === undefined ? undefined : batchProblem(spec, trainSize);
  if (!problem) return;
  const more = isGeneratedDataset(spec.dataset) ? ' or raise --synthetic-train-size / syntheticTrainSize' : '';
  throw new InvalidRunError(`${problem.message}; lower ${BATCH_FLAGS[problem.field]}${more}`);
}

function isSegmentationModel(name: string): boolean {
  return listModels().find((m) => m.name === name)?.task === 'segmentation';
}

/** A model/data-set task mismatch (task-match.ts), refused by name before any data is read. */
function validateTask(spec: RunSpec): void {
  const [problem] = taskProblems({
    model: `model ${spec.model}`, data: `data set ${spec.dataset}`, dp: spec.dp !== undefined,
    modelTask: isSegmentationModel(spec.model) ? 'segmentation' : 'classification',
    dataTask: DATASETS[spec.dataset].task ?? 'classification',
  });
  if (problem !== undefined) throw new InvalidRunError(problem);
}

/** Refuses what a DP spec can be refused for before any data is read or model built. */
function validateDp(spec: RunSpec): void {
  const dp = spec.dp!;
  if (dp.targetEpsilon === undefined && dp.noiseMultiplier === undefined) {
    throw new InvalidRunError('dp: give targetEpsilon (the noise is calibrated to it) or noiseMultiplier');
  }
  try {
    refuseDpModel(spec.model);
  } catch (err) {
    if (err instanceof DpIncompatibleModelError) throw new InvalidRunError(err.message);
    throw err;
  }
}

/**
 * The reference feeds KernelNorm models raw [0, 1] CIFAR images (reproducibility/run-cifar100.sh passes
 * --norm-mean/--norm-std only to the other models), so that is the CIFAR default. Elsewhere inputs are
 * standardised for every model: on the synthetic set's flat backgrounds raw inputs give the stem's
 * KernelNorm near-zero window variances and gradients of ~1e3 on its bias (knresnet18 then stays at chance).
 */
export function normalizeInputs(spec: RunSpec): boolean {
  if (spec.normalizeInputs !== undefined) return spec.normalizeInputs;
  const kn = listModels().find((m) => m.name === spec.model)?.norm === 'kn';
  return !(kn && (spec.dataset === 'cifar10' || spec.dataset === 'cifar100'));
}

async function openData(spec: RunSpec, normalize: boolean): Promise<Dataset> {
  try {
    return await openDataset({
      dataset: spec.dataset, dataDir: spec.dataDir, normalize, imageSize: spec.imageSize,
      syntheticTrainSize: spec.syntheticTrainSize, syntheticTestSize: spec.syntheticTestSize,
      trainCropSize: spec.trainCropSize, valResizeSize: spec.valResizeSize, autoAugment: spec.autoAugment,
      randomErasing: spec.randomErasing, raReps: spec.raReps,
    });
  } catch (err) {
    if (err instanceof DataError) throw new InvalidRunError(err.message);
    throw err;
  }
}

async function openSegmentationData(spec: RunSpec, normalize: boolean): Promise<SegmentationDataset> {
  const pair = (v: number[]): [number, number] => [v[0] ?? 0, v[1] ?? 0];
  try {
    return await openSegmentationDataset({
      dataset: spec.dataset, dataDir: spec.dataDir, normalize, cropSize: pair(spec.cropSize), scaleRange: pair(spec.scaleRange),
    });
  } catch (err) {
    if (err instanceof DataError) throw new InvalidRunError(err.message);
    throw err;
  }
}

const NO_METRICS: FinalMetrics = { test_acc: 0, test_acc5: 0, test_loss: 0, train_loss: 0, train_acc: 0, best_test_acc: 0, epochs_completed: 0 };

export async function executeRun(input: unknown, io: RunIO): Promise<RunResult> {
  const runId = (input as { runId?: unknown } | null)?.runId;
  const base = typeof runId === 'number' ? { runId } : {};
  // once the run folder is known, every event goes through its journal first
  let send = io.emit;
  const emit = (e: WorkerEvent) => send({ ...base, ...e });
  let dataset: Dataset | SegmentationDataset | undefined;
  let model: NormLabModel | undefined;
  let durable: DurableRun | undefined;
  try {
    const spec = readSpec(input);
    validateSpec(spec);
    if (spec.checkpointDir) {
      durable = await openDurableRun(spec, spec.checkpointDir, io.emit, io.journalAck);
      send = durable.emit;
      if (durable.replayedOutcome) {
        return { exitCode: durable.replayedOutcome === 'failed' ? 1 : 0, status: durable.replayedOutcome };
      }
    }
    const choice = await initBackend(spec.backend);
    for (const warning of choice.warnings ?? []) emit({ event: 'log', level: 'warn', message: warning });
    const hooks = {
      emit: send,
      isCancelled: io.isCancelled,
      stopStatus: io.stopStatus,
      environment: {
        backend: choice.backend, device: deviceLabel(choice), cudaVisibleDevices: process.env.CUDA_VISIBLE_DEVICES, skippedBackends: choice.skipped,
        ...(choice.adapter ? { adapter: choice.adapter } : {}),
      },
    };
    const modelOptions = { knDropout: spec.knDropout, groups: spec.groups, widthMultiplier: spec.width, activation: spec.activation, seed: spec.seed };
    let outcome: TrainOutcome;
    if (isSegmentationModel(spec.model)) {
      const segData = await openSegmentationData(spec, normalizeInputs(spec));
      dataset = segData;
      validateBatchFits(spec, segData.trainSize);
      // the paper's stem (7×7/2 + max-pool, output stride 32) unless asked otherwise: Cityscapes is 2048×1024
      model = createModel(spec.model, { ...modelOptions, numClasses: segData.numClasses, lowResolution: spec.lowResolution ?? false });
      outcome = await trainSegmentation(spec, model, segData, hooks);
    } else {
      const data = await openData(spec, normalizeInputs(spec));
      dataset = data;
      // folder and ImageNet32 sets are only counted once opened
      validateBatchFits(spec, data.trainSize);
      model = createModel(spec.model, { ...modelOptions, numClasses: data.numClasses, lowResolution: spec.lowResolution ?? data.imageShape[0] <= 64 });
      outcome = await trainModel(spec, model, data, hooks);
    }
    emit({ event: 'done', status: outcome.status, metrics: outcome.metrics });
    return { exitCode: 0, status: outcome.status, outcome };
  } catch (err) {
    // a recipe that cannot be combined (AdamW or --accumulate with DP, SGD with its own norm decay) is a bad request
    const invalid = err instanceof InvalidRunError || err instanceof CheckpointError || err instanceof DpSetupError ||
      err instanceof DpIncompatibleModelError || err instanceof OptimizerConfigError;
    const message = err instanceof Error ? err.message : String(err);
    emit({ event: 'error', reason: message, ...(invalid || !(err instanceof Error) ? {} : { detail: err.stack }) });
    emit({ event: 'done', status: 'failed', metrics: NO_METRICS });
    return invalid ? { exitCode: 2, status: 'invalid' } : { exitCode: 1, status: 'failed' };
  } finally {
    model?.dispose();
    await dataset?.close();
    durable?.close();
  }
}
