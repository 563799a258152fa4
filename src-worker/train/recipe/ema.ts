import * as tf from '@tensorflow/tfjs';

/**
 * torchvision's recipe adjusts the EMA decay to the batch size and update interval:
 *   α = min(1, (1 − decay) · worldSize · batchSize · everySteps / epochs),  decay' = 1 − α
 * (defaults: decay 0.99998, an update every 32 steps).
 */
export function adjustedEmaDecay(opts: { decay?: number; batchSize: number; worldSize?: number; everySteps?: number; epochs: number }): number {
  const decay = opts.decay ?? 0.99998;
  const alpha = Math.min(1, (1 - decay) * (opts.worldSize ?? 1) * opts.batchSize * (opts.everySteps ?? 32) / opts.epochs);
  return 1 - alpha;
}

/**
 * An exponential moving average of a model's variables (torch's AveragedModel with use_buffers=True: BN running
 * statistics are averaged too). The first update copies; so does every update while `copying` is set, as the
 * recipe keeps copying during the lr warm-up epochs.
 */
export class WeightEma {
  private readonly shadows = new Map<string, tf.Variable>();
  private averaged = 0;

  constructor(private readonly sources: readonly { path: string; variable: tf.Variable }[], private readonly decay: number) {
    if (!(decay >= 0 && decay <= 1)) throw new Error(`Error in WeightEma: decay must be in [0, 1], got ${decay}`);
    for (const { path, variable } of sources) {
      if (this.shadows.has(path)) throw new Error(`Error in WeightEma: duplicate variable path "${path}"`);
      this.shadows.set(path, tf.tidy(() => tf.variable(variable.clone(), false)));
    }
  }

  /** ema ← decay·ema + (1 − decay)·w, or ema ← w on the first update and while `copying`. */
  update(copying = false): void {
    const copy = copying || this.averaged === 0;
    tf.tidy(() => {
      for (const { path, variable } of this.sources) {
        const shadow = this.shadow(path);
        shadow.assign(copy ? variable : tf.add(tf.mul(shadow, this.decay), tf.mul(variable, 1 - this.decay)));
      }
    });
    this.averaged = copying ? 0 : this.averaged + 1;
  }

  /** Runs `fn` (an evaluation) with the averaged weights in place, then puts the trained weights back. */
  async withAveragedWeights<T>(fn: () => Promise<T>): Promise<T> {
    const saved = tf.tidy(() => this.sources.map(({ variable }) => variable.clone()));
    tf.tidy(() => {
      for (const { path, variable } of this.sources) variable.assign(this.shadow(path));
    });
    try {
      return await fn();
    } finally {
      tf.tidy(() => this.sources.forEach(({ variable }, i) => saved[i] && variable.assign(saved[i])));
      tf.dispose(saved);
    }
  }

  get updates(): number {
    return this.averaged;
  }

  async getState(): Promise<{ averaged: number; values: { path: string; values: Float32Array }[] }> {
    const paths = [...this.shadows.keys()];
    const values = await Promise.all(paths.map((p) => this.shadow(p).data() as Promise<Float32Array>));
    return { averaged: this.averaged, values: paths.map((path, i) => ({ path, values: values[i] ?? new Float32Array() })) };
  }

  setState(state: { averaged: number; values: { path: string; values: Float32Array }[] }): void {
    const byPath = new Map(state.values.map((v) => [v.path, v.values]));
    for (const [path, shadow] of this.shadows) {
      const values = byPath.get(path);
      if (!values || values.length !== shadow.size) {
        throw new Error(`Error in WeightEma.setState: "${path}" needs ${shadow.size} values, got ${values?.length ?? 'none'}`);
      }
      tf.tidy(() => shadow.assign(tf.tensor(values, shadow.shape, 'float32')));
    }
    this.averaged = state.averaged;
  }

  dispose(): void {
    for (const s of this.shadows.values()) s.dispose();
    this.shadows.clear();
  }

  private shadow(path: string): tf.Variable {
    const found = this.shadows.get(path);
    if (!found) throw new Error(`Error in WeightEma: no average for "${path}"`);
    return found;
  }
}
