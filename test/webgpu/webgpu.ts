import * as tf from '@tensorflow/tfjs';
import { beforeEach, expect } from 'vitest';
import { initBackend } from '../../src-worker/backend';

/** SwiftShader's Vulkan ICD as Debian's chromium package installs it; CI installs chromium and libvulkan1. */
export const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

/** Starts the webgpu backend or throws why not. */
async function startWebGpu(): Promise<void> {
  let reason: string;
  try {
    const choice = await initBackend('webgpu');
    expect(choice.backend).toBe('webgpu');
    expect(tf.getBackend()).toBe('webgpu');
    return;
  } catch (err) {
    reason = err instanceof Error ? err.message : String(err);
  }
  throw new Error(`the webgpu backend did not start (VK_ICD_FILENAMES=${process.env.VK_ICD_FILENAMES}; `
    + `needs a Vulkan driver: chromium's SwiftShader at ${SWIFTSHADER_ICD} and libvulkan1): ${reason}`);
}

let started: Promise<void> | null = null;

/**
 * Every test of the file first needs the webgpu backend, started once: when it cannot start, every test fails
 * with the reason (a failing beforeAll would report the tests as skipped), since the suite exists to prove the ops
 * run there. Each test file sets VK_ICD_FILENAMES and XDG_RUNTIME_DIR at its top, before this runs.
 */
export function useWebGpu(): void {
  beforeEach(async () => {
    started ??= startWebGpu();
    await started;
    if (tf.getBackend() !== 'webgpu') await tf.setBackend('webgpu');
  });
}
