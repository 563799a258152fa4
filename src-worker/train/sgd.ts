import * as tf from '@tensorflow/tfjs';

export interface SgdOptions {
  momentum: number;
  weightDecay: number;
  /** PyTorch's dampening; the reference and the paper use 0. */
  dampening?: number;
  nesterov?: boolean;
}

export interface NamedParameter {
  path: string;
  variable: tf.Variable;
}

/** Momentum buffers by parameter path, as stored in a checkpoint. */
export interface SgdState {
  /** False until the first step: PyTorch seeds each buffer with the first gradient instead of decaying zeros. */
  initialized: boolean;
  buffers: { path: string; shape: number[]; values: Float32Array }[];
}

/**
 * torch.optim.SGD, step for step:
 *   g ← g + wd·p;  buf ← g (first step) | μ·buf + (1 − dampening)·g;  g ← g + μ·buf (nesterov) | buf;  p ← p − lr·g
 * Weight decay applies to every parameter handed in: the reference passes model.parameters() to SGD, so
 * norm gains/biases and conv biases are decayed too.
 */
export class Sgd {
  private readonly params: NamedParameter[];
  private readonly buffers = new Map<string, tf.Variable>();
  private initialized = false;
  private readonly momentum: number;
  private readonly weightDecay: number;
  private readonly dampening: number;
  private readonly nesterov: boolean;

  constructor(params: NamedParameter[], opts: SgdOptions) {
    if (!(opts.momentum >= 0)) throw new Error(`Error in Sgd: momentum must be >= 0, got ${opts.momentum}`);
    if (!(opts.weightDecay >= 0)) throw new Error(`Error in Sgd: weightDecay must be >= 0, got ${opts.weightDecay}`);
    const dampening = opts.dampening ?? 0;
    if (opts.nesterov && (opts.momentum <= 0 || dampening !== 0)) {
      throw new Error('Error in Sgd: nesterov requires momentum > 0 and dampening 0');
    }
    this.params = params;
    this.momentum = opts.momentum;
    this.weightDecay = opts.weightDecay;
    this.dampening = dampening;
    this.nesterov = opts.nesterov ?? false;
    const seen = new Set<string>();
    for (const p of params) {
      if (seen.has(p.path)) throw new Error(`Error in Sgd: duplicate parameter path "${p.path}"`);
      seen.add(p.path);
      // Allocated up front so the tensor count stays constant from the first step on.
      if (this.momentum !== 0) this.buffers.set(p.path, tf.tidy(() => tf.variable(tf.zerosLike(p.variable), false)));
    }
  }

  /**
   * Applies one update. `grads` is keyed by variable name (what tf.variableGrads returns); a parameter without
   * a gradient is skipped, as PyTorch skips parameters whose .grad is None.
   */
  step(grads: tf.NamedTensorMap, lr: number): void {
    tf.tidy(() => {
      const lrScalar = tf.scalar(lr);
      for (const { path, variable } of this.params) {
        const grad = grads[variable.name];
        if (!grad) continue;
        let d = grad;
        if (this.weightDecay !== 0) d = tf.add(d, tf.mul(variable, this.weightDecay));
        if (this.momentum !== 0) {
          const buf = this.buffers.get(path)!;
          if (!this.initialized) buf.assign(d);
          else buf.assign(tf.add(tf.mul(buf, this.momentum), this.dampening === 0 ? d : tf.mul(d, 1 - this.dampening)));
          d = this.nesterov ? tf.add(d, tf.mul(buf, this.momentum)) : buf;
        }
        variable.assign(tf.sub(variable, tf.mul(d, lrScalar)));
      }
    });
    this.initialized = true;
  }

  /** Whether a step has run (momentum buffers hold gradients, not zeros). */
  get isInitialized(): boolean {
    return this.initialized;
  }

  /** The momentum buffers' values, read in one batch (GPU backends have no synchronous reads). */
  async getState(): Promise<SgdState> {
    const entries = [...this.buffers];
    const values = await Promise.all(entries.map(([, buf]) => buf.data() as Promise<Float32Array>));
    return {
      initialized: this.initialized,
      buffers: entries.map(([path, buf], i) => ({ path, shape: [...buf.shape], values: values[i] })),
    };
  }

  setState(state: SgdState): void {
    const byPath = new Map(state.buffers.map((b) => [b.path, b]));
    for (const [path, buf] of this.buffers) {
      const saved = byPath.get(path);
      if (!saved) throw new Error(`Error in Sgd.setState: no momentum buffer for "${path}"`);
      if (saved.values.length !== buf.size) {
        throw new Error(`Error in Sgd.setState: buffer "${path}" has ${saved.values.length} values, expected ${buf.size}`);
      }
      tf.tidy(() => buf.assign(tf.tensor(saved.values, buf.shape, 'float32')));
    }
    this.initialized = state.initialized;
  }

  dispose(): void {
    for (const buf of this.buffers.values()) buf.dispose();
    this.buffers.clear();
  }
}
