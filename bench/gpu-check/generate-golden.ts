/**
 * Writes bench/gpu-check/golden-vectors.json from the float64 naive reference (test/worker/kn/naive.ts):
 * knConv2d forward + dx/dW/dbias through a fixed probe, kernelNorm2d forward + dx, kernelNorm2d1x1 forward + dx,
 * a few shapes each, some with training-mode dropout. Gradients are float64 central differences of the naive
 * forward (numericGradients), except dbias, which is exact: the sum of the probe over N, H', W'.
 *
 *   node --import tsx bench/gpu-check/generate-golden.ts [OUT.json]
 *
 * Deterministic: run it again and the file is the same. The inputs are float32 values, so the op on the GPU sees
 * exactly what the reference saw; every number is written with 9 significant digits (float32 round-trips).
 */
import * as tf from '@tensorflow/tfjs';
import { writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { dropoutMask } from '../../src-worker/kn/dropout';
import {
  dot, naiveKernelNorm1x1, naiveKernelNorm2d, naiveKnConv2d, normals as drawNormals, numericGradients, type Array4, type NaiveWindowOptions,
} from '../../test/worker/kn/naive';
import { goldenFileSchema, type GoldenCase, type GoldenFile } from './golden';

const here = dirname(fileURLToPath(import.meta.url));
export const GOLDEN_PATH = join(here, 'golden-vectors.json');
const EPS = 1e-5;

type Shape4 = [number, number, number, number];
type Pad4 = [number, number, number, number];

/** The test suites' normal draws (naive.ts), rounded to float32: the values a float32 backend is given. */
const normals = (count: number, seed: number, scale = 1): Float64Array => drawNormals(count, seed, scale).map(Math.fround);

const sizeOf = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);
const array4 = (shape: Shape4, seed: number, scale = 1): Array4 => ({ shape, data: normals(sizeOf(shape), seed, scale) });
const numbers = (values: ArrayLike<number>): number[] => Array.from(values, (v) => Number(v.toPrecision(9)));
const json4 = (a: Array4) => ({ shape: a.shape, data: numbers(a.data) });

function maskOf(shape: Shape4, rate: number, seed: number): Float64Array {
  const m = dropoutMask(shape, rate, seed);
  const values = Float64Array.from(m.dataSync());
  m.dispose();
  return values;
}

interface WindowSpec { name: string; x: Shape4; stride: [number, number]; padding: Pad4; dropout?: { rate: number; seed: number } }

function windowOptions(kernel: [number, number], s: WindowSpec, mask: Float64Array | null): NaiveWindowOptions {
  return { kernel, stride: s.stride, padding: s.padding, eps: EPS, mask };
}

function convCase(s: WindowSpec & { kernel: [number, number]; out: number; bias: boolean }, seed: number): GoldenCase {
  const x = array4(s.x, seed);
  const weight = array4([s.kernel[0], s.kernel[1], s.x[3], s.out], seed + 1, 0.5);
  const bias = s.bias ? normals(s.out, seed + 2) : null;
  const mask = s.dropout ? maskOf(s.x, s.dropout.rate, s.dropout.seed) : null;
  const o = windowOptions(s.kernel, s, mask);
  const out = naiveKnConv2d(x, weight, bias, o).out;
  const probe = normals(out.data.length, seed + 3);
  const [dx, dweight] = numericGradients((p) => dot(naiveKnConv2d({ shape: x.shape, data: p[0] }, { shape: weight.shape, data: p[1] }, bias, o).out.data, probe),
    [x.data.slice(), weight.data.slice()]);
  const grads: Record<string, number[]> = { dx: numbers(dx), dweight: numbers(dweight) };
  if (bias) {
    const dbias = new Float64Array(s.out);
    probe.forEach((v, i) => { dbias[i % s.out] += v; });
    grads.dbias = numbers(dbias);
  }
  return {
    op: 'knConv2d', name: s.name, x: json4(x), weight: json4(weight), bias: bias && numbers(bias), stride: s.stride, padding: s.padding,
    dropout: s.dropout && mask ? { ...s.dropout, mask: numbers(mask) } : null, probe: numbers(probe), out: json4(out), grads,
  };
}

