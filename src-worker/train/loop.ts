import * as tf from '@tensorflow/tfjs';
import type { EpochMetrics, FinalMetrics, WorkerEvent } from '../protocol';
import type { GpuAdapterReport } from '../webgpu-backend';
import type { RunSpec } from '../run-spec';
import { loadLatestCheckpoint, pruneCheckpoints, writeCheckpoint, type CheckpointHeader, type PartialEpoch, type TrainingPosition } from './checkpoint';
import { evaluate } from './evaluate';
import { learningRateAt } from './schedules';
import { dpEngine } from './dp-steps';
import type { NamedParameter } from './sgd';
import { sgdEngine, type StepEngine } from './steps';
import { EMPTY_STEP_WINDOW, savedStepWindow, StepLog, type StepWindow } from './step-log';
import { captureTensors, checkResumeCompatible, optimizerHeader, restoreTensors } from './train-state';
import { adjustedEmaDecay, WeightEma } from './recipe/ema';
import { createOptimizer, OptimizerConfigError, type RunOptimizer } from './recipe/optimizer';
import { faultPoint } from './fault-points';
import { throwIfGpuFailed } from './gpu-failures';
import { runConfigHash } from '../run-config';
import type { TrainableModel, TrainingDataset } from './types';

/** How many checkpoint files a run keeps: a full-width ResNet-50 checkpoint is ~200 MB. */
export const CHECKPOINTS_KEPT = 2;

// Function properties rather than methods: the hooks are handed on detached (isCancelled to evaluate), so an
// implementation must not depend on `this`.
export interface TrainHooks {
  emit: (event: WorkerEvent) => void;
  /** Polled before every batch (and evaluation batch); true stops the run there with a checkpoint. */
  isCancelled: () => boolean;
  /** How a stop is reported: `cancelled` (a user's decision, the default) or `interrupted` (to be resumed). */
  stopStatus?: () => 'cancelled' | 'interrupted';
  /** What the `started` event reports about where the run executes. */
  environment: {
    backend: string; device: string; cudaVisibleDevices?: string; skippedBackends: { backend: string; reason: string }[];
    adapter?: GpuAdapterReport;
  };
}

export interface TrainOutcome {
  status: 'finished' | 'diverged' | 'cancelled' | 'interrupted';
  metrics: FinalMetrics;
  history: EpochMetrics[];
  /** Share of training-phase wall time spent waiting for the next batch (this session). */
  dataWaitFraction: number;
  /** The same share for each epoch trained in this session, in order. */
  dataWaitByEpoch: number[];
  lastCheckpoint?: string;
}

interface LoopState {
  position: TrainingPosition;
  /** The step-curve window open at the resumed checkpoint. */
  resumedStepWindow: StepWindow;
  /** The resumed checkpoint's DP state, checked against the plan. */
  resumedDp?: CheckpointHeader['dp'];
  partial: PartialEpoch;
  history: EpochMetrics[];
  bestTestAcc: number;
}

function finalMetrics(state: LoopState): FinalMetrics {
  const last = state.history.at(-1);
  return {
    test_acc: last?.test_acc ?? 0,
    test_acc5: last?.test_acc5 ?? 0,
    test_loss: last?.test_loss ?? 0,
    train_loss: last?.train_loss ?? 0,
    train_acc: last?.train_acc ?? 0,
    best_test_acc: state.bestTestAcc,
    epochs_completed: state.history.length,
  };
}

export async function trainModel(spec: RunSpec, model: TrainableModel, dataset: TrainingDataset, hooks: TrainHooks): Promise<TrainOutcome> {
  const base = spec.runId !== undefined ? { runId: spec.runId } : {};
  const emit = (event: WorkerEvent) => hooks.emit({ ...base, ...event });
  const params = model.namedVariables().filter((v) => v.trainable).map(({ path, variable }) => ({ path, variable }));
  if (spec.dp && spec.accumulate !== 1) {
    throw new OptimizerConfigError(`DP-SGD sets its own logical batch (dp.logicalBatch); --accumulate ${spec.accumulate} cannot be combined with --dp`);
  }
  const optimizer = createOptimizer(spec, model, params);
  const ema = spec.modelEma ? modelEma(spec, model) : undefined;
  try {
    return await runEpochs(spec, model, dataset, hooks, emit, params, optimizer, ema);
  } finally {
    optimizer.dispose();
    ema?.dispose();
  }
}

