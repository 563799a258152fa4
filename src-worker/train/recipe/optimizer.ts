import type * as tf from '@tensorflow/tfjs';
import type { RunSpec } from '../../run-spec';
import { Sgd, type NamedParameter } from '../sgd';
import type { TrainableModel } from '../types';
import { AdamW, decayGroups, type AdamWState } from './adamw';

/**
 * The run's optimizer, chosen by `spec.optimizer`: PyTorch's SGD (the paper's ResNet recipes, DP-SGD) or AdamW
 * with torchvision's weight-decay groups (the ConvNeXt recipe). The loop only steps it; checkpoints read the
 * state of whichever it is.
 */
export type RunOptimizer =
  | { kind: 'sgd'; sgd: Sgd; step(grads: tf.NamedTensorMap, lr: number): void; dispose(): void }
  | { kind: 'adamw'; adamw: AdamW; step(grads: tf.NamedTensorMap, lr: number): void; dispose(): void };

export class OptimizerConfigError extends Error {
  override name = 'OptimizerConfigError';
}

const NORM_KINDS = new Set(['bn', 'gn', 'ln']);

/**
 * The gains and biases of the model's BatchNorm/GroupNorm/LayerNorm layers (torchvision's `norm_classes`),
 * found through layers() by variable identity, so paths need no naming convention.
 */
export function normParameters(model: TrainableModel): Set<tf.Variable> {
  if (!model.layers) throw new OptimizerConfigError(`model ${model.info.name} does not list its layers, so its norm parameters cannot be told apart`);
  const out = new Set<tf.Variable>();
  for (const layer of model.layers()) {
    if (!NORM_KINDS.has(layer.kind)) continue;
    if (layer.gamma) out.add(layer.gamma);
    if (layer.beta) out.add(layer.beta);
  }
  return out;
}

export function createOptimizer(spec: RunSpec, model: TrainableModel, params: NamedParameter[]): RunOptimizer {
  const normDecay = spec.normWeightDecay ?? spec.weightDecay;
  if (spec.optimizer === 'sgd') {
    if (normDecay !== spec.weightDecay) {
      throw new OptimizerConfigError(
        `normWeightDecay (${normDecay}) differs from weightDecay (${spec.weightDecay}), but only --optimizer adamw has per-group weight decay; ` +
        'leave --norm-weight-decay unset with SGD',
      );
    }
    const sgd = new Sgd(params, { momentum: spec.momentum, weightDecay: spec.weightDecay, nesterov: spec.nesterov ?? false });
    return { kind: 'sgd', sgd, step: (grads, lr) => sgd.step(grads, lr), dispose: () => sgd.dispose() };
  }
  if (spec.dp) throw new OptimizerConfigError('DP-SGD trains with SGD; --optimizer adamw cannot be combined with --dp');
  const norms = normDecay === spec.weightDecay ? new Set<tf.Variable>() : normParameters(model);
  const groups = decayGroups(params.map((p) => ({ ...p, isNorm: norms.has(p.variable) })), spec.weightDecay, normDecay);
  const adamw = new AdamW(groups, { beta1: spec.adamBeta1, beta2: spec.adamBeta2, eps: spec.adamEps });
  return { kind: 'adamw', adamw, step: (grads, lr) => adamw.step(grads, lr), dispose: () => adamw.dispose() };
}

export type { AdamWState };
