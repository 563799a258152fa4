/**
 * Conv gradient speed on the wasm backend: forward Conv2D, the backend's built-in Conv2DBackpropInput,
 * and our dx / dW kernels, on the conv shapes of a CIFAR-size ResNet at batch 32.
 *   node --import tsx bench/conv-grads.bench.ts [--reps 7]
 * Single-threaded wasm: figures are only comparable between runs on an otherwise idle core.
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src-worker/backend';
import { builtinWasmKernel } from '../src-worker/wasm-kernels';

type ExplicitPad = tf.backend_util.ExplicitPadding;

interface ConvCase {
  name: string;
  size: number;
  inC: number;
  outC: number;
  kernel: number;
  stride: number;
  /** [top, bottom, left, right] */
  pad: [number, number, number, number];
}

const BATCH = 32;
const CASES: ConvCase[] = [
  { name: '32x32 64->64 3x3 s1', size: 32, inC: 64, outC: 64, kernel: 3, stride: 1, pad: [1, 1, 1, 1] },
  { name: '16x16 128->128 3x3 s1', size: 16, inC: 128, outC: 128, kernel: 3, stride: 1, pad: [1, 1, 1, 1] },
  { name: '32x32 64->128 3x3 s2', size: 32, inC: 64, outC: 128, kernel: 3, stride: 2, pad: [1, 1, 1, 1] },
  { name: '8x8 256->256 3x3 s1', size: 8, inC: 256, outC: 256, kernel: 3, stride: 1, pad: [1, 1, 1, 1] },
  { name: '32x32 64->256 2x2 pad[1,0,1,0]', size: 32, inC: 64, outC: 256, kernel: 2, stride: 1, pad: [1, 0, 1, 0] },
  { name: '16x16 256->64 1x1 s1', size: 16, inC: 256, outC: 64, kernel: 1, stride: 1, pad: [0, 0, 0, 0] },
];

function repsFromArgs(): number {
  const at = process.argv.indexOf('--reps');
  const reps = at >= 0 ? Number(process.argv[at + 1]) : 7;
  if (!Number.isInteger(reps) || reps < 1) throw new Error(`--reps must be a positive integer, got ${process.argv[at + 1]}`);
  return reps;
}

type Run = () => tf.TensorInfo;

/**
 * Median wall time of each synchronous wasm kernel call. The kernels take turns, one call each per round,
 * so load from other processes hits them alike and their ratios stay meaningful.
 */
function medianMs(runs: Record<string, Run>, reps: number): Record<string, number> {
  const backend = tf.backend();
  const times: Record<string, number[]> = {};
  for (const [label, run] of Object.entries(runs)) {
    backend.disposeData(run().dataId); // warm-up: XNNPACK operator creation, heap growth
    times[label] = [];
  }
  for (let i = 0; i < reps; i++) {
    for (const [label, run] of Object.entries(runs)) {
      const t0 = performance.now();
      const out = run();
      times[label].push(performance.now() - t0);
      backend.disposeData(out.dataId);
    }
  }
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  return Object.fromEntries(Object.entries(times).map(([label, xs]) => [label, median(xs)]));
}

function maxRelativeDiff(a: tf.TensorInfo, b: tf.TensorInfo): number {
  const backend = tf.backend();
  const av = backend.readSync(a.dataId) as Float32Array;
  const bv = backend.readSync(b.dataId) as Float32Array;
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < av.length; i++) {
    diff = Math.max(diff, Math.abs(av[i] - bv[i]));
    scale = Math.max(scale, Math.abs(bv[i]));
  }
  return diff / (scale || 1);
}

function kernelFunc(name: string): tf.KernelFunc {
  const kernel = tf.getKernel(name, 'wasm');
  if (kernel == null) throw new Error(`no wasm kernel ${name}`);
  return kernel.kernelFunc;
}

