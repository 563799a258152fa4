/**
 * Training throughput of the models themselves (no data pipeline): knresnet18 vs resnet18_bn on CIFAR-size
 * inputs, batch 32, one SGD step = forward + backward + update, in one process on one backend.
 * BENCH_BACKEND=wasm|cpu (default wasm); WIDTHS=1,0.25; STEPS=3.
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend, type BackendName } from '../src-worker/backend';
import { createModel } from '../src-worker/models';
import { crossEntropyFromLogits } from '../src-worker/train/loss';
import { Sgd } from '../src-worker/train/sgd';

const backend = (process.env.BENCH_BACKEND ?? 'wasm') as BackendName;
const widths = (process.env.WIDTHS ?? '1,0.25').split(',').map(Number);
const steps = Number(process.env.STEPS ?? 3);
const batch = 32;

async function imagesPerSecond(name: string, width: number): Promise<number> {
  const model = createModel(name, { numClasses: 100, lowResolution: true, widthMultiplier: width, seed: 1 });
  const params = model.namedVariables().filter((v) => v.trainable).map(({ path, variable }) => ({ path, variable }));
  const sgd = new Sgd(params, { momentum: 0.9, weightDecay: 5e-4 });
  const x = tf.randomUniform([batch, 32, 32, 3]) as tf.Tensor4D;
  const y = tf.tensor1d(Array.from({ length: batch }, (_, i) => i % 100), 'int32');
  const trainable = model.trainableVariables();
  const step = () => {
    const { grads, value } = tf.variableGrads(() => crossEntropyFromLogits(model.forward(x, true), y), trainable);
    sgd.step(grads, 0.05);
    value.dataSync();
    tf.dispose([value, ...Object.values(grads)]);
  };
  step(); // warm-up: kernel compilation, allocations
  const times: number[] = [];
  for (let i = 0; i < steps; i++) {
    const t0 = performance.now();
    step();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  const median = times[Math.floor(times.length / 2)]!;
  tf.dispose([x, y]);
  sgd.dispose();
  model.dispose();
  return (batch * 1000) / median;
}

async function main(): Promise<void> {
  const choice = await initBackend(backend);
  console.log(`backend ${choice.backend}; batch ${batch}, 32×32×3, 100 classes, median of ${steps} steps after a warm-up`);
  for (const width of widths) {
    const kn = await imagesPerSecond('knresnet18', width);
    const bn = await imagesPerSecond('resnet18_bn', width);
    console.log(`  width ${width}: knresnet18 ${kn.toFixed(2)} img/s, resnet18_bn ${bn.toFixed(2)} img/s, ratio KN/BN ${(kn / bn).toFixed(3)}` +
      (width === 1 ? '   targets: KN >= 3.4 img/s, ratio >= 0.55' : ''));
  }
}

await main();
