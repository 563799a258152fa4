import * as tf from '@tensorflow/tfjs';
import type { ForwardContext, LayerInfo } from '../../models/types';
import { layerSampleGrads, type KnMomentsProvider, type LayerSampleGrads, type ParamGrad } from './layer-grads';

/** What DP-SGD needs of a model (a structural subset of NormLabModel). */
export interface DpModel {
  info: { name: string; norm: string };
  forwardWith(x: tf.Tensor4D, ctx: ForwardContext): tf.Tensor2D;
  layers(): LayerInfo[];
  trainableVariables(): tf.Variable[];
}

export class DpIncompatibleModelError extends Error {
  override name = 'DpIncompatibleModelError';
}

function layerVariables(info: LayerInfo): tf.Variable[] {
  return [info.weight, info.bias, info.gamma, info.beta].filter((v): v is tf.Variable => v != null);
}

/**
 * Refuses models whose per-sample gradients are undefined or that this code cannot factor: BatchNorm
 * couples the examples of a batch, and a trainable variable outside every tapped layer would escape
 * clipping (and so the privacy guarantee).
 */
export function assertDpCompatible(model: DpModel): void {
  const layers = model.layers();
  if (model.info.norm === 'bn' || layers.some((l) => l.kind === 'bn')) {
    throw new DpIncompatibleModelError(
      `DP-SGD cannot train ${model.info.name}: BatchNorm mixes examples in a batch; use a KN, GN or LN model`,
    );
  }
  if (model.info.name.includes('convnext') || layers.some((l) => l.kind === 'dwconv')) {
    throw new DpIncompatibleModelError(
      `DP-SGD cannot train ${model.info.name}: per-sample gradients of its depthwise convs and layer scales are not implemented`,
    );
  }
  const covered = new Set(layers.flatMap(layerVariables).map((v) => v.name));
  const missing = model.trainableVariables().filter((v) => !covered.has(v.name));
  if (missing.length > 0) {
    throw new DpIncompatibleModelError(
      `DP-SGD cannot train ${model.info.name}: trainable variables outside every tapped layer: ${missing.map((v) => v.name).join(', ')}`,
    );
  }
}

