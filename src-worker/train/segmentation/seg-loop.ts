import * as tf from '@tensorflow/tfjs';
import type { SegmentationDataset } from '../../data/cityscapes/dataset';
import type { EpochMetrics, FinalMetrics, WorkerEvent } from '../../protocol';
import { runConfigHash } from '../../run-config';
import type { RunSpec } from '../../run-spec';
import { loadLatestCheckpoint, pruneCheckpoints, writeCheckpoint, type CheckpointHeader, type PartialEpoch, type TrainingPosition } from '../checkpoint';
import { faultPoint } from '../fault-points';
import { throwIfGpuFailed } from '../gpu-failures';
import { CHECKPOINTS_KEPT, type TrainHooks, type TrainOutcome } from '../loop';
import { learningRateAt } from '../schedules';
import { savedStepWindow, StepLog, type StepWindow } from '../step-log';
import { createOptimizer } from '../recipe/optimizer';
import { captureTensors, checkResumeCompatible, optimizerHeader, restoreTensors } from '../train-state';
import { evaluateSegmentation, type SegmentationEvalResult } from './seg-evaluate';
import type { SegmentationModel } from './seg-model';
import { openSegPreviews } from './previews';
import { openSegmentationEpoch, segmentationStepsPerEpoch } from './seg-steps';

/**
 * Epoch metrics of a segmentation run: the classification keys (test_acc is the pixel accuracy, so overviews
 * that rank by accuracy still say something; top-5 and training accuracy are not measured: NaN) plus
 * test_pixel_acc, test_miou and test_iou_<class> for every class that occurs in the labels or predictions.
 */
export type SegmentationEpochMetrics = EpochMetrics & Record<string, number>;

/** `traffic light` → `test_iou_traffic_light`: metric keys without spaces. */
export function iouMetricKey(className: string): string {
  return `test_iou_${className.replace(/[^A-Za-z0-9]+/g, '_')}`;
}

function segmentationMetrics(test: SegmentationEvalResult, classNames: readonly string[]): Record<string, number> {
  const out: Record<string, number> = { test_pixel_acc: test.pixelAccuracy, test_miou: test.miou };
  test.iou.forEach((iou, c) => {
    if (!Number.isNaN(iou)) out[iouMetricKey(classNames[c] ?? `class${c}`)] = iou;
  });
  return out;
}

interface SegmentationState {
  position: TrainingPosition;
  partial: PartialEpoch;
  history: SegmentationEpochMetrics[];
  bestTestAcc: number;
}

function finalMetrics(state: SegmentationState): FinalMetrics & { test_miou: number } {
  const last = state.history.at(-1);
  return {
    test_acc: last?.test_acc ?? 0, test_acc5: Number.NaN, test_loss: last?.test_loss ?? 0, train_loss: last?.train_loss ?? 0,
    train_acc: Number.NaN, best_test_acc: state.bestTestAcc, epochs_completed: state.history.length, test_miou: last?.test_miou ?? 0,
  };
}

/** JSON has no NaN: the unmeasured keys come back from a checkpoint as null. */
function revive(history: EpochMetrics[]): SegmentationEpochMetrics[] {
  return history.map((m) => ({ ...m, train_acc: m.train_acc ?? Number.NaN, test_acc5: m.test_acc5 ?? Number.NaN }));
}

/**
 * The segmentation trainer: the run's optimizer (SGD in the paper) on per-pixel cross-entropy (ignore 255) with the run's schedule evaluated every
 * step (the paper's poly decay is per iteration), a whole-val-set confusion matrix after each epoch, and the same
 * events, checkpoints and exact resume as the classification loop (loop.ts), whose checkpoint format it shares.
 */
