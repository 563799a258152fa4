import * as tf from '@tensorflow/tfjs';
import { mish, relu } from '../kn/activations';
import { readNormStats, sampleNormStats, type NormLayerStats, type PendingNormStats } from '../kn/stats';
import { ModelBuilder, RunContext } from './builder';
import type { ResolvedModelOptions } from './options';
import type {
  ForwardContext, LayerInfo, ModelDescription, ModelInfo, NamedVariable, NormLabModel,
} from './types';

/**
 * What a family file builds: the forward pass over layers registered with the builder. Classifiers return
 * logits [N, classes]; segmentation models (info.task 'segmentation') per-pixel logits [N, H, W, classes].
 */
export interface Architecture {
  forward(x: tf.Tensor4D, rc: RunContext): tf.Tensor2D | tf.Tensor4D;
}

export type ArchitectureFactory = (b: ModelBuilder, info: ModelInfo) => Architecture;

let instanceCounter = 0;

export function describeArchitecture(info: ModelInfo, opts: ResolvedModelOptions, build: ArchitectureFactory): ModelDescription {
  const b = new ModelBuilder(opts);
  build(b, info);
  return {
    info,
    params: b.params.map((p) => ({ path: p.path, shape: [...p.shape], trainable: p.trainable })),
    paramCount: b.params.filter((p) => p.trainable).reduce((sum, p) => sum + p.size, 0),
  };
}

class BuiltModel implements NormLabModel {
  readonly seed: number;
  private readonly builder: ModelBuilder;
  private readonly arch: Architecture;
  private readonly activation: (x: tf.Tensor) => tf.Tensor;
  private trainingForwards = 0;
  /** Sampled by the last forward that collected statistics, not yet read. */
  private pendingStats: PendingNormStats[] = [];
  private disposed = false;
  private epsByPath: Map<string, number> | undefined;

  constructor(readonly info: ModelInfo, opts: ResolvedModelOptions, build: ArchitectureFactory) {
    this.seed = opts.seed;
    this.builder = new ModelBuilder(opts);
    this.arch = build(this.builder, info);
    this.activation = opts.activation === 'mish' ? mish : relu;
    const prefix = `normlab${instanceCounter++}_${info.name}`;
    try {
      for (const p of this.builder.params) p.materialize(prefix, opts.seed);
    } catch (err) {
      for (const p of this.builder.params) p.dispose();
      throw err;
    }
  }

  forward(x: tf.Tensor4D, training: boolean): tf.Tensor2D {
    return this.forwardWith(x, { training });
  }

  /**
   * Runs inside tf.tidy, so intermediates are freed; a tap that creates tensors the caller needs after the
   * forward must tf.keep them.
   */
  forwardWith(x: tf.Tensor4D, ctx: ForwardContext): tf.Tensor2D {
    if (this.info.task === 'segmentation') {
      throw new Error(`${this.info.name}.forwardWith: a segmentation model gives per-pixel logits; use segmentWith`);
    }
    return this.run('forwardWith', x, ctx) as tf.Tensor2D;
  }

  segment(x: tf.Tensor4D, training: boolean): tf.Tensor4D {
    return this.segmentWith(x, { training });
  }

  segmentWith(x: tf.Tensor4D, ctx: ForwardContext): tf.Tensor4D {
    if (this.info.task !== 'segmentation') {
      throw new Error(`${this.info.name}.segmentWith: ${this.info.name} is a classifier; use forwardWith`);
    }
    return this.run('segmentWith', x, ctx) as tf.Tensor4D;
  }

  private run(method: string, x: tf.Tensor4D, ctx: ForwardContext): tf.Tensor2D | tf.Tensor4D {
    this.assertUsable(method);
    if (!(x instanceof tf.Tensor) || x.rank !== 4 || x.shape[3] !== 3) {
      const shape = x instanceof tf.Tensor ? `[${x.shape}]` : String(x);
      throw new Error(`${this.info.name}.${method}: input must be NHWC [N, H, W, 3], got ${shape}`);
    }
    if (typeof ctx?.training !== 'boolean') {
      throw new Error(`${this.info.name}.${method}: ctx.training must be a boolean, got ${String(ctx?.training)}`);
    }
    if (ctx.step !== undefined && !(Number.isSafeInteger(ctx.step) && ctx.step >= 0)) {
      throw new Error(`${this.info.name}.${method}: ctx.step must be a non-negative integer, got ${String(ctx.step)}`);
    }
    const step = ctx.step ?? this.trainingForwards;
    if (ctx.training && ctx.step === undefined) this.trainingForwards++;
    const rc = new RunContext(ctx, this.seed, step, this.activation, (path, kind, mean, std) =>
      sampleNormStats(path, kind, mean, std, undefined, this.layerEps(path)));
    const out = tf.tidy(() => this.arch.forward(x, rc));
    if (rc.stats) {
      // statistics nobody read are dropped, not kept on the device
      for (const p of this.pendingStats) p.samples.dispose();
      this.pendingStats = rc.stats;
    }
    return out;
  }

  layers(): LayerInfo[] {
    this.assertUsable('layers');
    return this.builder.layers.map((l) => l.info());
  }

  namedVariables(): NamedVariable[] {
    this.assertUsable('namedVariables');
    return this.builder.params.map((p) => ({ path: p.path, variable: p.variable, trainable: p.trainable }));
  }

  trainableVariables(): tf.Variable[] {
    this.assertUsable('trainableVariables');
    return this.builder.params.filter((p) => p.trainable).map((p) => p.variable);
  }

  countParams(): number {
    return this.builder.params.filter((p) => p.trainable).reduce((sum, p) => sum + p.size, 0);
  }

  takeNormStats(): Promise<NormLayerStats[]> {
    const pending = this.pendingStats;
    this.pendingStats = [];
    return readNormStats(pending);
  }

  dispose(): void {
    for (const p of this.pendingStats) p.samples.dispose();
    this.pendingStats = [];
    for (const p of this.builder.params) p.dispose();
    this.disposed = true;
  }

  /** The layer's own ε, which its near-constant share is measured against (the ops' default if it has none). */
  private layerEps(path: string): number | undefined {
    this.epsByPath ??= new Map(this.builder.layers.flatMap((l) => {
      const { eps } = l.info();
      return eps === undefined ? [] : [[l.path, eps] as const];
    }));
    return this.epsByPath.get(path);
  }

  private assertUsable(method: string): void {
    if (this.disposed) throw new Error(`${this.info.name}.${method}: model was disposed`);
  }
}

export function buildModel(info: ModelInfo, opts: ResolvedModelOptions, build: ArchitectureFactory): NormLabModel {
  return new BuiltModel(info, opts, build);
}
