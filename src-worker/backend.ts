import * as tf from '@tensorflow/tfjs';
import { getThreadsCount, setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { backendRequestSchema, type BackendRequest } from './run-spec';
import { registerWasmTrainingKernels } from './wasm-kernels';
import { activateWebGpu, listDawnAdapters, type GpuAdapterReport } from './webgpu-backend';
import { placeAdapter } from './webgpu-placement';
import { AUTO_ORDER, type AutoCandidate } from './backend-order';

export { AUTO_ORDER, type AutoCandidate };

export type { BackendRequest };
export type BackendName = Exclude<BackendRequest, 'auto'>;

export interface BackendChoice {
  /** The tfjs backend now active. */
  backend: BackendName;
  /** Which native package provided it, when native. */
  package?: '@tensorflow/tfjs-node-gpu' | '@tensorflow/tfjs-node';
  /** Why each backend tried before the chosen one was not used. */
  skipped: { backend: string; reason: string }[];
  /** For wasm: whether the SIMD build loaded, and its thread count (1 in Node: no worker threads). */
  wasm?: { simd: boolean; threads: number };
  /** For webgpu: the adapter it runs on. */
  adapter?: GpuAdapterReport;
  /** Things the run should know about where it landed (e.g. a GPU slot that could not get its own adapter). */
  warnings?: string[];
}

const BACKEND_REQUESTS: readonly BackendRequest[] = backendRequestSchema.options;
type NativePackage = NonNullable<BackendChoice['package']>;

const nodeRequire = createRequire(import.meta.url);
let current: BackendChoice | null = null;

async function tryNative(pkg: NativePackage, needGpu: boolean): Promise<void> {
  // Native packages are optionalDependencies: absent wherever libtensorflow could not be downloaded.
  try {
    await import(pkg);
  } catch (err) {
    const code = (err as { code?: string }).code;
    const missingItself = (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') && reasonOf(err).includes(`'${pkg}'`);
    if (missingItself) {
      throw new Error(`${pkg} is not installed (an optional dependency, skipped where its native binary is unavailable)`, { cause: err });
    }
    throw err;
  }
  await tf.setBackend('tensorflow');
  await tf.ready();
  // tfjs-node-gpu falls back to libtensorflow's CPU kernels when CUDA or the GPU is missing; then a GPU
  // elsewhere (webgpu) is the better choice
  if (needGpu && (tf.backend() as { isUsingGpuDevice?: boolean }).isUsingGpuDevice === false) {
    throw new Error(`${pkg} loaded but sees no GPU (CUDA 11.2 / cuDNN 8.1 missing, or CUDA_VISIBLE_DEVICES hides them)`);
  }
}

let placementWarning: string | undefined;

async function tryWebGpu(allowSoftware: boolean): Promise<GpuAdapterReport> {
  // a scheduler's GPU slot names its GPU; anything else takes Dawn's default adapter
  const placement = process.env.NORMLAB_GPU_NAME ? placeAdapter(await listDawnAdapters()) : {};
  placementWarning = placement.warning;
  return activateWebGpu({ refuseSoftware: !allowSoftware, adapterName: placement.adapterName });
}

async function tryWasm(): Promise<void> {
  // Resolved from this module, not the cwd, so the .wasm files are found wherever the worker starts.
  const wasmFile = nodeRequire.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm');
  setWasmPaths(dirname(wasmFile) + '/');
  registerWasmTrainingKernels();
  if (!(await tf.setBackend('wasm'))) throw new Error('tf.setBackend("wasm") returned false');
  await tf.ready();
}

async function wasmDetails(): Promise<NonNullable<BackendChoice['wasm']>> {
  return { simd: Boolean(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')), threads: getThreadsCount() };
}

async function tryCpu(): Promise<void> {
  await tf.setBackend('cpu');
  await tf.ready();
}

function reasonOf(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.split('\n')[0] ?? message;
}

/**
 * Activates a tfjs backend. `auto` prefers the fastest one that works: tfjs-node-gpu when it loads and sees a
 * GPU, then webgpu on a hardware adapter, tfjs-node, wasm, cpu, and reports why the ones before it were skipped
 * so the UI can say so. A software WebGPU adapter (SwiftShader, lavapipe) is slower than wasm: only an explicit
 * `webgpu` request uses it.
 */
export async function initBackend(request: BackendRequest = 'auto'): Promise<BackendChoice> {
  if (!BACKEND_REQUESTS.includes(request)) {
    throw new Error(`initBackend: unknown backend "${String(request)}"; expected one of ${BACKEND_REQUESTS.join(', ')}`);
  }
  const skipped: BackendChoice['skipped'] = [];
  type Attempt = { backend: BackendName; pkg?: BackendChoice['package']; run: () => Promise<GpuAdapterReport | void> };
  const auto = request === 'auto';
  const attemptOf = (candidate: AutoCandidate): Attempt => {
    switch (candidate) {
      case '@tensorflow/tfjs-node-gpu':
        return { backend: 'tensorflow', pkg: candidate, run: () => tryNative(candidate, auto) };
      case '@tensorflow/tfjs-node':
        return { backend: 'tensorflow', pkg: candidate, run: () => tryNative(candidate, false) };
      case 'webgpu':
        return { backend: 'webgpu', run: () => tryWebGpu(!auto) };
      case 'wasm':
        return { backend: 'wasm', run: tryWasm };
      case 'cpu':
        return { backend: 'cpu', run: tryCpu };
    }
  };
  const attempts = AUTO_ORDER.map(attemptOf).filter((a) => auto || a.backend === request);

  for (const attempt of attempts) {
    try {
      const adapter = await attempt.run();
      current = { backend: attempt.backend, skipped };
      if (attempt.pkg != null) current.package = attempt.pkg;
      if (attempt.backend === 'wasm') current.wasm = await wasmDetails();
      if (adapter) current.adapter = adapter;
      if (attempt.backend === 'webgpu' && placementWarning) current.warnings = [placementWarning];
      return current;
    } catch (err) {
      skipped.push({ backend: attempt.pkg ?? attempt.backend, reason: reasonOf(err) });
    }
  }
  const detail = skipped.map((s) => `${s.backend}: ${s.reason}`).join('; ');
  throw new Error(`initBackend: no usable backend for request "${request}" (${detail})`);
}

export function currentBackend(): BackendChoice | null {
  return current;
}
