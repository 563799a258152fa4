/**
 * Training throughput of the models themselves (no data pipeline): knresnet18 vs resnet18_bn on CIFAR-size
 * inputs, batch 32, one SGD step = forward + backward + update, in one process on one backend.
 * BENCH_BACKEND=wasm|cpu|webgpu (default wasm); WIDTHS=1,0.25; STEPS=3.
 */
import { initBackend, type BackendName } from '../src-worker/backend';
import { trainingImagesPerSecond } from './step-timing';

const backend = (process.env.BENCH_BACKEND ?? 'wasm') as BackendName;
const widths = (process.env.WIDTHS ?? '1,0.25').split(',').map(Number);
const steps = Number(process.env.STEPS ?? 3);
const batch = 32;

async function main(): Promise<void> {
  const choice = await initBackend(backend);
  console.log(`backend ${choice.backend}; batch ${batch}, 32×32×3, 100 classes, median of ${steps} steps after a warm-up`);
  for (const width of widths) {
    const kn = await trainingImagesPerSecond('knresnet18', { width, batch, steps });
    const bn = await trainingImagesPerSecond('resnet18_bn', { width, batch, steps });
    console.log(`  width ${width}: knresnet18 ${kn.toFixed(2)} img/s, resnet18_bn ${bn.toFixed(2)} img/s, ratio KN/BN ${(kn / bn).toFixed(3)}` +
      (width === 1 ? '   targets: KN >= 3.4 img/s, ratio >= 0.55' : ''));
  }
}

await main();
