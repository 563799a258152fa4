import * as tf from '@tensorflow/tfjs';
import { knConv2d } from '../src-worker/kn/ops';
import { syntheticTrainingStep } from '../src-worker/train/synthetic-step';

/** Images per second of a model's training step, the median of `steps` after a warm-up (compilation, allocations). */
export async function trainingImagesPerSecond(name: string, opts: { width: number; batch: number; steps: number }): Promise<number> {
  const { step, dispose } = syntheticTrainingStep(name, opts);
  try {
    await step();
    const times: number[] = [];
    for (let i = 0; i < opts.steps; i++) {
      const t0 = performance.now();
      await step();
      times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    return (opts.batch * 1000) / times[Math.floor(times.length / 2)];
  } finally {
    dispose();
  }
}

/** The median of `reps` runs of `fn`, after one warm-up run. */
export async function medianMs(fn: () => Promise<void>, reps: number): Promise<number> {
  await fn();
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  return times.sort((a, b) => a - b)[Math.floor(reps / 2)];
}

/** KNConv and conv forward + backward of a 3×3 C→C layer on 32×32 (knresnet18's first stage at C = 64). */
export async function knOverConv(batch: number, channels: number, reps: number): Promise<{ convMs: number; knMs: number }> {
  const x = tf.randomNormal<tf.Rank.R4>([batch, 32, 32, channels], 0, 1, 'float32', 1);
  const w = tf.randomNormal<tf.Rank.R4>([3, 3, channels, channels], 0, 0.05, 'float32', 2);
  const b = tf.zeros<tf.Rank.R1>([channels]);
  const run = (f: (xi: tf.Tensor4D, wi: tf.Tensor4D) => tf.Tensor) => async () => {
    const grads = tf.tidy(() => tf.grads((xi: tf.Tensor, wi: tf.Tensor) => tf.sum(f(xi as tf.Tensor4D, wi as tf.Tensor4D)))([x, w]));
    await Promise.all(grads.map((g) => g.data()));
    tf.dispose(grads);
  };
  try {
    const convMs = await medianMs(run((xi, wi) => tf.conv2d(xi, wi, 1, 'same')), reps);
    const knMs = await medianMs(run((xi, wi) => knConv2d(xi, wi, b, { padding: 1, training: true, dropout: 0.05, seed: 7 })), reps);
    return { convMs, knMs };
  } finally {
    tf.dispose([x, w, b]);
  }
}
