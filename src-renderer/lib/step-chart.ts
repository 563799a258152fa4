import { STEP_METRIC_KEYS } from '../../src-worker/protocol';
import { emaSmooth, stepExtent } from './step-curves';

/** One line of a StepCurvesChart; kept in a .ts module so views that build series see the real type. */
export interface StepChartSeries {
  name: string;
  /** [step, value] pairs; value null leaves a gap. */
  points: [number, number | null][];
  /** Drawn thin and translucent under the smoothed line of the same data. */
  faint?: boolean;
  color?: string;
  /** Optional ±SD band under the line. */
  band?: { lower: [number, number | null][]; upper: [number, number | null][] };
}

export interface StepPointValue {
  step: number;
  value: number;
}

export interface RunStepCharts {
  loss: StepChartSeries[];
  lr: StepChartSeries[];
  /** Shared by both charts so their steps line up; null when the run has no step points. */
  extent: { min: number; max: number } | null;
  points: number;
}

const LOSS_COLOR = '#0f6fbf';
const LR_COLOR = '#2b8a3e';

function finiteOrNull(v: number): number | null {
  return Number.isFinite(v) ? v : null;
}

/** A run's step-level train loss (raw, faint, and smoothed with `alpha`) and lr, from its metrics by key. */
export function runStepCharts(metrics: Readonly<Record<string, readonly StepPointValue[]>>, alpha: number): RunStepCharts {
  const loss = [...(metrics[STEP_METRIC_KEYS.trainLoss] ?? [])].sort((a, b) => a.step - b.step);
  const lr = [...(metrics[STEP_METRIC_KEYS.lr] ?? [])].sort((a, b) => a.step - b.step);
  const raw = loss.map((p) => finiteOrNull(p.value));
  const smooth = emaSmooth(raw, alpha);
  return {
    loss: loss.length === 0 ? [] : [
      { name: 'train loss (raw)', points: loss.map((p, i) => [p.step, raw[i] ?? null]), faint: true, color: LOSS_COLOR },
      { name: `train loss (EMA α ${alpha.toFixed(2)})`, points: loss.map((p, i) => [p.step, smooth[i] ?? null]), color: LOSS_COLOR },
    ],
    lr: lr.length === 0 ? [] : [{ name: 'learning rate', points: lr.map((p) => [p.step, finiteOrNull(p.value)]), color: LR_COLOR }],
    extent: stepExtent([loss, lr]),
    points: loss.length,
  };
}
