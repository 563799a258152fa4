import * as tf from '@tensorflow/tfjs';
// Its kernels must be registered before ours replace them, or they would overwrite ours on import.
import '@tensorflow/tfjs-backend-wasm';
import { conv2dBackpropFilterConfig } from './wasm-kernels/conv2d-backprop-filter';
import { conv2dBackpropInputConfig } from './wasm-kernels/conv2d-backprop-input';
import { depthwiseBackpropFilterConfig, depthwiseBackpropInputConfig } from './wasm-kernels/depthwise-backprop';
import { maxPoolGradConfig } from './wasm-kernels/max-pool-grad';
import { unsortedSegmentSumConfig } from './wasm-kernels/unsorted-segment-sum';

/**
 * Gradient kernels the wasm backend lacks (Conv2DBackpropFilter; both depthwise conv gradients, for ConvNeXt;
 * UnsortedSegmentSum, tf.gather's gradient),
 * runs slowly (its Conv2DBackpropInput is a scalar loop) or gets wrong (its MaxPoolGrad drops windows
 * whose values are all negative). The conv gradients become forward convolutions that XNNPACK runs fast.
 */
const TRAINING_KERNELS: readonly tf.KernelConfig[] = [
  conv2dBackpropFilterConfig,
  conv2dBackpropInputConfig,
  maxPoolGradConfig,
  unsortedSegmentSumConfig,
  depthwiseBackpropInputConfig,
  depthwiseBackpropFilterConfig,
];

/** The wasm backend's own kernels that ours replaced, kept so benchmarks can compare against them. */
const builtinKernels = new Map<string, tf.KernelConfig>();

/** Registers (or re-registers after someone else replaced them) our wasm training kernels; idempotent. */
export function registerWasmTrainingKernels(): void {
  for (const config of TRAINING_KERNELS) {
    const existing = tf.getKernel(config.kernelName, 'wasm');
    if (existing?.kernelFunc === config.kernelFunc) continue;
    if (existing != null) {
      if (!builtinKernels.has(config.kernelName)) builtinKernels.set(config.kernelName, existing);
      tf.unregisterKernel(config.kernelName, 'wasm');
    }
    tf.registerKernel(config);
  }
}

/** The wasm backend's built-in kernel that `registerWasmTrainingKernels` replaced, if it replaced one. */
export function builtinWasmKernel(kernelName: string): tf.KernelConfig | undefined {
  return builtinKernels.get(kernelName);
}

export const wasmTrainingKernelNames: readonly string[] = TRAINING_KERNELS.map((k) => k.kernelName);
