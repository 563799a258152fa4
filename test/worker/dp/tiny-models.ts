import * as tf from '@tensorflow/tfjs';
import { knConv2d } from '../../../src-worker/kn/ops';
import { groupNorm2d, layerNorm2d } from '../../../src-worker/kn/norms';
import type { ForwardContext, LayerInfo } from '../../../src-worker/models/types';
import type { DpModel } from '../../../src-worker/train/dp/per-sample-grads';

/**
 * Small models built on the models' tap contract (docs/contracts.md), so the DP code can be checked
 * layer kind by layer kind independently of the model registry.
 */

let counter = 0;
function variable(shape: number[], seed: number, scale = 0.3): tf.Variable {
  return tf.variable(tf.randomNormal(shape, 0, scale, 'float32', seed), true, `dptest${counter++}`);
}

type Layer = { info: LayerInfo; tapInfo?: (ctx: ForwardContext) => LayerInfo; apply(x: tf.Tensor, ctx: ForwardContext): tf.Tensor };

function tapped(layer: Layer, x: tf.Tensor, ctx: ForwardContext): tf.Tensor {
  const out = layer.apply(x, ctx);
  return ctx.tap ? ctx.tap(layer.tapInfo?.(ctx) ?? layer.info, x, out) : out;
}

function conv(path: string, inC: number, outC: number, k: number, stride: number, padding: [number, number, number, number], seed: number): Layer {
  const weight = variable([k, k, inC, outC], seed);
  const bias = variable([outC], seed + 1, 0.1);
  return {
    info: { path, kind: 'conv', kernelSize: [k, k], stride: [stride, stride], padding, weight, bias },
    apply: (x) => {
      const [t, b, l, r] = padding;
      return tf.add(tf.conv2d(x as tf.Tensor4D, weight as tf.Tensor4D, stride, [[0, 0], [t, b], [l, r], [0, 0]]), bias);
    },
  };
}

function knconv(path: string, inC: number, outC: number, k: number, stride: number, padding: [number, number, number, number], seed: number, dropout = 0): Layer {
  const weight = variable([k, k, inC, outC], seed);
  const bias = variable([outC], seed + 1, 0.1);
  const info: LayerInfo = { path, kind: 'knconv', kernelSize: [k, k], stride: [stride, stride], padding, eps: 1e-5, dropout, weight, bias };
  // with dropout, the forward's mask seed (from the step) is reported to the tap, as DP-SGD needs to replay it
  const dropoutSeed = (ctx: ForwardContext) => (ctx.step ?? 0) * 1000 + seed;
  return {
    info,
    tapInfo: (ctx) => (dropout > 0 ? ({ ...info, seed: dropoutSeed(ctx) }) : info),
    apply: (x, ctx) =>
      knConv2d(x as tf.Tensor4D, weight as tf.Tensor4D, bias as tf.Tensor1D, {
        stride, padding, dropout, training: ctx.training, seed: dropoutSeed(ctx),
      }),
  };
}

function norm(path: string, kind: 'gn' | 'ln', channels: number, groups: number, seed: number): Layer {
  const gamma = tf.variable(tf.add(1, tf.randomNormal([channels], 0, 0.2, 'float32', seed)), true, `dptest${counter++}`);
  const beta = variable([channels], seed + 1, 0.1);
  return {
    info: { path, kind, eps: 1e-5, groups, gamma, beta },
    apply: (x) =>
      kind === 'gn'
        ? groupNorm2d(x as tf.Tensor4D, gamma as tf.Tensor1D, beta as tf.Tensor1D, groups)
        : layerNorm2d(x as tf.Tensor4D, gamma as tf.Tensor1D, beta as tf.Tensor1D),
  };
}

function linear(path: string, inF: number, outF: number, seed: number): Layer {
  const weight = variable([inF, outF], seed, 0.2);
  const bias = variable([outF], seed + 1, 0.1);
  return { info: { path, kind: 'linear', weight, bias }, apply: (x) => tf.add(tf.matMul(x as tf.Tensor2D, weight as tf.Tensor2D), bias) };
}

function model(name: string, norm: string, body: Layer[], head: Layer, between: (x: tf.Tensor) => tf.Tensor): DpModel & { dispose(): void } {
  const all = [...body, head];
  return {
    info: { name, norm },
    forwardWith(x, ctx) {
      return tf.tidy(() => {
        let h: tf.Tensor = x;
        for (const layer of body) h = between(tapped(layer, h, ctx));
        const pooled = tf.mean(h, [1, 2]);
        return tapped(head, pooled, ctx) as tf.Tensor2D;
      });
    },
    layers: () => all.map((l) => l.info),
    trainableVariables: () => all.flatMap((l) => [l.info.weight, l.info.bias, l.info.gamma, l.info.beta]).filter((v): v is tf.Variable => v != null),
    dispose: () => all.forEach((l) => tf.dispose([l.info.weight, l.info.bias, l.info.gamma, l.info.beta].filter((v): v is tf.Variable => v != null))),
  };
}

const mish = (x: tf.Tensor) => tf.mul(x, tf.tanh(tf.softplus(x)));

/** Linear classifier on the flattened image (pooling is skipped: no body layers, a 1x1 image). */
export function linearModel(inChannels: number, classes: number): DpModel & { dispose(): void } {
  return model('tiny_linear', 'nn', [], linear('fc', inChannels, classes, 11), mish);
}

/** conv → GroupNorm → conv (stride 2, asymmetric padding) → LayerNorm → linear. */
export function gnModel(classes: number): DpModel & { dispose(): void } {
  return model('tiny_gn', 'gn', [
    conv('conv1', 3, 4, 3, 1, [1, 1, 1, 1], 21),
    norm('gn1', 'gn', 4, 2, 23),
    conv('conv2', 4, 6, 3, 2, [0, 1, 0, 1], 25),
    norm('ln2', 'ln', 6, 1, 27),
  ], linear('fc', 6, classes, 29), mish);
}

/** Four KNConv layers (3x3, 3x3 stride 2, 2x2 asymmetric padding, 3x3 stride 2) and a linear head, KN dropout 0. */
export function knModel(classes: number): DpModel & { dispose(): void } {
  return model('tiny_kn', 'kn', [
    knconv('kn1', 3, 5, 3, 1, [1, 1, 1, 1], 31),
    knconv('kn2', 5, 6, 3, 2, [1, 1, 1, 1], 33),
    knconv('kn3', 6, 4, 2, 1, [0, 1, 0, 1], 35),
    // 4x4 → 2x2 with 36 inputs and 8 outputs per position: small enough for ghost norms
    knconv('kn4', 4, 8, 3, 2, [1, 1, 1, 1], 39),
  ], linear('fc', 8, classes, 37), mish);
}

/** KNConv layers with KN dropout whose mask seed reaches the tap (`seed`). */
export function knDropoutModel(classes: number, dropout: number): DpModel & { dispose(): void } {
  return model('tiny_kn_dropout', 'kn', [
    knconv('kn1', 3, 5, 3, 1, [1, 1, 1, 1], 51, dropout),
    knconv('kn2', 5, 6, 3, 2, [1, 1, 1, 1], 53, dropout),
  ], linear('fc', 6, classes, 57), mish);
}

/** A model claiming BatchNorm, to check the refusal. */
export function bnModel(): DpModel & { dispose(): void } {
  const m = model('resnet18_bn', 'bn', [conv('conv1', 3, 4, 3, 1, [1, 1, 1, 1], 41)], linear('fc', 4, 2, 43), (x) => x);
  return m;
}
