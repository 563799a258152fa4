import type { StepPoint } from '../protocol';
import { CheckpointError } from './checkpoint';

/** The losses trained since the last step point: what a checkpoint keeps so a resumed run's next point is exact. */
export interface StepWindow {
  lossSum: number;
  examples: number;
}

export const EMPTY_STEP_WINDOW: Readonly<StepWindow> = { lossSum: 0, examples: 0 };

/**
 * Step-level curves: a point every `every` optimizer steps, at global steps every, 2·every, … (1-based), and at the
 * run's last step. Points sit at the same steps for every seed of a config, so curves average over seeds point by
 * point. A point's loss is the example-weighted mean over the steps since the previous point, not one batch's.
 */
export class StepLog {
  private window: StepWindow;
  private pending: StepPoint[] = [];

  constructor(
    private readonly every: number,
    private readonly totalSteps: number,
    resumed: StepWindow = EMPTY_STEP_WINDOW,
  ) {
    if (!Number.isInteger(every) || every < 0) throw new Error(`StepLog: every must be an integer ≥ 0, got ${every}`);
    this.window = { ...resumed };
  }

  /**
   * After global step `step` (1-based) trained at `lr`: `loss` is the mean over its `examples` (NaN when it drew
   * none, which DP-SGD's Poisson sampling allows).
   */
  record(step: number, loss: number, examples: number, lr: number): void {
    if (this.every === 0) return;
    if (examples > 0) {
      this.window.lossSum += loss * examples;
      this.window.examples += examples;
    }
    if (step % this.every !== 0 && step !== this.totalSteps) return;
    const point: StepPoint = { step, lr };
    if (this.window.examples > 0) point.train_loss = this.window.lossSum / this.window.examples;
    this.pending.push(point);
    this.window = { ...EMPTY_STEP_WINDOW };
  }

  /** The points recorded since the last call, handed over once. */
  take(): StepPoint[] {
    const points = this.pending;
    this.pending = [];
    return points;
  }

  /** The open window, for a checkpoint: a copy, so later steps do not change what was saved. */
  openWindow(): StepWindow {
    return { ...this.window };
  }
}

/**
 * The open window a checkpoint saved, or an empty one for checkpoints written before step curves existed (their
 * first resumed point then averages only the steps trained after the resume).
 */
export function savedStepWindow(partialEpoch: object): StepWindow {
  if (!('stepWindow' in partialEpoch)) return { ...EMPTY_STEP_WINDOW };
  const saved = partialEpoch.stepWindow;
  if (typeof saved !== 'object' || saved === null || !('lossSum' in saved) || !('examples' in saved)) {
    throw new CheckpointError(`checkpoint: partialEpoch.stepWindow must be {lossSum, examples}, got ${JSON.stringify(saved)}`);
  }
  const { lossSum, examples } = saved;
  if (typeof lossSum !== 'number' || typeof examples !== 'number' || !Number.isFinite(lossSum) || examples < 0) {
    throw new CheckpointError(`checkpoint: partialEpoch.stepWindow holds non-numbers or a negative count: ${JSON.stringify(saved)}`);
  }
  return { lossSum, examples };
}
