import * as tf from '@tensorflow/tfjs';
import type { PendingNormStats } from '../kn/stats';
import { hashString, mixSeed, type Initializer } from './init';
import { scaleWidth, type ResolvedModelOptions } from './options';
import type { ForwardContext, LayerInfo } from './types';

/**
 * A parameter slot: shape and initialiser are known when the architecture is built, the tf.Variable exists
 * only after `materialize`, so a model can be described (and its parameters counted) without allocating it.
 */
export class Param {
  private value: tf.Variable | null = null;

  constructor(
    readonly path: string,
    readonly shape: number[],
    readonly init: Initializer,
    readonly trainable: boolean,
  ) {}

  get size(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }

  get variable(): tf.Variable {
    if (!this.value) throw new Error(`parameter ${this.path} is not allocated (model disposed or only described)`);
    return this.value;
  }

  materialize(namePrefix: string, modelSeed: number): void {
    const initial = this.init(this.shape, mixSeed(modelSeed, hashString(this.path)));
    // tfjs registers variable names globally, so the prefix makes them unique per model instance
    this.value = tf.variable(initial, this.trainable, `${namePrefix}/${this.path}`);
    initial.dispose();
  }

  dispose(): void {
    this.value?.dispose();
    this.value = null;
  }
}

/** A layer with parameters: what `layers()` lists and what the tap hook sees. */
export interface ParameterisedLayer {
  readonly path: string;
  info(): LayerInfo;
}

/** Collects parameters and layers while a family file builds an architecture. */
export class ModelBuilder {
  readonly params: Param[] = [];
  readonly layers: ParameterisedLayer[] = [];
  private readonly paths = new Set<string>();
  private knLayers = 0;

  constructor(readonly opts: ResolvedModelOptions) {}

  param(path: string, shape: number[], init: Initializer, trainable = true): Param {
    if (this.paths.has(path)) throw new Error(`ModelBuilder: duplicate parameter path ${path}`);
    this.paths.add(path);
    const p = new Param(path, shape, init, trainable);
    this.params.push(p);
    return p;
  }

  register<T extends ParameterisedLayer>(layer: T): T {
    this.layers.push(layer);
    return layer;
  }

  /** Index of the next KernelNorm layer; with the step it seeds that layer's dropout mask. */
  nextKnIndex(): number {
    return this.knLayers++;
  }

  width(referenceWidth: number): number {
    return scaleWidth(referenceWidth, this.opts.widthMultiplier);
  }
}

export type StatsSink = (kind: 'kn' | 'bn' | 'gn' | 'ln', mean: tf.Tensor, std: tf.Tensor) => void;
/** Takes what a statistics read needs out of a forward pass, without reading it (GPU backends read asynchronously). */
export type StatsSampler = (layer: string, kind: 'kn' | 'bn' | 'gn' | 'ln', mean: tf.Tensor, std: tf.Tensor) => PendingNormStats;

/** Per-forward state threaded through the layers. */
export class RunContext {
  readonly training: boolean;
  readonly stats: PendingNormStats[] | null;

  constructor(
    private readonly ctx: ForwardContext,
    private readonly modelSeed: number,
    private readonly step: number,
    readonly activation: (x: tf.Tensor) => tf.Tensor,
    private readonly sample: StatsSampler,
  ) {
    this.training = ctx.training;
    this.stats = ctx.collectStats ? [] : null;
  }

  /** A sink only when collecting, so ordinary forwards pay nothing. */
  statsSink(path: string): StatsSink | undefined {
    const stats = this.stats;
    if (!stats) return undefined;
    return (kind, mean, std) => {
      stats.push(this.sample(path, kind, mean, std));
    };
  }

  knSeed(knIndex: number): number {
    return mixSeed(this.modelSeed, this.step, knIndex);
  }

  tap<T extends tf.Tensor>(layer: ParameterisedLayer, input: tf.Tensor, output: T, seed?: number): T {
    if (!this.ctx.tap) return output;
    const info = seed === undefined ? layer.info() : { ...layer.info(), seed };
    const replaced = this.ctx.tap(info, input, output);
    if (!tf.util.arraysEqual(replaced.shape, output.shape)) {
      throw new Error(
        `forwardWith: tap for layer ${layer.path} returned shape [${replaced.shape}], expected [${output.shape}]`,
      );
    }
    return replaced as T;
  }
}