/** Σ_i cross-entropy(logits_i, y_i): a sum, so the gradient at each layer output is each example's own. */
export function crossEntropySum(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Scalar {
  return tf.tidy(() => {
    const logProbs = tf.logSoftmax(logits, 1);
    const oneHot = tf.oneHot(tf.cast(labels, 'int32'), logits.shape[1]);
    return tf.neg(tf.sum(tf.mul(oneHot, logProbs))) as tf.Scalar;
  });
}

/** Output shape (without the batch axis) of every tapped layer, in forward order, per input image shape. */
const outputShapeCache = new WeakMap<DpModel, Map<string, { path: string; shape: number[] }[]>>();

function tappedOutputShapes(model: DpModel, x: tf.Tensor4D): { path: string; shape: number[] }[] {
  let byInput = outputShapeCache.get(model);
  if (!byInput) outputShapeCache.set(model, (byInput = new Map<string, { path: string; shape: number[] }[]>()));
  const key = x.shape.slice(1).join('x');
  let shapes = byInput.get(key);
  if (!shapes) {
    const found: { path: string; shape: number[] }[] = [];
    // one example in eval mode is enough to learn the shapes; nothing of it is kept
    tf.tidy(() => {
      model.forwardWith(tf.slice(x, 0, 1), {
        training: false,
        tap: (info, _input, output) => {
          found.push({ path: info.path, shape: output.shape.slice(1) });
          return output;
        },
      });
    });
    byInput.set(key, (shapes = found));
  }
  return shapes;
}

export interface TappedLayer {
  info: LayerInfo;
  /** The layer's input during the forward. */
  input: tf.Tensor;
  /** ∂(Σ_i ℓ_i)/∂output: row i is example i's own output gradient. */
  outputGrad: tf.Tensor;
}

export interface TappedBackward {
  lossSum: tf.Scalar;
  layers: TappedLayer[];
  dispose(): void;
}

/**
 * One forward (training mode) and one backward for the whole batch, differentiated w.r.t. zero "probe"
 * tensors added to each parameterised layer's output, not w.r.t. the weights. The probe gradients are the
 * per-example output gradients every per-sample weight gradient is built from.
 */
export function tappedBackward(model: DpModel, x: tf.Tensor4D, labels: tf.Tensor1D, step?: number): TappedBackward {
  const n = x.shape[0];
  if (labels.shape[0] !== n) {
    throw new Error(`DP-SGD: ${n} images but ${labels.shape[0]} labels`);
  }
  const shapes = tappedOutputShapes(model, x);
  const indexOf = new Map(shapes.map((s, k) => [s.path, k]));
  const probes = shapes.map((s) => tf.zeros([n, ...s.shape]));
  const recorded = new Array<{ info: LayerInfo; input: tf.Tensor }>(shapes.length);
  try {
    const { value, grads } = tf.valueAndGrads((...ps: tf.Tensor[]) => {
      const logits = model.forwardWith(x, {
        training: true,
        step,
        tap: (info, input, output) => {
          const k = indexOf.get(info.path);
          if (k === undefined) throw new Error(`DP-SGD: layer ${info.path} was not seen when the model's shapes were probed`);
          // a clone, so disposing the record never frees the caller's x (the first layer's input)
          recorded[k] = { info, input: tf.keep(tf.clone(input)) };
          return tf.add(output, ps[k]);
        },
      });
      return crossEntropySum(logits, labels);
    })(probes);
    const layers = shapes.map((s, k) => {
      if (!recorded[k]) throw new Error(`DP-SGD: layer ${s.path} was not tapped in the training forward`);
      return { ...recorded[k], outputGrad: grads[k] };
    });
    return {
      lossSum: value,
      layers,
      dispose() {
        value.dispose();
        for (const l of layers) tf.dispose([l.input, l.outputGrad]);
      },
    };
  } catch (err) {
    for (const r of recorded) if (r) r.input.dispose();
    throw err;
  } finally {
    tf.dispose(probes);
  }
}

/** Calls `use` with one layer's factored per-sample gradients and releases them right after. */
export function withLayerGrads<T>(layer: TappedLayer, knMoments: KnMomentsProvider | undefined, use: (g: LayerSampleGrads) => T): T {
  const grads = layerSampleGrads(layer.info, layer.input, layer.outputGrad, knMoments);
  try {
    return use(grads);
  } finally {
    grads.dispose();
  }
}

/** ‖∇_θ ℓ_i‖ over all parameters of the model, [N]. */
export function perSampleGradNorms(tapped: TappedBackward, knMoments?: KnMomentsProvider): tf.Tensor1D {
  return tf.tidy(() => {
    const squared = tapped.layers.map((layer) => withLayerGrads(layer, knMoments, (g) => g.squaredNorms()));
    return tf.sqrt(tf.addN(squared));
  });
}

/**
 * Every example's gradient for every trainable variable, stacked: variable name → [N, ...shape]. Memory is
 * N times the model's; meant for tests and diagnostics, DP-SGD itself never builds this.
 */
export function perSampleGradients(model: DpModel, x: tf.Tensor4D, labels: tf.Tensor1D, opts: { step?: number; knMoments?: KnMomentsProvider } = {}): Map<string, tf.Tensor> {
  assertDpCompatible(model);
  const tapped = tappedBackward(model, x, labels, opts.step);
  const out = new Map<string, tf.Tensor>();
  try {
    for (const layer of tapped.layers) {
      withLayerGrads(layer, opts.knMoments, (g) => g.materialize()).forEach(({ variable, grad }: ParamGrad) => {
        out.set(variable.name, grad);
      });
    }
  } finally {
    tapped.dispose();
  }
  return out;
}