function benchCase(c: ConvCase, reps: number): Record<string, string | number> {
  const backend = tf.backend();
  const [top, bottom, left, right] = c.pad;
  const pad: ExplicitPad = [[0, 0], [top, bottom], [left, right], [0, 0]];
  const x = tf.randomNormal<tf.Rank.R4>([BATCH, c.size, c.size, c.inC]);
  const filter = tf.randomNormal<tf.Rank.R4>([c.kernel, c.kernel, c.inC, c.outC]);
  const dy = tf.tidy(() => tf.randomNormal(tf.conv2d(x, filter, c.stride, pad).shape));
  const [, outH, outW] = dy.shape;
  const gflop = (2 * BATCH * outH * outW * c.kernel * c.kernel * c.inC * c.outC) / 1e9;

  const attrs = { strides: [c.stride, c.stride], pad, dataFormat: 'NHWC', dimRoundingMode: undefined };
  const call = (fn: tf.KernelFunc, inputs: tf.NamedTensorInfoMap, extra: tf.NamedAttrMap): Run =>
    () => fn({ inputs, backend, attrs: { ...attrs, ...extra } as unknown as tf.NamedAttrMap }) as tf.TensorInfo;
  const builtin = builtinWasmKernel('Conv2DBackpropInput');
  if (builtin == null) throw new Error('the built-in wasm Conv2DBackpropInput was not captured');
  // It was unregistered before the backend started, so the backend never bound its wasm function.
  builtin.setupFunc?.(backend);

  const runs: Record<string, Run> = {
    forward: call(kernelFunc('Conv2D'), { x, filter }, { dilations: [1, 1] }),
    builtinDx: call(builtin.kernelFunc, { dy, filter }, { inputShape: x.shape }),
    dx: call(kernelFunc('Conv2DBackpropInput'), { dy, filter }, { inputShape: x.shape }),
    dW: call(kernelFunc('Conv2DBackpropFilter'), { x, dy }, { filterShape: filter.shape }),
  };
  const row: Record<string, string | number> = { shape: c.name, GFLOP: +gflop.toFixed(2) };
  for (const [label, ms] of Object.entries(medianMs(runs, reps))) {
    row[`${label} ms`] = +ms.toFixed(1);
    row[`${label} GF/s`] = +(gflop / (ms / 1000)).toFixed(1);
  }
  const ours = runs.dx();
  const reference = runs.builtinDx();
  row['dx vs builtin'] = maxRelativeDiff(ours, reference).toExponential(1);
  backend.disposeData(ours.dataId);
  backend.disposeData(reference.dataId);
  tf.dispose([x, filter, dy]);
  return row;
}

/** Our JS MaxPoolGrad against the built-in one it replaced (which is wrong for all-negative windows). */
function benchMaxPoolGrad(size: number, channels: number, window: number, pad: 'valid' | number, reps: number): Record<string, string | number> {
  const backend = tf.backend();
  const builtin = builtinWasmKernel('MaxPoolGrad');
  if (builtin == null) throw new Error('the built-in wasm MaxPoolGrad was not captured');
  builtin.setupFunc?.(backend);
  const input = tf.randomNormal([BATCH, size, size, channels]);
  const output = tf.maxPool(input as tf.Tensor4D, window, 2, pad);
  const dy = tf.randomNormal(output.shape);
  const attrs = { filterSize: window, strides: 2, pad } as unknown as tf.NamedAttrMap;
  const call = (fn: tf.KernelFunc): Run => () => fn({ inputs: { dy, input, output }, backend, attrs }) as tf.TensorInfo;
  const ms = medianMs({ builtin: call(builtin.kernelFunc), ours: call(kernelFunc('MaxPoolGrad')) }, reps);
  tf.dispose([input, output, dy]);
  return { pool: `${size}x${size}x${channels} ${window}x${window}/2 pad ${pad}`, 'builtin ms': +ms.builtin.toFixed(1), 'ours ms': +ms.ours.toFixed(1) };
}

async function main(): Promise<void> {
  const reps = repsFromArgs();
  const choice = await initBackend('wasm');
  console.log(`backend ${choice.backend}, batch ${BATCH}, median of ${reps} (after one warm-up)`);
  console.table(CASES.map((c) => benchCase(c, reps)));
  console.table([benchMaxPoolGrad(32, 64, 2, 'valid', reps), benchMaxPoolGrad(32, 64, 3, 1, reps)]);
}

await main();
