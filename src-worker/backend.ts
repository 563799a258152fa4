import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
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
}

const require = createRequire(import.meta.url);
let current: BackendChoice | null = null;

async function tryNative(pkg: '@tensorflow/tfjs-node-gpu' | '@tensorflow/tfjs-node'): Promise<void> {
  // Native packages are optionalDependencies: absent wherever libtensorflow could not be downloaded.
  await import(pkg);
  await tf.setBackend('tensorflow');
  await tf.ready();
}

async function tryWasm(): Promise<void> {
  const wasmFile = require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm');
  setWasmPaths(dirname(wasmFile) + '/');
  registerWasmTrainingKernels();
  if (!(await tf.setBackend('wasm'))) throw new Error('tf.setBackend("wasm") returned false');
  await tf.ready();
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
      current = { backend: attempt.backend, package: attempt.pkg, skipped };
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
