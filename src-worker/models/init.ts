import * as tf from '@tensorflow/tfjs';

/** Creates a parameter's initial value; `seed` makes it deterministic. */
export type Initializer = (shape: number[], seed: number) => tf.Tensor;

/**
 * Mixes integers into one 32-bit seed (murmur3 finaliser per part), so seeds derived from
 * (model seed, parameter path) or (model seed, step, layer) do not collide in practice.
 */
export function mixSeed(...parts: number[]): number {
  let h = 0x9e3779b9;
  for (const part of parts) {
    // split into two 32-bit halves so large step counters or seeds keep all their bits
    for (const word of [part >>> 0, Math.floor(part / 2 ** 32) >>> 0]) {
      h = Math.imul(h ^ word, 0x85ebca6b);
      h ^= h >>> 13;
      h = Math.imul(h, 0xc2b2ae35);
      h ^= h >>> 16;
    }
  }
  return h >>> 0;
}

export function hashString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** nn.init.kaiming_normal_(mode='fan_out', nonlinearity='relu'): N(0, 2 / fan_out). */
export function kaimingNormalFanOut(fanOut: number): Initializer {
  const std = Math.sqrt(2 / fanOut);
  return (shape, seed) => tf.randomNormal(shape, 0, std, 'float32', seed);
}

/**
 * U(-1/√fan_in, 1/√fan_in): PyTorch's default for Conv2d/Linear weights (kaiming_uniform with a=√5 reduces
 * to this bound) and for their biases.
 */
export function pytorchDefaultUniform(fanIn: number): Initializer {
  const bound = 1 / Math.sqrt(fanIn);
  return (shape, seed) => tf.randomUniform(shape, -bound, bound, 'float32', seed);
}

export function constantInit(value: number): Initializer {
  return (shape) => tf.fill(shape, value);
}

/**
 * nn.init.trunc_normal_(std=0.02): torch truncates at a = −2, b = 2 in absolute units, i.e. at ±100σ, so the draw
 * is a plain N(0, 0.02²) in practice. tf.truncatedNormal would cut at ±2σ and shrink the spread, so it is not used.
 */
export const truncatedNormal002: Initializer = (shape, seed) => tf.randomNormal(shape, 0, 0.02, 'float32', seed);
