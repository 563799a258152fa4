import * as tf from '@tensorflow/tfjs';
import { getThreadsCount, setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { registerWasmTrainingKernels } from './wasm-kernels';

export type BackendName = 'tensorflow' | 'wasm' | 'cpu';
export type BackendRequest = 'auto' | BackendName;

export interface BackendChoice {
  /** The tfjs backend now active. */
  backend: BackendName;
  /** Which native package provided it, when native. */
  package?: '@tensorflow/tfjs-node-gpu' | '@tensorflow/tfjs-node';
  /** Why each backend tried before the chosen one was not used. */
  skipped: { backend: string; reason: string }[];
  /** For wasm: whether the SIMD build loaded, and its thread count (1 in Node: no worker threads). */
  wasm?: { simd: boolean; threads: number };
}

const BACKEND_REQUESTS: readonly BackendRequest[] = ['auto', 'tensorflow', 'wasm', 'cpu'];
type NativePackage = NonNullable<BackendChoice['package']>;

const require = createRequire(import.meta.url);
let current: BackendChoice | null = null;

async function tryNative(pkg: NativePackage): Promise<void> {
  // Native packages are optionalDependencies: absent wherever libtensorflow could not be downloaded.
  try {
    await import(pkg);
  } catch (err) {
    const code = (err as { code?: string }).code;
    const missingItself = (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') && reasonOf(err).includes(`'${pkg}'`);
    if (missingItself) {
      throw new Error(`${pkg} is not installed (an optional dependency, skipped where its native binary is unavailable)`);
    }
    throw err;
  }
  await tf.setBackend('tensorflow');
  await tf.ready();
}

async function tryWasm(): Promise<void> {
  // Resolved from this module, not the cwd, so the .wasm files are found wherever the worker starts.
  const wasmFile = require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm');
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
 * Activates a tfjs backend. `auto` prefers the fastest one that loads: tfjs-node-gpu, tfjs-node, wasm, cpu,
 * and reports why the ones before it were skipped so the UI can say so.
 */
export async function initBackend(request: BackendRequest = 'auto'): Promise<BackendChoice> {
  if (!BACKEND_REQUESTS.includes(request)) {
    throw new Error(`initBackend: unknown backend "${String(request)}"; expected one of ${BACKEND_REQUESTS.join(', ')}`);
  }
  const skipped: BackendChoice['skipped'] = [];
  const attempts: { backend: BackendName; pkg?: BackendChoice['package']; run: () => Promise<void> }[] = [];
  if (request === 'auto' || request === 'tensorflow') {
    attempts.push({ backend: 'tensorflow', pkg: '@tensorflow/tfjs-node-gpu', run: () => tryNative('@tensorflow/tfjs-node-gpu') });
    attempts.push({ backend: 'tensorflow', pkg: '@tensorflow/tfjs-node', run: () => tryNative('@tensorflow/tfjs-node') });
  }
  if (request === 'auto' || request === 'wasm') attempts.push({ backend: 'wasm', run: tryWasm });
  if (request === 'auto' || request === 'cpu') attempts.push({ backend: 'cpu', run: tryCpu });

  for (const attempt of attempts) {
    try {
      await attempt.run();
      current = { backend: attempt.backend, skipped };
      if (attempt.pkg != null) current.package = attempt.pkg;
      if (attempt.backend === 'wasm') current.wasm = await wasmDetails();
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
