import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../src-worker/backend';
import { kernelNorm2d, kernelNorm2d1x1, knConv2d, knWindowMoments, type Padding4 } from '../../../src-worker/kn/ops';
import { batchNorm2d, groupNorm2d, layerNorm2d } from '../../../src-worker/kn/norms';
import { mish } from '../../../src-worker/kn/activations';

describe('input validation names the op, the argument and what it got', () => {
  const x = () => tf.zeros<tf.Rank.R4>([2, 4, 4, 3]);
  const w = (cin = 3, k = 3) => tf.zeros<tf.Rank.R4>([k, k, cin, 5]);
  beforeAll(async () => {
    await initBackend('cpu');
  });

  const cases: [string, () => unknown, string][] = [
    ['channel mismatch', () => knConv2d(x(), w(4), null), 'Error in knConv2d: depth of input (3) must match input depth for filter 4.'],
    ['rank of x', () => knConv2d(tf.zeros([4, 4, 3]) as unknown as tf.Tensor4D, w(), null), 'Error in knConv2d: x must be rank 4, but got rank 3 (shape [4,4,3]).'],
    ['rank of filter', () => knConv2d(x(), tf.zeros([3, 3, 3]) as unknown as tf.Tensor4D, null), 'Error in knConv2d: filter must be rank 4, but got rank 3'],
    ['bias length', () => knConv2d(x(), w(), tf.zeros<tf.Rank.R1>([4])), "Error in knConv2d: bias must be rank 1 with length 5 (the filter's output depth), but got shape [4]."],
    ['padding length', () => knConv2d(x(), w(), null, { padding: [1, 1, 1] as unknown as Padding4 }), 'Error in knConv2d: padding must be a non-negative integer or an array of 1, 2 or 4'],
    ['negative padding', () => knConv2d(x(), w(), null, { padding: -1 }), 'Error in knConv2d: padding must be'],
    ['zero stride', () => knConv2d(x(), w(), null, { stride: 0 }), 'Error in knConv2d: stride must be a positive integer or [height, width] of positive integers, but got 0.'],
    ['fractional stride', () => kernelNorm2d(x(), { stride: [1, 1.5] }), 'Error in kernelNorm2d: stride must be a positive integer'],
    ['dropout 1', () => knConv2d(x(), w(), null, { dropout: 1 }), 'Error in knConv2d: dropout must be in [0, 1), but got 1.'],
    ['negative dropout', () => kernelNorm2d1x1(x(), { dropout: -0.1 }), 'Error in kernelNorm2d1x1: dropout must be in [0, 1), but got -0.1.'],
    ['kernel larger than padded input', () => knConv2d(tf.zeros<tf.Rank.R4>([1, 2, 2, 3]), w(3, 3), null), 'Error in knConv2d: kernel 3x3 is larger than the padded input 2x2 (input 2x2, padding [0,0,0,0]).'],
    ['kernelNorm2d kernel too large', () => kernelNorm2d(tf.zeros<tf.Rank.R4>([1, 1, 1, 3]), { kernelSize: 2, padding: [1, 0, 0, 0] }), 'Error in kernelNorm2d: kernel 2x2 is larger than the padded input 2x1'],
    ['eps', () => knWindowMoments(x(), { kernelSize: 2, eps: 0 }), 'Error in knWindowMoments: eps must be a positive finite number, but got 0.'],
    ['int32 input', () => kernelNorm2d(tf.zeros<tf.Rank.R4>([1, 2, 2, 1], 'int32')), 'Error in kernelNorm2d: x must be float32, but got int32.'],
    ['not a tensor', () => kernelNorm2d1x1([1, 2] as unknown as tf.Tensor4D), 'Error in kernelNorm2d1x1: x must be a tf.Tensor, but got object.'],
    ['kernelSize on knConv2d', () => knConv2d(x(), w(), null, { kernelSize: 3 } as never), 'Error in knConv2d: kernelSize comes from the filter'],
    ['group count', () => groupNorm2d(tf.zeros<tf.Rank.R4>([1, 2, 2, 6]), tf.ones<tf.Rank.R1>([6]), tf.zeros<tf.Rank.R1>([6]), 4), 'Error in groupNorm2d: groups must be a positive integer dividing the depth of the input (6), but got 4.'],
    ['gamma length', () => layerNorm2d(x(), tf.ones<tf.Rank.R1>([4]), tf.zeros<tf.Rank.R1>([3])), 'Error in layerNorm2d: gamma must be rank 1 with length 3 (the depth of the input), but got shape [4].'],
    ['batch norm of one value per channel', () => batchNorm2d(tf.zeros<tf.Rank.R4>([1, 1, 1, 3]), tf.ones<tf.Rank.R1>([3]), tf.zeros<tf.Rank.R1>([3]),
      { mean: tf.variable(tf.zeros([3])), variance: tf.variable(tf.ones([3])) }, { training: true }), 'Error in batchNorm2d: training needs more than one value per channel'],
    ['running stats shape', () => batchNorm2d(x(), tf.ones<tf.Rank.R1>([3]), tf.zeros<tf.Rank.R1>([3]),
      { mean: tf.variable(tf.zeros([2])), variance: tf.variable(tf.ones([3])) }, { training: false }), 'Error in batchNorm2d: running.mean must be rank 1 with length 3'],
    ['mish of a non-tensor', () => mish(3 as unknown as tf.Tensor), 'Error in mish: x must be a tf.Tensor, but got number.'],
  ];

  it.each(cases)('%s', (_name, call, message) => {
    tf.engine().startScope();
    try {
      expect(call).toThrow(message);
    } finally {
      tf.engine().endScope();
    }
  });

  it('accepts the paddings the KNResNets use and computes their output sizes', () => {
    const sizes = ([[1, 0, 1, 0], [0, 1, 0, 1], [2, 1, 2, 1], [1, 1], 0] as Padding4[]).map((padding) =>
      tf.tidy(() => knConv2d(tf.ones<tf.Rank.R4>([1, 5, 5, 2]), tf.ones<tf.Rank.R4>([2, 2, 2, 1]), null, { padding }).shape));
    expect(sizes).toEqual([[1, 5, 5, 1], [1, 5, 5, 1], [1, 7, 7, 1], [1, 6, 6, 1], [1, 4, 4, 1]]);
  });
});
