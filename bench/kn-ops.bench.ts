/**
 * Forward + backward cost of knConv2d against a plain convolution and convolution + BatchNorm, per layer shape,
 * all in one process on one backend: `node --import tsx bench/kn-ops.bench.ts [wasm|cpu] [reps]`
 * (or BACKEND=..., REPS=...). Prints median milliseconds and the ratios to the plain convolution.
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend, type BackendName } from '../src-worker/backend';
import { knConv2d } from '../src-worker/kn/ops';
import { batchNorm2d } from '../src-worker/kn/norms';
import type { Padding4 } from '../src-worker/kn/options';

interface LayerShape { name: string; size: number; inChannels: number; outChannels: number; kernel: number; padding: Padding4 }

const SHAPES: LayerShape[] = [
  { name: '32x32 64->64 3x3', size: 32, inChannels: 64, outChannels: 64, kernel: 3, padding: 1 },
  { name: '16x16 128->128 3x3', size: 16, inChannels: 128, outChannels: 128, kernel: 3, padding: 1 },
  { name: '8x8 256->256 3x3', size: 8, inChannels: 256, outChannels: 256, kernel: 3, padding: 1 },
  { name: '32x32 64->256 2x2 pad [1,0,1,0]', size: 32, inChannels: 64, outChannels: 256, kernel: 2, padding: [1, 0, 1, 0] },
];
const BATCH = 32;

function toConvPad(p: Padding4): [[number, number], [number, number], [number, number], [number, number]] {
  const [t, b, l, r] = typeof p === 'number' ? [p, p, p, p] : p.length === 2 ? [p[0], p[0], p[1], p[1]] : p;
  return [[0, 0], [t, b], [l, r], [0, 0]];
}

interface Timing { wall: number; cpu: number }

const medianOf = (values: number[]): number => values.sort((a, b) => a - b)[Math.floor(values.length / 2)];

/**
 * Median wall time and median process CPU time of each fn (each must read its results back), after `warmup`
 * unmeasured rounds. The variants run interleaved, one call each per round, so drift in machine load hits
 * them alike. tfjs-wasm and cpu run on this one thread, so CPU time counts the op's own work and is far less
 * disturbed than wall time when other processes share the cores.
 */
function interleavedMedians(fns: (() => void)[], reps: number, warmup = 2): Timing[] {
  const wall: number[][] = fns.map(() => []);
  const cpu: number[][] = fns.map(() => []);
  for (let round = 0; round < warmup + reps; round++) {
    fns.forEach((fn, i) => {
      const start = performance.now();
      const startCpu = process.cpuUsage();
      fn();
      const usedCpu = process.cpuUsage(startCpu);
      if (round >= warmup) {
        wall[i].push(performance.now() - start);
        cpu[i].push((usedCpu.user + usedCpu.system) / 1000);
      }
    });
  }
  return fns.map((_, i) => ({ wall: medianOf(wall[i]), cpu: medianOf(cpu[i]) }));
}

/** Forward and backward of f w.r.t. all inputs with a fixed upstream gradient; every result read back. */
function fwdBwd(f: (...t: tf.Tensor[]) => tf.Tensor, inputs: tf.Tensor[], dy: tf.Tensor): () => void {
  return () => {
    tf.tidy(() => {
      const grads = tf.grads(f)(inputs, dy);
      for (const g of grads) g.dataSync();
    });
  };
}

async function main(): Promise<void> {
  const requested = (process.argv[2] ?? process.env.BACKEND ?? 'wasm') as BackendName;
  const reps = Number(process.argv[3] ?? process.env.REPS ?? 5);
  if (requested !== 'wasm' && requested !== 'cpu') throw new Error(`kn-ops bench: backend must be wasm or cpu, but got "${requested}".`);
  if (!Number.isInteger(reps) || reps < 1) throw new Error(`kn-ops bench: reps must be a positive integer, but got "${process.argv[3] ?? process.env.REPS}".`);
  const choice = await initBackend(requested);
  console.log(`backend ${choice.backend}, batch ${BATCH}, forward + backward, median of ${reps} interleaved rounds after 2 warm-up rounds`);
  const header = ['shape', 'conv', 'conv+BN', 'KNConv', 'KNConv p=.05', 'KN/conv', 'KN.05/conv', '(conv+BN)/conv'].join('\t');
  const rows: Record<keyof Timing, string[]> = { wall: [], cpu: [] };
  for (const s of SHAPES) {
    const x = tf.randomNormal([BATCH, s.size, s.size, s.inChannels], 0, 1, 'float32', 1);
    const w = tf.randomNormal([s.kernel, s.kernel, s.inChannels, s.outChannels], 0, 0.05, 'float32', 2);
    const b = tf.zeros([s.outChannels]);
    const gamma = tf.ones([s.outChannels]);
    const beta = tf.zeros([s.outChannels]);
    const running = { mean: tf.variable(tf.zeros([s.outChannels])), variance: tf.variable(tf.ones([s.outChannels])) };
    const pad = toConvPad(s.padding);
    const outShape = tf.tidy(() => tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 1, pad)).shape;
    const dy = tf.randomNormal(outShape, 0, 1, 'float32', 3);
    const conv = (xi: tf.Tensor, wi: tf.Tensor) => tf.conv2d(xi as tf.Tensor4D, wi as tf.Tensor4D, 1, pad);
    const convBn = (xi: tf.Tensor, wi: tf.Tensor, g: tf.Tensor, bt: tf.Tensor) =>
      batchNorm2d(conv(xi, wi), g as tf.Tensor1D, bt as tf.Tensor1D, running, { training: true });
    const kn = (p: number) => (xi: tf.Tensor, wi: tf.Tensor, bi: tf.Tensor) =>
      knConv2d(xi as tf.Tensor4D, wi as tf.Tensor4D, bi as tf.Tensor1D, { padding: s.padding, training: true, dropout: p, seed: 7 });

    const before = tf.memory().numTensors;
    const timings = interleavedMedians([
      fwdBwd(conv, [x, w], dy), fwdBwd(convBn, [x, w, gamma, beta], dy), fwdBwd(kn(0), [x, w, b], dy), fwdBwd(kn(0.05), [x, w, b], dy),
    ], reps);
    for (const clock of ['wall', 'cpu'] as const) {
      const [tConv, tBn, tKn, tKnDrop] = timings.map((t) => t[clock]);
      rows[clock].push([s.name, tConv.toFixed(1), tBn.toFixed(1), tKn.toFixed(1), tKnDrop.toFixed(1),
        (tKn / tConv).toFixed(3), (tKnDrop / tConv).toFixed(3), (tBn / tConv).toFixed(3)].join('\t'));
    }
    console.error(`done: ${s.name}`);
    const leaked = tf.memory().numTensors - before;
    tf.dispose([x, w, b, gamma, beta, running.mean, running.variance, dy]);
    if (leaked !== 0) throw new Error(`kn-ops bench: ${leaked} tensors leaked while timing ${s.name}`);
  }
  for (const clock of ['cpu', 'wall'] as const) {
    console.log(`\n${clock === 'cpu' ? 'process CPU time' : 'wall time'}, median ms:\n${header}\n${rows[clock].join('\n')}`);
  }
}

await main();
