import * as tf from '@tensorflow/tfjs';
import type { NamedParameter } from '../sgd';

/** A parameter and the weight decay its group gets (torchvision's recipe: 0 for norm layers' parameters). */
export interface DecayedParameter extends NamedParameter {
  weightDecay: number;
}

export interface AdamWOptions {
  beta1?: number;
  beta2?: number;
  eps?: number;
}

/** First and second moments by parameter path, and the step count the bias corrections use. */
export interface AdamWState {
  step: number;
  moments: { path: string; shape: number[]; m: Float32Array; v: Float32Array }[];
}

/**
 * torch.optim.AdamW (amsgrad off), step for step:
 *   p ← p·(1 − lr·wd);  m ← β1·m + (1 − β1)·g;  v ← β2·v + (1 − β2)·g²;
 *   p ← p − (lr / (1 − β1ᵗ)) · m / (√v / √(1 − β2ᵗ) + ε)
 * The decay is decoupled from the gradient (applied to the weights before the Adam step), which is what
 * separates AdamW from Adam with an L2 term.
 */
export class AdamW {
  private readonly params: DecayedParameter[];
  private readonly m = new Map<string, tf.Variable>();
  private readonly v = new Map<string, tf.Variable>();
  private readonly beta1: number;
  private readonly beta2: number;
  private readonly eps: number;
  private stepCount = 0;

  constructor(params: DecayedParameter[], opts: AdamWOptions = {}) {
    this.beta1 = opts.beta1 ?? 0.9;
    this.beta2 = opts.beta2 ?? 0.999;
    this.eps = opts.eps ?? 1e-8;
    for (const [name, beta] of [['beta1', this.beta1], ['beta2', this.beta2]] as const) {
      if (!(beta >= 0 && beta < 1)) throw new Error(`Error in AdamW: ${name} must be in [0, 1), got ${beta}`);
    }
    if (!(this.eps > 0)) throw new Error(`Error in AdamW: eps must be > 0, got ${this.eps}`);
    const seen = new Set<string>();
    for (const p of params) {
      if (seen.has(p.path)) throw new Error(`Error in AdamW: duplicate parameter path "${p.path}"`);
      if (!(p.weightDecay >= 0)) throw new Error(`Error in AdamW: weight decay of "${p.path}" must be >= 0, got ${p.weightDecay}`);
      seen.add(p.path);
      // allocated up front so the tensor count stays flat from the first step on
      this.m.set(p.path, tf.tidy(() => tf.variable(tf.zerosLike(p.variable), false)));
      this.v.set(p.path, tf.tidy(() => tf.variable(tf.zerosLike(p.variable), false)));
    }
    this.params = params;
  }

  /** One update; `grads` is keyed by variable name. A parameter without a gradient is skipped, as in PyTorch. */
  step(grads: tf.NamedTensorMap, lr: number): void {
    this.stepCount += 1;
    const t = this.stepCount;
    const stepSize = lr / (1 - this.beta1 ** t);
    const correction2Sqrt = Math.sqrt(1 - this.beta2 ** t);
    tf.tidy(() => {
      for (const { path, variable, weightDecay } of this.params) {
        const grad = grads[variable.name];
        if (!grad) continue;
        const m = this.moment(this.m, path);
        const v = this.moment(this.v, path);
        const decayed = weightDecay === 0 ? variable : tf.mul(variable, 1 - lr * weightDecay);
        m.assign(tf.add(tf.mul(m, this.beta1), tf.mul(grad, 1 - this.beta1)));
        v.assign(tf.add(tf.mul(v, this.beta2), tf.mul(tf.square(grad), 1 - this.beta2)));
        const denom = tf.add(tf.div(tf.sqrt(v), correction2Sqrt), this.eps);
        variable.assign(tf.sub(decayed, tf.mul(tf.div(m, denom), stepSize)));
      }
    });
  }

  get steps(): number {
    return this.stepCount;
  }

  /** Both moments of every parameter, read in one batch (GPU backends have no synchronous reads). */
  async getState(): Promise<AdamWState> {
    const paths = [...this.m.keys()];
    const reads = await Promise.all(
      paths.flatMap((path) => [this.moment(this.m, path).data(), this.moment(this.v, path).data()] as Promise<Float32Array>[]),
    );
    return {
      step: this.stepCount,
      moments: paths.map((path, i) => ({
        path,
        shape: [...this.moment(this.m, path).shape],
        m: reads[2 * i] ?? new Float32Array(),
        v: reads[2 * i + 1] ?? new Float32Array(),
      })),
    };
  }

  setState(state: AdamWState): void {
    const byPath = new Map(state.moments.map((s) => [s.path, s]));
    for (const path of this.m.keys()) {
      const saved = byPath.get(path);
      if (!saved) throw new Error(`Error in AdamW.setState: no moments for "${path}"`);
      for (const [which, store, values] of [['m', this.m, saved.m], ['v', this.v, saved.v]] as const) {
        const target = this.moment(store, path);
        if (values.length !== target.size) {
          throw new Error(`Error in AdamW.setState: ${which} of "${path}" has ${values.length} values, expected ${target.size}`);
        }
        tf.tidy(() => target.assign(tf.tensor(values, target.shape, 'float32')));
      }
    }
    this.stepCount = state.step;
  }

  dispose(): void {
    for (const t of [...this.m.values(), ...this.v.values()]) t.dispose();
    this.m.clear();
    this.v.clear();
  }

  private moment(store: Map<string, tf.Variable>, path: string): tf.Variable {
    const found = store.get(path);
    if (!found) throw new Error(`Error in AdamW: no state for parameter "${path}"`);
    return found;
  }
}

/**
 * torchvision's `set_weight_decay(model, wd, norm_weight_decay=0)`: parameters of normalization layers
 * (BatchNorm, GroupNorm, LayerNorm) get `normWeightDecay`, every other parameter (conv and linear weights and
 * biases, layer scales) gets `weightDecay`.
 */
export function decayGroups(
  params: readonly (NamedParameter & { isNorm: boolean })[],
  weightDecay: number,
  normWeightDecay = 0,
): DecayedParameter[] {
  return params.map(({ path, variable, isNorm }) => ({ path, variable, weightDecay: isNorm ? normWeightDecay : weightDecay }));
}
