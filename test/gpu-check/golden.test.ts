import * as tf from '@tensorflow/tfjs';
import { statSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { GOLDEN_PATH } from '../../bench/gpu-check/generate-golden';
import { compare, goldenFileSchema } from '../../bench/gpu-check/golden';
import { dropoutMask } from '../../src-worker/kn/dropout';
import { naiveKernelNorm1x1, naiveKernelNorm2d, naiveKnConv2d, type Array4 } from '../worker/kn/naive';
import goldenJson from '../../bench/gpu-check/golden-vectors.json' with { type: 'json' };

// The committed golden vectors are what the naive reference gives today (forward outputs and dropout masks;
// regenerating the gradients takes seconds of central differences: bench/gpu-check/generate-golden.ts).

const golden = goldenFileSchema.parse(goldenJson);
const exact32 = (values: number[]): Float64Array => Float64Array.from(Float32Array.from(values));
const array4 = (a: { shape: [number, number, number, number]; data: number[] }): Array4 => ({ shape: a.shape, data: exact32(a.data) });

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('golden-vectors.json', () => {
  it('is small, and covers knConv2d (with dx, dweight, dbias), kernelNorm2d and kernelNorm2d1x1, with and without dropout', () => {
    expect(statSync(GOLDEN_PATH).size).toBeLessThan(1024 * 1024);
    for (const op of ['knConv2d', 'kernelNorm2d', 'kernelNorm2d1x1'] as const) {
      const cases = golden.cases.filter((c) => c.op === op);
      expect(cases.some((c) => c.dropout), op).toBe(true);
      expect(cases.some((c) => !c.dropout), op).toBe(true);
    }
    expect(golden.cases.filter((c) => c.op === 'knConv2d').some((c) => ['dx', 'dweight', 'dbias'].every((g) => g in c.grads))).toBe(true);
    for (const c of golden.cases) {
      expect(c.probe.length, c.name).toBe(c.out.data.length);
      expect(c.grads.dx.length, c.name).toBe(c.x.data.length);
    }
  });

  it.each(golden.cases.map((c) => [`${c.op} ${c.name}`, c] as const))('outputs and masks match the naive reference: %s', (_, c) => {
    const mask = c.dropout ? exact32(c.dropout.mask) : null;
    if (c.dropout) {
      const m = dropoutMask(c.x.shape, c.dropout.rate, c.dropout.seed);
      expect(compare(m.dataSync(), mask!, { rtol: 0, atol: 0 }).pass).toBe(true);
      m.dispose();
    }
    const x = array4(c.x);
    const window = { stride: c.stride, padding: c.padding, eps: golden.eps, mask };
    const out = c.op === 'knConv2d'
      ? naiveKnConv2d(x, array4(c.weight), c.bias && exact32(c.bias), { ...window, kernel: [c.weight.shape[0], c.weight.shape[1]] }).out
      : c.op === 'kernelNorm2d' ? naiveKernelNorm2d(x, { ...window, kernel: c.kernel }).out : naiveKernelNorm1x1(x, golden.eps, mask).out;
    expect(out.shape).toEqual(c.out.shape);
    const r = compare(out.data, c.out.data, { rtol: 1e-8, atol: 1e-9 }); // written with 9 significant digits
    expect(r.pass, `max abs ${r.maxAbs}`).toBe(true);
  });
});
