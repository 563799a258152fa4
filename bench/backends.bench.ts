/**
 * Every usable backend in one process, side by side: KNConv and conv forward + backward at one shape, and
 * knresnet18 vs resnet18_bn training throughput at batch 32 and 128. A software WebGPU adapter (SwiftShader,
 * lavapipe) is measured too but marked: its figures say it works, not how fast a GPU is.
 *
 *   BACKENDS=webgpu,wasm WIDTH=1 BATCHES=32,128 STEPS=3 npm run bench -- backends
 * Defaults: every backend `initBackend` can start here except cpu (minutes per step at width 1), WIDTH 1.
 * For the software adapter here: VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json XDG_RUNTIME_DIR=/tmp.
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend, type BackendChoice, type BackendName } from '../src-worker/backend';
import { knConv2d } from '../src-worker/kn/ops';
import { trainingImagesPerSecond } from './step-timing';

const CANDIDATES: BackendName[] = ['tensorflow', 'webgpu', 'wasm'];
const wanted = process.env.BACKENDS?.split(',') as BackendName[] | undefined;
const width = Number(process.env.WIDTH ?? 1);
const batches = (process.env.BATCHES ?? '32,128').split(',').map(Number);
const steps = Number(process.env.STEPS ?? 3);
const REPS = 5;

async function medianMs(fn: () => Promise<void>): Promise<number> {
  await fn();
  const times: number[] = [];
  for (let i = 0; i < REPS; i++) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  return times.sort((a, b) => a - b)[Math.floor(REPS / 2)]!;
}

/** KNConv ÷ conv, forward + backward of a 3×3 64→64 layer on 32×32 at batch 32 (knresnet18's first stage). */
async function knOverConv(): Promise<{ conv: number; kn: number }> {
  const x = tf.randomNormal([32, 32, 32, 64], 0, 1, 'float32', 1) as tf.Tensor4D;
  const w = tf.randomNormal([3, 3, 64, 64], 0, 0.05, 'float32', 2) as tf.Tensor4D;
  const b = tf.zeros([64]) as tf.Tensor1D;
  const run = (f: (xi: tf.Tensor4D, wi: tf.Tensor4D) => tf.Tensor) => async () => {
    const grads = tf.tidy(() => tf.grads((xi: tf.Tensor, wi: tf.Tensor) => tf.sum(f(xi as tf.Tensor4D, wi as tf.Tensor4D)))([x, w]));
    await Promise.all(grads.map((g) => g.data()));
    tf.dispose(grads);
  };
  const conv = await medianMs(run((xi, wi) => tf.conv2d(xi, wi, 1, 'same')));
  const kn = await medianMs(run((xi, wi) => knConv2d(xi, wi, b, { padding: 1, training: true, dropout: 0.05, seed: 7 })));
  tf.dispose([x, w, b]);
  return { conv, kn };
}

function label(choice: BackendChoice): string {
  if (choice.adapter) return `webgpu on ${choice.adapter.description}${choice.adapter.software ? ' — SOFTWARE adapter (correctness only)' : ''}`;
  if (choice.package) return `${choice.backend} (${choice.package})`;
  return choice.backend;
}

async function main(): Promise<void> {
  console.log(`width ${width}, batches ${batches.join(' and ')}, median of ${steps} training steps after a warm-up`);
  for (const name of wanted ?? CANDIDATES) {
    let choice: BackendChoice;
    try {
      choice = await initBackend(name);
    } catch (err) {
      console.log(`\n${name}: not usable here (${(err as Error).message.split('\n')[0]})`);
      continue;
    }
    console.log(`\n${label(choice)}`);
    const { conv, kn } = await knOverConv();
    console.log(`  KNConv ${kn.toFixed(1)} ms, conv ${conv.toFixed(1)} ms (fwd+bwd, 32² 64→64 3×3, batch 32): KNConv/conv ${(kn / conv).toFixed(2)}`);
    for (const batch of batches) {
      const knIps = await trainingImagesPerSecond('knresnet18', { width, batch, steps });
      const bnIps = await trainingImagesPerSecond('resnet18_bn', { width, batch, steps });
      console.log(`  batch ${batch}: knresnet18 ${knIps.toFixed(2)} img/s, resnet18_bn ${bnIps.toFixed(2)} img/s, KN/BN ${(knIps / bnIps).toFixed(3)}`);
    }
  }
}

await main();
