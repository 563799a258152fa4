import type { RunSpec } from '../run-spec';
import { takeWebGpuFailure } from '../webgpu-backend';

/** The GPU ran out of memory for this run: the run fails with what to change; the scheduler carries on. */
export class GpuOutOfMemoryError extends Error {
  override name = 'GpuOutOfMemoryError';
}

/**
 * Throws if the GPU reported an error since the last check. WebGPU reports errors as events and leaves the
 * results of the failed work undefined, so a step that "succeeded" after one must not be trusted.
 */
export function throwIfGpuFailed(spec: Pick<RunSpec, 'model' | 'batchSize' | 'width'>, during: string): void {
  const failure = takeWebGpuFailure();
  if (!failure) return;
  if (failure.kind === 'out-of-memory') {
    throw new GpuOutOfMemoryError(
      `out of GPU memory: model ${spec.model}, batch ${spec.batchSize}, width ${spec.width} (${during}: ${failure.message}); lower --batch-size or --width`,
    );
  }
  throw new Error(`WebGPU ${failure.kind} error during ${during}: ${failure.message}`);
}
