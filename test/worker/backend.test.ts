import * as tf from '@tensorflow/tfjs';
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { currentBackend, initBackend, type BackendRequest } from '../../src-worker/backend';
import { wasmTrainingKernelNames } from '../../src-worker/wasm-kernels';

const execFileAsync = promisify(execFile);
const NATIVE_PACKAGES = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'] as const;

function isInstalled(pkg: string): boolean {
  try {
    createRequire(import.meta.url).resolve(pkg);
    return true;
  } catch {
    return false;
  }
}

// These tests pin down the situation on machines without libtensorflow (CI, this project's default).
const nativeAbsent = NATIVE_PACKAGES.every((pkg) => !isInstalled(pkg));

describe.runIf(nativeAbsent)('initBackend without native tfjs packages', () => {
  it("'auto' picks wasm (SIMD, one thread) and says why each native package was skipped", async () => {
    const choice = await initBackend('auto');
    expect(choice.backend).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
    expect(choice.package).toBeUndefined();
    expect(choice.wasm).toEqual({ simd: true, threads: 1 });
    // webgpu is tried between the two native packages; here it finds no hardware adapter
    expect(choice.skipped.map((s) => s.backend)).toEqual([NATIVE_PACKAGES[0], 'webgpu', NATIVE_PACKAGES[1]]);
    for (const skip of choice.skipped.filter((s) => s.backend !== 'webgpu')) expect(skip.reason).toMatch(new RegExp(`${skip.backend} is not installed`));
    expect(choice.skipped[1].reason).toMatch(/no WebGPU adapter|only a software adapter/);
    expect(currentBackend()).toEqual(choice);
    for (const name of wasmTrainingKernelNames) expect(tf.getKernel(name, 'wasm')).toBeDefined();
    // the wasm backend really computes, including a conv gradient it could not do on its own
    const dw = tf.tidy(() => tf.grad((w: tf.Tensor) => tf.conv2d(tf.ones<tf.Rank.R4>([1, 3, 3, 1]), w as tf.Tensor4D, 1, 'valid').sum())(tf.ones([2, 2, 1, 1])));
    expect(Array.from(dw.dataSync())).toEqual([4, 4, 4, 4]);
    dw.dispose();
  });

  it("'tensorflow' fails with every package's reason", async () => {
    await expect(initBackend('tensorflow')).rejects.toThrow(
      /no usable backend for request "tensorflow" \(@tensorflow\/tfjs-node-gpu: .*not installed.*; @tensorflow\/tfjs-node: .*not installed/,
    );
  });
});

describe('initBackend', () => {
  it("'cpu' activates the cpu backend and skips nothing", async () => {
    const choice = await initBackend('cpu');
    expect(choice).toEqual({ backend: 'cpu', skipped: [] });
    expect(tf.getBackend()).toBe('cpu');
  });

  it("'wasm' can be requested again after another backend", async () => {
    await initBackend('cpu');
    const choice = await initBackend('wasm');
    expect(choice.backend).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
  });

  it('rejects an unknown backend by name, listing the valid ones', async () => {
    await expect(initBackend('metal' as BackendRequest)).rejects.toThrow(
      'initBackend: unknown backend "metal"; expected one of auto, tensorflow, webgpu, wasm, cpu',
    );
  });

  it('finds the wasm binaries whatever the working directory', async () => {
    // A fresh process started in another directory: the .wasm files must be located from the module.
    const backendModule = fileURLToPath(new URL('../../src-worker/backend.ts', import.meta.url));
    const script = `const { initBackend } = await import(${JSON.stringify(backendModule)});
      const choice = await initBackend('auto');
      console.log('CHOICE ' + JSON.stringify(choice));`;
    const tsxLoader = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
    const { stdout } = await execFileAsync(process.execPath, ['--import', tsxLoader, '--input-type=module', '-e', script], {
      cwd: tmpdir(),
      timeout: 60_000,
    });
    const line = stdout.split('\n').find((l) => l.startsWith('CHOICE '));
    expect(line, stdout).toBeDefined();
    expect(JSON.parse(line!.slice('CHOICE '.length))).toMatchObject({ backend: 'wasm', wasm: { simd: true, threads: 1 } });
  });
});