export async function trainSegmentation(
  spec: RunSpec, model: SegmentationModel, dataset: SegmentationDataset, hooks: TrainHooks,
): Promise<TrainOutcome> {
  const accumulate = spec.accumulate;
  const base = spec.runId !== undefined ? { runId: spec.runId } : {};
  const emit = (event: WorkerEvent) => hooks.emit({ ...base, ...event });
  const params = model.namedVariables().filter((v) => v.trainable).map(({ path, variable }) => ({ path, variable }));
  const optimizer = createOptimizer(spec, model, params);
  const state: SegmentationState = {
    position: { epoch: 0, batchInEpoch: 0, globalStep: 0 }, partial: { lossSum: 0, correct: 0, seen: 0 }, history: [], bestTestAcc: 0,
  };
  let resumedStepWindow: StepWindow | undefined;
  try {
    if (spec.resume && spec.checkpointDir) {
      const ckpt = loadLatestCheckpoint(spec.checkpointDir);
      if (ckpt) {
        checkResumeCompatible(ckpt.header, spec, ckpt.path);
        restoreTensors(ckpt, model, optimizer);
        state.position = { ...ckpt.header.position };
        const { lossSum, correct, seen } = ckpt.header.partialEpoch;
        state.partial = { lossSum, correct, seen };
        resumedStepWindow = savedStepWindow(ckpt.header.partialEpoch);
        state.history = revive(ckpt.header.history);
        state.bestTestAcc = ckpt.header.bestTestAcc;
        emit({ event: 'log', level: 'info', message: `resumed from ${ckpt.path} (epoch ${state.position.epoch}, batch ${state.position.batchInEpoch})` });
      }
    }
    emit({ event: 'started', ...hooks.environment, resumedFromEpoch: state.position.epoch, numParams: model.countParams() });
    const previews = await openSegPreviews(spec, dataset.name, emit);

    const stepOptions = { batchSize: spec.batchSize, accumulate, seed: spec.seed, augment: spec.augment ?? true };
    const stepsPerEpoch = segmentationStepsPerEpoch(dataset.trainSize, stepOptions);
    const totalSteps = stepsPerEpoch * spec.epochs;
    const sessionStartStep = state.position.globalStep;
    let lastCheckpoint: string | undefined;
    let lastLr = spec.lr;
    const stepLog = new StepLog(spec.logEverySteps, totalSteps, resumedStepWindow);
    // before any checkpoint, so a resume never skips a point
    const emitStepPoints = (epoch: number): void => {
      const points = stepLog.take();
      if (points.length > 0) emit({ event: 'steps', epoch: epoch + 1, points });
    };
    let sessionTrainMs = 0;
    let sessionWaitMs = 0;
    const dataWaitByEpoch: number[] = [];

    const checkpoint = async (reason: CheckpointHeader['reason']): Promise<void> => {
      if (!spec.checkpointDir) return;
      // the open step window rides in partialEpoch (loop.ts does the same)
      const partialEpoch: PartialEpoch = { ...state.partial, stepWindow: stepLog.openWindow() };
      const path = writeCheckpoint(spec.checkpointDir, {
        reason, spec, configHash: runConfigHash(spec), position: state.position,
        rng: { seed: spec.seed, globalStep: state.position.globalStep },
        schedule: { kind: spec.schedule.kind, epoch: state.position.epoch, globalStep: state.position.globalStep, lastLr },
        ...optimizerHeader(optimizer), partialEpoch, history: state.history, bestTestAcc: state.bestTestAcc,
      }, await captureTensors(model, optimizer));
      pruneCheckpoints(spec.checkpointDir, CHECKPOINTS_KEPT);
      lastCheckpoint = path;
      emit({ event: 'checkpoint', epoch: state.position.epoch, path, reason });
    };
    const outcome = (status: TrainOutcome['status']): TrainOutcome => ({
      status, metrics: finalMetrics(state), history: state.history,
      dataWaitFraction: sessionTrainMs > 0 ? sessionWaitMs / sessionTrainMs : 0, dataWaitByEpoch, lastCheckpoint,
    });
    const stop = async (): Promise<TrainOutcome> => {
      emitStepPoints(state.position.epoch);
      await checkpoint('cancel');
      return outcome(hooks.stopStatus?.() ?? 'cancelled');
    };

    for (let epoch = state.position.epoch; epoch < spec.epochs; epoch++) {
      const epochStart = performance.now();
      let epochWaitMs = 0;
      let imagesThisSession = 0;
      let windowStart = performance.now();
      let windowImages = 0;
      const steps = openSegmentationEpoch(model, dataset, params, optimizer, stepOptions, epoch, state.position.batchInEpoch);
      try {
        for (;;) {
          // let a cancel message or a signal in: resolved reads alone would starve the event loop for an epoch
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
          if (!Number.isFinite(result.loss)) {
            emitStepPoints(epoch);
            emit({ event: 'log', level: 'warn', message: `training loss became ${result.loss} at epoch ${epoch + 1}, step ${state.position.batchInEpoch + 1} (lr ${lr}); stopping as diverged` });
            return outcome('diverged');
          }
          state.partial.lossSum += result.loss * result.images;
          state.partial.seen += result.images;
          state.position.batchInEpoch += 1;
          state.position.globalStep += 1;
          stepLog.record(state.position.globalStep, result.loss, result.images, lr);
          imagesThisSession += result.images;
          windowImages += result.images;
          if (collectStats) emit({ event: 'norm_stats', epoch: epoch + 1, step, layers: await model.takeNormStats() });
          if (state.position.batchInEpoch === 1) faultPoint('train', epoch + 1);
          if (state.position.batchInEpoch % spec.progressEvery === 0) {
            const now = performance.now();
            const sessionSteps = state.position.globalStep - sessionStartStep;
            const secPerStep = (sessionTrainMs + (now - epochStart)) / 1000 / Math.max(sessionSteps, 1);
            emit({
              event: 'progress', epoch: epoch + 1, batch: state.position.batchInEpoch, batchesPerEpoch: stepsPerEpoch,
              imagesPerSec: windowImages / Math.max((now - windowStart) / 1000, 1e-9), etaSec: (totalSteps - state.position.globalStep) * secPerStep, loss: result.loss,
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

      // a stop during evaluation keeps the trained epoch: the checkpoint sits after its last step
      const test = await evaluateSegmentation(model, dataset, spec.batchSize, spec.seed, {
        shouldStop: hooks.isCancelled, afterBatch: () => faultPoint('eval', epoch + 1), keep: previews.keep,
      });
      throwIfGpuFailed(spec, `evaluation after epoch ${epoch + 1}`);
      if (!test) return await stop();
      if (!Number.isFinite(test.loss)) {
        emit({ event: 'log', level: 'warn', message: `test loss became ${test.loss} after epoch ${epoch + 1}; stopping as diverged` });
        return outcome('diverged');
      }
      const metrics: SegmentationEpochMetrics = {
        train_loss: state.partial.lossSum / Math.max(state.partial.seen, 1),
        train_acc: Number.NaN,
        test_loss: test.loss,
        test_acc: test.pixelAccuracy,
        test_acc5: Number.NaN,
        lr: lastLr,
        epoch_time_s: (performance.now() - epochStart) / 1000,
        images_per_s: imagesThisSession / Math.max(trainMs / 1000, 1e-9),
        num_tensors: tf.memory().numTensors,
        data_wait_frac: trainMs > 0 ? epochWaitMs / trainMs : 0,
        ...segmentationMetrics(test, dataset.classNames),
      };
      // before the epoch event: a page that refreshes on it finds this epoch's masks
      await previews.afterEvaluation(epoch + 1, test.kept);
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
  } finally {
    optimizer.dispose();
  }
}