function kernelNormCase(s: WindowSpec & { kernel: [number, number] }, seed: number, op: 'kernelNorm2d' | 'kernelNorm2d1x1'): GoldenCase {
  const x = array4(s.x, seed);
  const mask = s.dropout ? maskOf(s.x, s.dropout.rate, s.dropout.seed) : null;
  const forward = (data: Float64Array) => (op === 'kernelNorm2d1x1'
    ? naiveKernelNorm1x1({ shape: x.shape, data }, EPS, mask)
    : naiveKernelNorm2d({ shape: x.shape, data }, windowOptions(s.kernel, s, mask))).out;
  const out = forward(x.data);
  const probe = normals(out.data.length, seed + 3);
  const [dx] = numericGradients((p) => dot(forward(p[0]).data, probe), [x.data.slice()]);
  const base = {
    name: s.name, x: json4(x), stride: s.stride, padding: s.padding, dropout: s.dropout && mask ? { ...s.dropout, mask: numbers(mask) } : null,
    probe: numbers(probe), out: json4(out), grads: { dx: numbers(dx) },
  };
  return op === 'kernelNorm2d' ? { op, ...base, kernel: s.kernel } : { op, ...base };
}

export function generateGolden(): GoldenFile {
  const cases: GoldenCase[] = [
    convCase({ name: '3x3 stride 1 padding 1', x: [2, 5, 5, 3], kernel: [3, 3], out: 4, stride: [1, 1], padding: [1, 1, 1, 1], bias: true }, 11),
    convCase({ name: '2x2 padding [1,0,1,0] (KNResNet transition)', x: [2, 4, 5, 3], kernel: [2, 2], out: 3, stride: [1, 1], padding: [1, 0, 1, 0], bias: true }, 21),
    convCase({ name: '3x3 stride 2 padding 1, odd sizes', x: [2, 7, 7, 5], kernel: [3, 3], out: 4, stride: [2, 2], padding: [1, 1, 1, 1], bias: true }, 31),
    convCase({ name: '3x3 padding 1, 8->16 channels (vec4 shaders)', x: [2, 8, 8, 8], kernel: [3, 3], out: 16, stride: [1, 1], padding: [1, 1, 1, 1], bias: true }, 41),
    convCase({ name: '3x3 padding 1, dropout 0.3', x: [2, 5, 5, 4], kernel: [3, 3], out: 4, stride: [1, 1], padding: [1, 1, 1, 1], bias: true, dropout: { rate: 0.3, seed: 1234 } }, 51),
    convCase({ name: '1x1, no bias', x: [2, 3, 4, 6], kernel: [1, 1], out: 5, stride: [1, 1], padding: [0, 0, 0, 0], bias: false }, 61),
    kernelNormCase({ name: '2x2 padding [1,0,1,0]', x: [2, 3, 4, 3], kernel: [2, 2], stride: [1, 1], padding: [1, 0, 1, 0] }, 71, 'kernelNorm2d'),
    kernelNormCase({ name: '3x3 stride 2 padding 1, odd size', x: [1, 5, 5, 2], kernel: [3, 3], stride: [2, 2], padding: [1, 1, 1, 1] }, 81, 'kernelNorm2d'),
    kernelNormCase({ name: '2x2 stride 2, 8 channels, dropout 0.25', x: [2, 6, 6, 8], kernel: [2, 2], stride: [2, 2], padding: [0, 0, 0, 0], dropout: { rate: 0.25, seed: 77 } }, 91, 'kernelNorm2d'),
    kernelNormCase({ name: '1x1 over 5 channels', x: [2, 3, 2, 5], kernel: [1, 1], stride: [1, 1], padding: [0, 0, 0, 0] }, 101, 'kernelNorm2d1x1'),
    kernelNormCase({ name: '1x1 over 16 channels, dropout 0.2', x: [2, 4, 4, 16], kernel: [1, 1], stride: [1, 1], padding: [0, 0, 0, 0], dropout: { rate: 0.2, seed: 9 } }, 111, 'kernelNorm2d1x1'),
  ];
  return goldenFileSchema.parse({
    format: 'normlab-kn-golden/1',
    reference: 'test/worker/kn/naive.ts (float64): naiveKnConv2d, naiveKernelNorm2d, naiveKernelNorm1x1; gradients of sum(out * probe) by central differences (dbias exact)',
    eps: EPS,
    cases,
  });
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await tf.setBackend('cpu');
  const out = process.argv[2] ? resolve(process.argv[2]) : GOLDEN_PATH;
  const text = JSON.stringify(generateGolden());
  writeFileSync(out, text + '\n');
  console.log(`${out}: ${(text.length / 1024).toFixed(0)} KiB`);
}
