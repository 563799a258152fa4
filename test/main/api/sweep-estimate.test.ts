import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkSweep } from '../../../src-main/api/submit-checks';
import { previewOf } from '../../../src-main/api/sweep-preview';
import { runSecondsFromBench } from '../../../src-main/api/sweep-estimate';
import { measureMachineSpeed, type MachineSpeed } from '../../../src-main/doctor/speed';
import { ExperimentStore } from '../../../src-main/store';
import { describeModel } from '../../../src-worker/models';
import { finalMetrics, spec, tempDir } from '../store/helpers';

const tmp = tempDir('estimate');
const speedFile = join(tmp.dir, 'speed.json');
/** A measurement as measureMachineSpeed writes it (the last test makes a real one). */
const speed: MachineSpeed = {
  backend: 'wasm', imagesPerSec: 40, model: 'knresnet18', width: 0.25, batch: 32, numClasses: 100, warmupMs: 2000, measuredAt: new Date().toISOString(),
};
const params = (model: string, width: number) => describeModel(model, { numClasses: 100, lowResolution: true, widthMultiplier: width }).paramCount;
const sweep = (name: string, base: Record<string, unknown>, grid: Record<string, unknown[]> = {}) =>
  ({ name, base: { dataset: 'synthetic', epochs: 2, batchSize: 16, lr: 0.05, syntheticTrainSize: 64, syntheticTestSize: 32, ...base }, grid, repeats: 2 });

beforeAll(() => {
  process.env.NORMLAB_SPEED_FILE = speedFile;
  writeFileSync(speedFile, JSON.stringify(speed));
});
afterAll(() => {
  delete process.env.NORMLAB_SPEED_FILE;
  tmp.cleanup();
});

describe('sweep estimate from the micro-benchmark', () => {
  it('scales the benchmarked step by each run\'s parameters at its width when no run of the model has finished', async () => {
    const store = ExperimentStore.open(join(tmp.dir, 'empty.db'));
    const checked = await checkSweep(sweep('est', { model: 'knresnet18' }, { width: [0.25, 0.5] }));
    const preview = await previewOf(store, checked, 2);
    store.close();
    if (!preview.ok) throw new Error(preview.problems.join('\n'));
    // by hand: (2 epochs × (64 + 32/3) images) × params ratio / 40 img/s + 2 s start-up, per run; 2 seeds per width; 2 slots
    const perRun = (width: number) => (2 * (64 + 32 / 3) * (params('knresnet18', width) / params('knresnet18', 0.25))) / 40 + 2;
    expect(preview.estimateSec).toBeCloseTo((2 * perRun(0.25) + 2 * perRun(0.5)) / 2, 6);
    // width 0.5 has about four times the parameters of width 0.25, so it takes about four times as long
    expect(perRun(0.5) - 2).toBeGreaterThan(3.5 * (perRun(0.25) - 2));
    expect(preview.estimateBasis).toMatch(/^the micro-benchmark \(wasm: 40 img\/s on knresnet18 at width 0.25\) scaled by parameters for 4; 2 parallel slots$/);
    expect(preview.benchEstimateSec).toBeCloseTo(preview.estimateSec ?? NaN, 6);
    expect(preview.estimatePending).toBe(false);
  });

  it('uses measured speed once a run of the model has finished, and keeps the benchmark figure beside it', async () => {
    const store = ExperimentStore.open(join(tmp.dir, 'measured.db'));
    const { sweep: s } = store.upsertSweep({ name: 'done', spec: {} });
    const [id] = store.addRuns(s.id, [spec({ model: 'kn_cnn', epochs: 2, batchSize: 16, syntheticTrainSize: 64, syntheticTestSize: 32 })]).runs.map((r) => r.id);
    store.markRunning(id, 'cpu:0');
    await new Promise((r) => setTimeout(r, 60));
    store.apply(id, { event: 'done', status: 'finished', metrics: finalMetrics({ epochs_completed: 2 }) });
    const run = store.getRun(id);
    const seconds = ((run?.finishedAt ?? 0) - (run?.startedAt ?? 0)) / 1000;
    const preview = await previewOf(store, await checkSweep(sweep('again', { model: 'kn_cnn' })), 1);
    store.close();
    if (!preview.ok) throw new Error(preview.problems.join('\n'));
    // the same configuration as the finished run: two seeds take twice its time
    expect(preview.estimateSec).toBeCloseTo(2 * seconds, 6);
    expect(preview.estimateBasis).toMatch(/^measured speed of finished runs for 2 runs; 1 parallel slot$/);
    const bench = runSecondsFromBench(checkedRun(), 64, 32, speed, params);
    expect(preview.benchEstimateSec).toBeCloseTo(2 * bench, 6);
  });

  it('measures this machine for real: the doctor\'s probes, then one knresnet18 step on the backend auto picks', async () => {
    const measured = await measureMachineSpeed({ budgetMs: 1500 });
    expect(measured.imagesPerSec).toBeGreaterThan(0);
    expect([measured.model, measured.width, measured.batch]).toEqual(['knresnet18', 0.25, 32]);
    expect(measured.backend).toMatch(/^(wasm|tensorflow|webgpu)/);
  }, 240_000);
});

function checkedRun() {
  return spec({ model: 'kn_cnn', epochs: 2, batchSize: 16, lr: 0.05, syntheticTrainSize: 64, syntheticTestSize: 32 });
}