/**
 * torchvision's ExponentialMovingAverage over every variable (use_buffers: BatchNorm statistics too), its decay
 * adjusted to the effective batch (batchSize × accumulate, what world_size × batch_size is on N GPUs).
 */
function modelEma(spec: RunSpec, model: TrainableModel): WeightEma {
  const decay = adjustedEmaDecay({ decay: spec.emaDecay, batchSize: spec.batchSize * spec.accumulate, everySteps: spec.emaSteps, epochs: spec.epochs });
  return new WeightEma(model.namedVariables().map(({ path, variable }) => ({ path, variable })), decay);
}

/** torchvision keeps the EMA a copy of the weights during the lr warm-up (n_averaged reset after each update). */
function emaCopies(spec: RunSpec, epoch: number): boolean {
  return spec.schedule.kind === 'warmup-cosine' && epoch < spec.schedule.warmupEpochs;
}

async function runEpochs(
  spec: RunSpec, model: TrainableModel, dataset: TrainingDataset, hooks: TrainHooks,
  emit: (e: WorkerEvent) => void, params: NamedParameter[], optimizer: RunOptimizer, ema: WeightEma | undefined,
): Promise<TrainOutcome> {
  const state: LoopState = {
    position: { epoch: 0, batchInEpoch: 0, globalStep: 0 },
    resumedStepWindow: { ...EMPTY_STEP_WINDOW },
    partial: { lossSum: 0, correct: 0, seen: 0 },
    history: [],
    bestTestAcc: 0,
  };
  if (spec.resume && spec.checkpointDir) {
    const ckpt = loadLatestCheckpoint(spec.checkpointDir);
    if (ckpt) {
      checkResumeCompatible(ckpt.header, spec, ckpt.path);
      restoreTensors(ckpt, model, optimizer, ema);
      state.position = { ...ckpt.header.position };
      const { lossSum, correct, seen } = ckpt.header.partialEpoch;
      state.partial = { lossSum, correct, seen };
      state.resumedStepWindow = savedStepWindow(ckpt.header.partialEpoch);
      // JSON has no NaN: a DP run's unmeasured train_acc comes back as null
      state.history = ckpt.header.history.map((m) => ({ ...m, train_acc: m.train_acc ?? NaN }));
      state.resumedDp = ckpt.header.dp;
      state.bestTestAcc = ckpt.header.bestTestAcc;
      emit({ event: 'log', level: 'info', message: `resumed from ${ckpt.path} (epoch ${state.position.epoch}, batch ${state.position.batchInEpoch})` });
    }
  }
  emit({ event: 'started', ...hooks.environment, resumedFromEpoch: state.position.epoch, numParams: model.countParams() });

  if (spec.dp && optimizer.kind !== 'sgd') throw new OptimizerConfigError('DP-SGD trains with SGD; --optimizer adamw cannot be combined with --dp');
  const engine: StepEngine = spec.dp && optimizer.kind === 'sgd'
    ? dpEngine(spec, model, dataset, optimizer.sgd, {
      startStep: state.position.globalStep,
      resumed: state.resumedDp,
      log: (level, message) => emit({ event: 'log', level, message }),
    })
    : sgdEngine(spec, model, dataset, params, optimizer);
  const stepsPerEpoch = engine.stepsPerEpoch;
  const totalSteps = stepsPerEpoch * spec.epochs;
  const sessionStartStep = state.position.globalStep;
  let lastCheckpoint: string | undefined;
  let sessionTrainMs = 0;
  let sessionWaitMs = 0;
  let lastEvalSec = 0;
  // the rate the latest step trained with: an epoch's lr metric and the checkpoint's schedule state
  let lastLr = spec.lr;
  const dataWaitByEpoch: number[] = [];
  const stepLog = new StepLog(spec.logEverySteps, totalSteps, state.resumedStepWindow);
  /** Sends the step points not yet sent; before any checkpoint, so a resume never skips one. */
  const emitStepPoints = (epoch: number): void => {
    const points = stepLog.take();
    if (points.length > 0) emit({ event: 'steps', epoch: epoch + 1, points });
  };

  const checkpoint = async (reason: CheckpointHeader['reason']): Promise<void> => {
    if (!spec.checkpointDir) return;
    const tensors = await captureTensors(model, optimizer, ema);
    // the open step window rides in partialEpoch, which older readers ignore
    const partialEpoch: PartialEpoch = { ...state.partial, stepWindow: stepLog.openWindow() };
    const path = writeCheckpoint(spec.checkpointDir, {
      reason,
      spec,
      configHash: runConfigHash(spec),
      position: state.position,
      rng: { seed: spec.seed, globalStep: state.position.globalStep },
      schedule: { kind: spec.schedule.kind, epoch: state.position.epoch, globalStep: state.position.globalStep, lastLr },
      ...optimizerHeader(optimizer, ema),
      partialEpoch,
      history: state.history,
      bestTestAcc: state.bestTestAcc,
      ...(engine.checkpointState ? { dp: engine.checkpointState() } : {}),
    }, tensors);
    pruneCheckpoints(spec.checkpointDir, CHECKPOINTS_KEPT);
    lastCheckpoint = path;
    emit({ event: 'checkpoint', epoch: state.position.epoch, path, reason });
  };
  const stop = async (): Promise<TrainOutcome> => {
    emitStepPoints(state.position.epoch);
    await checkpoint('cancel');
    return outcome(hooks.stopStatus?.() ?? 'cancelled');
  };
  const outcome = (status: TrainOutcome['status']): TrainOutcome => ({
    status,
    metrics: finalMetrics(state),
    history: state.history,
    dataWaitFraction: sessionTrainMs > 0 ? sessionWaitMs / sessionTrainMs : 0,
    dataWaitByEpoch,
    lastCheckpoint,
  });

  for (let epoch = state.position.epoch; epoch < spec.epochs; epoch++) {
    const epochStart = performance.now();
    let epochWaitMs = 0;
    let imagesThisSession = 0;
    let windowStart = performance.now();
    let windowImages = 0;
    const steps = engine.openEpoch(epoch, state.position.batchInEpoch);
    try {
      for (;;) {
        // Let pending I/O (a cancel message, a signal) run: prefetched batches and wasm reads resolve as
        // microtasks, which alone would starve the event loop for a whole epoch.
        await new Promise<void>((resolve) => setImmediate(resolve));
        if (hooks.isCancelled()) return await stop();
        const step = state.position.globalStep;
        const lr = learningRateAt(spec.schedule, spec.lr, { epoch, globalStep: step, totalEpochs: spec.epochs, stepsPerEpoch });
        const collectStats = spec.statsEvery > 0 && step % spec.statsEvery === 0;
        const result = await steps.next(lr, step, collectStats);
        throwIfGpuFailed(spec, `training step ${step + 1}`);
        // the epoch's lr is the last one a step trained with, not the one asked for past the epoch's end
        if (!result) break;
        lastLr = lr;
        epochWaitMs += result.waitMs;
        // a DP step that drew no example has no loss (NaN) and is not a divergence
        if (result.examples > 0 && !Number.isFinite(result.loss)) {
          emitStepPoints(epoch);
          emit({ event: 'log', level: 'warn', message: `training loss became ${result.loss} at epoch ${epoch + 1}, batch ${state.position.batchInEpoch + 1} (lr ${lr}); stopping as diverged` });
          return outcome('diverged');
        }
        if (result.examples > 0) state.partial.lossSum += result.loss * result.examples;
        state.partial.correct += result.correct ?? 0;
        state.partial.seen += result.examples;
        // torchvision updates the EMA after optimizer steps 0, k, 2k, … of each epoch
        if (ema && state.position.batchInEpoch % spec.emaSteps === 0) ema.update(emaCopies(spec, epoch));
        state.position.batchInEpoch += 1;
        state.position.globalStep += 1;
        stepLog.record(state.position.globalStep, result.loss, result.examples, lr);
        imagesThisSession += result.examples;
        windowImages += result.examples;
        if (collectStats) emit({ event: 'norm_stats', epoch: epoch + 1, step, layers: await model.takeNormStats() });
        if (state.position.batchInEpoch === 1) faultPoint('train', epoch + 1);
        if (state.position.batchInEpoch % spec.progressEvery === 0) {
          const now = performance.now();
          const imagesPerSec = windowImages / Math.max((now - windowStart) / 1000, 1e-9);
          const sessionSteps = state.position.globalStep - sessionStartStep;
          const secPerStep = (sessionTrainMs + (now - epochStart)) / 1000 / Math.max(sessionSteps, 1);
          const remainingEvals = spec.epochs - epoch;
          emit({
            event: 'progress', epoch: epoch + 1, batch: state.position.batchInEpoch, batchesPerEpoch: stepsPerEpoch,
            imagesPerSec, etaSec: (totalSteps - state.position.globalStep) * secPerStep + remainingEvals * lastEvalSec, loss: result.loss,
          });
          windowStart = now;
          windowImages = 0;
        }
      }
    } finally {
      await steps.close();
    }
    emitStepPoints(epoch);
    const trainMs = performance.now() - epochStart;
    sessionTrainMs += trainMs;
    sessionWaitMs += epochWaitMs;
    dataWaitByEpoch.push(trainMs > 0 ? epochWaitMs / trainMs : 0);

    const evalStart = performance.now();
    // a stop during evaluation keeps the trained epoch: the checkpoint sits after its last batch, and the resumed
    // run evaluates it again from there
    const test = await evaluate(model, dataset, spec.batchSize, spec.seed, {
      shouldStop: hooks.isCancelled,
      afterBatch: () => faultPoint('eval', epoch + 1),
    });
    throwIfGpuFailed(spec, `evaluation after epoch ${epoch + 1}`);
    if (!test) return stop();
    // the average's own accuracy (torchvision's "EMA" evaluation), an epoch metric next to test_acc
    const testEma = ema
      ? await ema.withAveragedWeights(() => evaluate(model, dataset, spec.batchSize, spec.seed, { shouldStop: hooks.isCancelled }))
      : undefined;
    throwIfGpuFailed(spec, `EMA evaluation after epoch ${epoch + 1}`);
    if (testEma === null) return stop();
    lastEvalSec = (performance.now() - evalStart) / 1000;
    const seen = Math.max(state.partial.seen, 1);
    const metrics: EpochMetrics & { test_acc_ema?: number } = {
      train_loss: state.partial.lossSum / seen,
      train_acc: engine.measuresTrainAccuracy ? state.partial.correct / seen : NaN,
      test_loss: test.loss,
      test_acc: test.acc,
      test_acc5: test.acc5,
      lr: lastLr,
      epoch_time_s: (performance.now() - epochStart) / 1000,
      images_per_s: imagesThisSession / Math.max(trainMs / 1000, 1e-9),
      num_tensors: tf.memory().numTensors,
      data_wait_frac: trainMs > 0 ? epochWaitMs / trainMs : 0,
      ...(engine.epsilon ? { epsilon: engine.epsilon() } : {}),
      ...(testEma ? { test_acc_ema: testEma.acc } : {}),
    };
    if (!Number.isFinite(test.loss)) {
      emit({ event: 'log', level: 'warn', message: `test loss became ${test.loss} after epoch ${epoch + 1}; stopping as diverged` });
      return outcome('diverged');
    }
    state.history.push(metrics);
    state.bestTestAcc = Math.max(state.bestTestAcc, metrics.test_acc);
    state.position = { epoch: epoch + 1, batchInEpoch: 0, globalStep: state.position.globalStep };
    state.partial = { lossSum: 0, correct: 0, seen: 0 };
    emit({ event: 'epoch', epoch: epoch + 1, metrics });
    const last = epoch + 1 === spec.epochs;
    if (!last && spec.checkpointEvery > 0 && (epoch + 1) % spec.checkpointEvery === 0) await checkpoint('periodic');
  }
  if (state.position.globalStep > sessionStartStep || !lastCheckpoint) await checkpoint('final');
  return outcome('finished');
}
