import * as tf from '@tensorflow/tfjs';

/** The part of the wasm backend (BackendWasm) a composite kernel uses. */
export interface DisposingBackend {
  disposeData(dataId: tf.DataId, force?: boolean): boolean;
  readSync(dataId: tf.DataId): unknown;
  makeOutput(shape: number[], dtype: tf.DataType, memoryOffset?: number, values?: Float32Array): tf.TensorInfo;
}

/** With in-place access to tensor values: views into the wasm heap, valid until the next allocation. */
export interface HeapBackend extends DisposingBackend {
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
}

type KernelInputs = tf.NamedTensorInfoMap | tf.TensorInfo[];

/**
 * Runs other wasm kernels from inside a kernelFunc, where tf ops are off limits (they would re-enter the
 * engine and record on the tape). Every tensor a kernel returns is tracked so `finish` can free all the
 * intermediates except the result, also when a step throws.
 */
export class WasmKernelRunner {
  private readonly made: tf.TensorInfo[] = [];

  constructor(private readonly backend: DisposingBackend) {}

  run(kernelName: string, inputs: KernelInputs, attrs: tf.NamedAttrMap = {}): tf.TensorInfo {
    const kernel = tf.getKernel(kernelName, 'wasm');
    if (kernel == null) throw new Error(`wasm training kernels: the wasm backend has no ${kernelName} kernel`);
    // Array inputs (Concat) are what tfjs passes to such kernels; the registry's type only names the map form.
    const out = kernel.kernelFunc({ inputs: inputs as tf.NamedTensorInfoMap, backend: this.backend, attrs });
    if (Array.isArray(out)) throw new Error(`wasm training kernels: ${kernelName} returned several outputs`);
    this.made.push(out);
    return out;
  }

  reshape(x: tf.TensorInfo, shape: number[]): tf.TensorInfo {
    return this.run('Reshape', { x }, { shape });
  }

  transpose(x: tf.TensorInfo, perm: number[]): tf.TensorInfo {
    return this.run('Transpose', { x }, { perm });
  }

  slice(x: tf.TensorInfo, begin: number[], size: number[]): tf.TensorInfo {
    return this.run('Slice', { x }, { begin, size });
  }

  /** Cuts `x` to `size` from `begin`, skipping the copy when nothing would be cut. */
  sliceIfNeeded(x: tf.TensorInfo, begin: number[], size: number[]): tf.TensorInfo {
    const whole = begin.every((b) => b === 0) && size.every((s, i) => s === x.shape[i]);
    return whole ? x : this.slice(x, begin, size);
  }

  /** A copy of a float32 tensor's values, for small tensors that are cheaper to rearrange in JS. */
  read(x: tf.TensorInfo): Float32Array {
    if (x.dtype !== 'float32') throw new Error(`wasm training kernels: expected a float32 tensor, got ${x.dtype}`);
    return this.backend.readSync(x.dataId) as Float32Array;
  }

  fromValues(values: Float32Array, shape: number[]): tf.TensorInfo {
    const out = this.backend.makeOutput(shape, 'float32', undefined, values);
    this.made.push(out);
    return out;
  }

  zeros(shape: number[]): tf.TensorInfo {
    return this.run('Fill', {}, { shape, value: 0, dtype: 'float32' });
  }

  /** Frees every intermediate except `result`, which the caller hands to the engine. */
  finish(result: tf.TensorInfo): tf.TensorInfo {
    // An input passed through unchanged still belongs to its tensor: the engine must get its own copy.
    if (!this.made.includes(result)) result = this.run('Identity', { x: result });
    for (const t of this.made) if (t !== result) this.backend.disposeData(t.dataId);
    this.made.length = 0;
    return result;
  }

  /** Frees every intermediate; for the error path. */
  abandon(): void {
    for (const t of this.made) this.backend.disposeData(t.dataId);
    this.made.length = 0;
  }
}

/** Runs `body` with a fresh runner and guarantees its intermediates are freed whatever happens. */
export function withKernelRunner(backend: DisposingBackend, body: (run: WasmKernelRunner) => tf.TensorInfo): tf.TensorInfo {
  const runner = new WasmKernelRunner(backend);
  try {
    return runner.finish(body(runner));
  } catch (err) {
    runner.abandon();
    throw err;
  }
}
