import { datasetEntry } from '../../src-worker/data/registry';
import type { RunSpec } from '../../src-worker/run-spec';
import type { ExperimentStore } from '../store/experiment-store';
import type { CheckedSweep } from './submit-checks';
import type { SweepPreview } from './types';

/** Images per epoch for an estimate: the spec's or the registry's size, the published one where copies vary. */
function imagesPerEpoch(spec: RunSpec): number | null {
  const entry = datasetEntry(spec.dataset);
  if (spec.dataset === 'synthetic') return spec.syntheticTrainSize ?? entry.trainSize;
  return entry.trainSize ?? entry.publishedTrainSize;
}

/** Images per second per model from finished runs: a rough but honest basis for an estimate. */
function throughputByModel(store: ExperimentStore): Map<string, number> {
  const sums = new Map<string, { images: number; seconds: number }>();
  for (const run of store.listRuns({ status: 'finished', limit: 500 })) {
    const size = imagesPerEpoch(run.spec);
    if (!size || !run.startedAt || !run.finishedAt || run.finishedAt <= run.startedAt) continue;
    const s = sums.get(run.model) ?? { images: 0, seconds: 0 };
    s.images += size * (run.epochsCompleted ?? run.epochs);
    s.seconds += (run.finishedAt - run.startedAt) / 1000;
    sums.set(run.model, s);
  }
  return new Map([...sums].map(([model, s]) => [model, s.images / s.seconds]));
}

/** Run count and a time estimate of a checked sweep on `slots` parallel devices. */
export function previewOf(store: ExperimentStore, { spec, runs, groups }: CheckedSweep, slots: number): SweepPreview {
  const families = runs.length;
  const maxRuns = spec.lrSearch ? families * (spec.lrSearch.maxSteps + spec.lrSearch.repeats - 1) : runs.length;
  const speeds = throughputByModel(store);
  const perRunFactor = spec.lrSearch ? maxRuns / Math.max(1, families) : 1;
  let seconds = 0;
  let unknown = 0;
  for (const run of runs) {
    const size = imagesPerEpoch(run);
    const speed = speeds.get(run.model);
    if (!size || !speed) {
      unknown++;
      continue;
    }
    seconds += (size * run.epochs * perRunFactor) / speed;
  }
  const known = runs.length - unknown;
  const estimateSec = known === 0 ? null : (seconds * (runs.length / known)) / slots;
  const estimateBasis =
    known === 0
      ? 'no finished runs of these models yet, so no measured speed to estimate from'
      : `measured speed of finished runs${unknown ? ` (${unknown} runs without one are assumed alike)` : ''}, ${slots} parallel slot${slots === 1 ? '' : 's'}${spec.lrSearch ? ', lr search at its longest' : ''}`;
  return { ok: true, runs: runs.length, groups, maxRuns, estimateSec, estimateBasis };
}
