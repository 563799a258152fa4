/**
 * One DP-SGD step (per-sample gradients through the tap probes, clipping, one noise draw) against one
 * ordinary step (the mean loss's weight gradients) on the same batch and model:
 *   node --import tsx bench/dp.bench.ts [--model knresnet18] [--width 0.25] [--batch 32] [--backend wasm] [--reps 5]
 * Prints median milliseconds of each and their ratio. Single-threaded wasm: figures are only comparable
 * between runs on an otherwise idle core.
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend, type BackendName } from '../src-worker/backend';
import { createModel } from '../src-worker/models/index';
import { ClippedGradientSum, privatize } from '../src-worker/train/dp/dp-sgd';
import { crossEntropyFromLogits } from '../src-worker/train/loss';

function arg(name: string, fallback: string): string {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 && process.argv[at + 1] !== undefined ? process.argv[at + 1] : fallback;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

async function timeIt(run: () => tf.Tensor[], reps: number): Promise<number> {
  tf.dispose(run()); // warm-up: kernels, heap growth, the DP shape probe
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    const out = run();
    await Promise.all(out.map((t) => t.data())); // wait for the results, not only the dispatch
    times.push(performance.now() - t0);
    tf.dispose(out);
  }
  return median(times);
}

async function main(): Promise<void> {
  const modelName = arg('model', 'knresnet18');
  const width = Number(arg('width', '0.25'));
  const batch = Number(arg('batch', '32'));
  const reps = Number(arg('reps', '5'));
  const choice = await initBackend(arg('backend', 'wasm') as BackendName);
  const model = createModel(modelName, { numClasses: 10, lowResolution: true, widthMultiplier: width, activation: 'mish', knDropout: 0, seed: 1 });
  const x = tf.randomNormal<tf.Rank.R4>([batch, 32, 32, 3], 0, 1, 'float32', 1);
  const y = tf.tensor1d(Array.from({ length: batch }, (_, i) => i % 10), 'int32');
  const vars = model.trainableVariables();
  let step = 0;

  const plain = () => {
    const { value, grads } = tf.variableGrads(() => crossEntropyFromLogits(model.forwardWith(x, { training: true, step }), y), vars);
    return [value, ...Object.values(grads)];
  };
  const dp = () => {
    const acc = new ClippedGradientSum(model, 1);
    acc.add(x, y, step);
    const grads = privatize(acc.take(vars), { noiseMultiplier: 1, maxGradNorm: 1, expectedBatchSize: batch, seed: 0, step: step++ });
    return Object.values(grads);
  };

  const plainMs = await timeIt(plain, reps);
  const dpMs = await timeIt(dp, reps);
  console.log(`backend ${choice.backend}; ${modelName} width ${width}, ${model.countParams()} params, batch ${batch}, 32x32, median of ${reps}`);
  console.log(`  non-DP step (forward + weight gradients): ${plainMs.toFixed(0)} ms`);
  console.log(`  DP step (per-sample clipped sum + noise):  ${dpMs.toFixed(0)} ms`);
  console.log(`  ratio DP / non-DP: ${(dpMs / plainMs).toFixed(2)}x`);
  tf.dispose([x, y]);
  model.dispose();
}

await main();
