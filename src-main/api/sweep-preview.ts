import { datasetEntry } from '../../src-worker/data/registry';
import type { RunSpec } from '../../src-worker/run-spec';
import type { ExperimentStore } from '../store/experiment-store';
import { machineSpeed, runSecondsFromBench, type ParamCounter } from './sweep-estimate';
import type { CheckedSweep } from './submit-checks';
import type { SweepPreview } from './types';
import { isGeneratedDataset } from '../../src-worker/run-field-meta';

/** Images per epoch for an estimate: the spec's or the registry's size, the published one where copies vary. */
function imagesPerEpoch(spec: RunSpec): number | null {
  const entry = datasetEntry(spec.dataset);
  if (isGeneratedDataset(spec.dataset)) return spec.syntheticTrainSize ?? entry.trainSize;
  return entry.trainSize ?? entry.publishedTrainSize;
}

/** Test images evaluated per epoch: the synthetic set's own, else a fifth of the training set (CIFAR's ratio). */
function testImagesPerEpoch(spec: RunSpec, train: number): number {
  return spec.dataset === 'synthetic' && spec.syntheticTestSize !== undefined ? spec.syntheticTestSize : Math.round(train / 5);
}

/** Trainable parameters of a model at a width (the registry's shapes, nothing allocated), cached per process. */
async function paramCounter(): Promise<ParamCounter> {
  // imported on first use: the registry pulls in tfjs, which the store-only paths of the service never need
  const { describeModel } = await import('../../src-worker/models');
  const cache = new Map<string, number>();
  return (model, width) => {
    const key = `${model}@${width}`;
    let n = cache.get(key);
    if (n === undefined) {
      n = describeModel(model, { numClasses: 100, lowResolution: true, widthMultiplier: width }).paramCount;
      cache.set(key, n);
    }
    return n;
  };
}

/**
 * Measured speed per model from finished runs, as cost units per second (images × parameters at the run's width):
 * a run at width 1/16 then says something about one at width 1, which plain images per second would not.
 */
function measuredSpeeds(store: ExperimentStore, params: ParamCounter): Map<string, { units: number; seconds: number; runs: number }> {
  const sums = new Map<string, { units: number; seconds: number; runs: number }>();
  for (const run of store.listRuns({ status: 'finished', limit: 500 })) {
    const size = imagesPerEpoch(run.spec);
    if (!size || !run.startedAt || !run.finishedAt || run.finishedAt <= run.startedAt) continue;
    let cost: number;
    try {
      cost = params(run.model, run.spec.width);
    } catch {
      continue; // a model the registry no longer has
    }
    const s = sums.get(run.model) ?? { units: 0, seconds: 0, runs: 0 };
    s.units += (size + testImagesPerEpoch(run.spec, size) / 3) * (run.epochsCompleted ?? run.epochs) * cost;
    s.seconds += (run.finishedAt - run.startedAt) / 1000;
    s.runs++;
    sums.set(run.model, s);
  }
  return sums;
}

/**
 * Run count and a time estimate of a checked sweep on `slots` parallel devices: from the measured speed of
 * finished runs of the same model where there are any, else from this machine's micro-benchmark scaled by the
 * run's cost (sweep-estimate.ts). Both figures are given when both exist, so the UI can set one beside the other.
 */
export async function previewOf(store: ExperimentStore, { spec, runs, groups }: CheckedSweep, slots: number): Promise<SweepPreview> {
  const families = runs.length;
  const maxRuns = spec.lrSearch ? families * (spec.lrSearch.maxSteps + spec.lrSearch.repeats - 1) : runs.length;
  const params = await paramCounter();
  const measured = measuredSpeeds(store, params);
  const speed = machineSpeed();
  const perRunFactor = spec.lrSearch ? maxRuns / Math.max(1, families) : 1;
  let measuredSec = 0;
  let benchSec = 0;
  let fromMeasured = 0;
  let fromBench = 0;
  let unknown = 0;
  for (const run of runs) {
    const size = imagesPerEpoch(run);
    if (!size) {
      unknown++;
      continue;
    }
    const test = testImagesPerEpoch(run, size);
    const bench = speed.state === 'ready' ? runSecondsFromBench(run, size, test, speed.speed, params) * perRunFactor : null;
    if (bench !== null) benchSec += bench;
    const m = measured.get(run.model);
    if (m) {
      measuredSec += ((size + test / 3) * run.epochs * params(run.model, run.width) * perRunFactor) / (m.units / m.seconds);
      fromMeasured++;
    } else if (bench !== null) {
      measuredSec += bench;
      fromBench++;
    } else unknown++;
  }
  const known = runs.length - unknown;
  const estimateSec = known === 0 ? null : (measuredSec * (runs.length / known)) / slots;
  const benchEstimateSec = speed.state === 'ready' && runs.length > unknown ? benchSec / slots : null;
  const parts: string[] = [];
  if (fromMeasured) parts.push(`measured speed of finished runs for ${fromMeasured} run${fromMeasured === 1 ? '' : 's'}`);
  if (fromBench && speed.state === 'ready') {
    parts.push(`the micro-benchmark (${speed.speed.backend}: ${speed.speed.imagesPerSec.toFixed(0)} img/s on ${speed.speed.model} at width ${speed.speed.width}) scaled by parameters for ${fromBench}`);
  }
  if (unknown && known) parts.push(`${unknown} without either assumed alike`);
  const where = `${slots} parallel slot${slots === 1 ? '' : 's'}${spec.lrSearch ? ', lr search at its longest' : ''}`;
  const estimateBasis =
    known > 0
      ? `${parts.join('; ')}; ${where}`
      : speed.state === 'measuring'
        ? 'measuring this machine’s speed (the doctor’s micro-benchmark, a few seconds)…'
        : speed.state === 'failed'
          ? `no finished runs of these models yet, and no micro-benchmark: ${speed.reason}`
          : 'no finished runs of these models yet, so no measured speed to estimate from';
  return {
    ok: true, runs: runs.length, groups, maxRuns, estimateSec, estimateBasis,
    benchEstimateSec, estimatePending: known === 0 && speed.state === 'measuring',
  };
}
