import * as tf from '@tensorflow/tfjs';
import seedrandom from 'seedrandom';
import type { TrainableModel, TrainBatch, TrainForwardContext, TrainingDataset, BatchOptions } from '../../../src-worker/train/types';

/**
 * A deliberately tiny model and data set built in code, so the trainer's own behaviour (optimizer, resume,
 * cancel, divergence) is tested in milliseconds and independently of the models registry and data readers.
 */
export function tinyModel(numClasses: number, seed: number, side = 4): TrainableModel {
  const rng = seedrandom(`init-${seed}`);
  const init = (shape: number[], scale: number) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const v = new Float32Array(n);
    for (let i = 0; i < n; i++) v[i] = (rng() * 2 - 1) * scale;
    return tf.tidy(() => tf.variable(tf.tensor(v, shape), true));
  };
  const inFeatures = side * side * 3;
  const hidden = 16;
  const vars = {
    'fc1.weight': init([inFeatures, hidden], 1 / Math.sqrt(inFeatures)),
    'fc1.bias': init([hidden], 0.1),
    'fc2.weight': init([hidden, numClasses], 1 / Math.sqrt(hidden)),
    'fc2.bias': init([numClasses], 0.1),
  };
  // Stands in for BatchNorm running statistics: non-trainable state that training updates.
  const runningMean = tf.tidy(() => tf.variable(tf.zeros([hidden]), false));
  let stats: Awaited<ReturnType<TrainableModel['takeNormStats']>> = [];
  const forwardWith = (x: tf.Tensor4D, ctx: TrainForwardContext): tf.Tensor2D =>
    tf.tidy(() => {
      let h = tf.relu(tf.add(tf.matMul(tf.reshape(x, [x.shape[0], inFeatures]), vars['fc1.weight']), vars['fc1.bias']));
      if (ctx.training) {
        runningMean.assign(tf.add(tf.mul(runningMean, 0.9), tf.mul(tf.mean(h, 0), 0.1)));
        // Seeded by the step, like KernelNorm dropout, so resumed runs must pass the same step.
        h = tf.dropout(h, 0.1, undefined, 1000 + (ctx.step ?? 0));
      }
      if (ctx.collectStats) {
        const v = tf.mean(h, 0).dataSync() as Float32Array;
        const summary = { mean: v[0], std: 0, min: 0, max: 0, percentiles: [0, 0, 0, 0, 0] as [number, number, number, number, number], histogram: { lo: 0, hi: 1, counts: [1] } };
        stats = [{ layer: 'fc1', kind: 'bn', mean: summary, std: summary }];
      }
      return tf.add<tf.Tensor2D>(tf.matMul(h, vars['fc2.weight']), vars['fc2.bias']);
    });
  return {
    info: { name: 'tiny', norm: 'bn' },
    forward: (x, training) => forwardWith(x, { training }),
    forwardWith,
    namedVariables: () => [
      ...Object.entries(vars).map(([path, variable]) => ({ path, variable, trainable: true })),
      { path: 'fc1.running_mean', variable: runningMean, trainable: false },
    ],
    countParams: () => Object.values(vars).reduce((s, v) => s + v.size, 0),
    takeNormStats: async () => stats,
    dispose: () => {
      for (const v of Object.values(vars)) v.dispose();
      runningMean.dispose();
    },
  };
}

function permutation(n: number, rng: () => number): Int32Array {
  const p = Int32Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [p[i], p[j]] = [p[j], p[i]];
  }
  return p;
}

/** Gaussian blobs, one per class; train batches shuffled and jittered deterministically in (seed, epoch). */
export function blobDataset(opts: { numClasses?: number; trainSize?: number; testSize?: number; side?: number; batchDelayMs?: number } = {}): TrainingDataset & { openIterators(): number } {
  const numClasses = opts.numClasses ?? 4;
  const side = opts.side ?? 4;
  const dim = side * side * 3;
  const rng = seedrandom('blobs');
  const centers = Array.from({ length: numClasses }, () => Float32Array.from({ length: dim }, () => rng() * 2 - 1));
  const make = (n: number) => {
    const x = new Float32Array(n * dim);
    const y = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      y[i] = i % numClasses;
      for (let d = 0; d < dim; d++) x[i * dim + d] = centers[y[i]][d] + (rng() * 2 - 1) * 0.8;
    }
    return { x, y, n };
  };
  const splits = { train: make(opts.trainSize ?? 96), test: make(opts.testSize ?? 48) };
  let open = 0;
  return {
    name: 'blobs',
    numClasses,
    imageShape: [side, side, 3],
    trainSize: splits.train.n,
    testSize: splits.test.n,
    openIterators: () => open,
    async *batches(split: 'train' | 'test', o: BatchOptions): AsyncIterable<TrainBatch> {
      const s = splits[split];
      const order = o.shuffle ? permutation(s.n, seedrandom(`order-${o.seed}-${o.epoch}`)) : Int32Array.from({ length: s.n }, (_, i) => i);
      const count = o.dropLast ? Math.floor(s.n / o.batchSize) : Math.ceil(s.n / o.batchSize);
      open++;
      try {
        for (let b = o.startBatch ?? 0; b < count; b++) {
          if (opts.batchDelayMs) await new Promise((r) => setTimeout(r, opts.batchDelayMs));
          const idx = order.subarray(b * o.batchSize, Math.min(s.n, (b + 1) * o.batchSize));
          const x = new Float32Array(idx.length * dim);
          const y = new Int32Array(idx.length);
          const jitter = seedrandom(`aug-${o.seed}-${o.epoch}-${b}`);
          idx.forEach((src, i) => {
            y[i] = s.y[src]!;
            for (let d = 0; d < dim; d++) x[i * dim + d] = s.x[src * dim + d] + (o.augment ? (jitter() - 0.5) * 0.1 : 0);
          });
          yield { x, y, size: idx.length, shape: [side, side, 3] };
        }
      } finally {
        open--;
      }
    },
    close: async () => {},
  };
}
