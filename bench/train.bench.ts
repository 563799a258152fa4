/**
 * End-to-end training throughput on the wasm backend: images/s of the training phase with the data
 * pipeline included (prefetching synthetic set, augmentation, forward, backward, SGD), the share of that
 * time spent waiting for the next batch, and the KernelNorm / BatchNorm ratio.
 *   node --import tsx bench/train.bench.ts [--steps 6] [--widths 1,0.25] [--models knresnet18,resnet18_bn]
 * Each configuration trains two epochs of `steps` batches of 32 and reports the second, so one-off costs
 * (XNNPACK operator creation, heap growth) stay out. Single-threaded wasm: only compare figures taken on an
 * otherwise idle core.
 * Besides the epoch's images/s (total training-phase time, i.e. the mean step), it prints the median of the
 * second epoch's per-step rates (progress events, one per batch): that is the statistic models.bench.ts
 * reports (median of STEPS after a warm-up), so the two benches compare like with like. Note models.bench.ts
 * uses 100 classes and a fixed random input; this bench uses the synthetic set's 10 classes.
 */
import { parseArgs } from 'node:util';
import { initBackend } from '../src-worker/backend';
import { openDataset } from '../src-worker/data';
import { createModel } from '../src-worker/models';
import { parseRunSpec } from '../src-worker/run-spec';
import { trainModel } from '../src-worker/train/loop';

const BATCH = 32;

interface Figure {
  model: string;
  width: number;
  imagesPerSec: number;
  /** Median of the second epoch's per-step images/s. */
  medianStepImagesPerSec: number;
  dataWait: number;
  numParams: number;
}

async function measure(model: string, width: number, steps: number): Promise<Figure> {
  const spec = parseRunSpec({
    model, dataset: 'synthetic', width, epochs: 2, batchSize: BATCH, lr: 0.01, backend: 'wasm',
    syntheticTrainSize: steps * BATCH, syntheticTestSize: BATCH, statsEvery: 0, checkpointEvery: 0, progressEvery: 1, schedule: { kind: 'constant' },
  });
  const dataset = await openDataset({ dataset: 'synthetic', normalize: model.startsWith('kn') ? false : true, syntheticTrainSize: spec.syntheticTrainSize, syntheticTestSize: spec.syntheticTestSize });
  const net = createModel(model, { numClasses: dataset.numClasses, lowResolution: true, widthMultiplier: width, seed: 0 });
  const stepRates: number[] = [];
  try {
    const outcome = await trainModel(spec, net, dataset, {
      emit: (e) => {
        if (e.event === 'progress' && e.epoch === 2) stepRates.push(e.imagesPerSec);
      },
      isCancelled: () => false,
      environment: { backend: 'wasm', device: 'cpu', skippedBackends: [] },
    });
    stepRates.sort((a, b) => a - b);
    const medianStepImagesPerSec = stepRates[Math.floor(stepRates.length / 2)] ?? NaN;
    return { model, width, imagesPerSec: outcome.history[1].images_per_s, medianStepImagesPerSec, dataWait: outcome.dataWaitByEpoch[1], numParams: net.countParams() };
  } finally {
    net.dispose();
    await dataset.close();
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { steps: { type: 'string', default: '6' }, widths: { type: 'string', default: '1,0.25' }, models: { type: 'string', default: 'knresnet18,resnet18_bn' } } });
  const steps = Number(values.steps);
  if (!Number.isInteger(steps) || steps < 1) throw new Error(`--steps must be a positive integer, got ${values.steps}`);
  const widths = values.widths.split(',').map(Number);
  const models = values.models.split(',');
  await initBackend('wasm');
  const figures: Figure[] = [];
  for (const width of widths) {
    for (const model of models) {
      const f = await measure(model, width, steps);
      figures.push(f);
      console.log(`${model.padEnd(12)} width ${String(width).padEnd(5)} ${f.imagesPerSec.toFixed(2).padStart(7)} img/s (median step ${f.medianStepImagesPerSec.toFixed(2)})  ` +
        `data wait ${(100 * f.dataWait).toFixed(2)}% of step time  (${f.numParams.toLocaleString('en')} params)`);
    }
    const kn = figures.find((f) => f.width === width && f.model.startsWith('kn'));
    const bn = figures.find((f) => f.width === width && f.model.endsWith('_bn'));
    if (kn && bn) console.log(`  width ${width}: ${kn.model}/${bn.model} throughput ratio ${(kn.imagesPerSec / bn.imagesPerSec).toFixed(2)}`);
  }
}

main().catch((err: unknown) => {
  console.error(`train.bench: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
