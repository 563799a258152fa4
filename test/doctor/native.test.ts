import { afterAll, describe, expect, it } from 'vitest';
import { predictAuto } from '../../src-main/doctor/auto';
import { missingLibrariesInText, parseLddNotFound } from '../../src-main/doctor/native';
import type { DoctorReport } from '../../src-main/doctor';
import { runCli, writeFakeTfjsNodeGpu } from './fixtures';

describe('doctor: tfjs-node-gpu that does not load', () => {
  const fake = writeFakeTfjsNodeGpu();
  afterAll(() => fake.cleanup());

  it('names libcudart.so.11.0 and how to get it, from the load error and ldd', async () => {
    const json = await runCli(['doctor', '--no-bench', '--json', '--module-dir', fake.moduleDir]);
    expect(json.code, json.stderr).toBe(0);
    const report = JSON.parse(json.stdout) as DoctorReport;
    const gpu = report.native.find((n) => n.package === '@tensorflow/tfjs-node-gpu')!;
    expect(gpu).toMatchObject({ installed: true, version: '4.22.0', load: 'failed' });
    expect(gpu.addon).toMatch(/lib\/napi-v8\/tfjs_binding\.node$/);
    expect(gpu.error).toContain('libcudart.so.11.0: cannot open shared object file');
    expect(gpu.missingLibraries.map((l) => l.name)).toEqual(['libcudart.so.11.0']);
    expect(gpu.missingLibraries[0].seenIn).toEqual(fake.realElf ? ['load error', 'ldd'] : ['load error']);
    expect(gpu.missingLibraries[0].fix).toMatch(/CUDA 11\.2 runtime.*pip install nvidia-cuda-runtime-cu11.*conda install -c conda-forge cudatoolkit=11\.2/);
    expect(gpu.fixes.at(-1)).toMatch(/LD_LIBRARY_PATH=\$SITE\/nvidia\/cuda_runtime\/lib:/);
    expect(report.auto.skipped[0]).toEqual({ backend: 'tfjs-node-gpu', reason: 'does not load (missing libcudart.so.11.0)' });
    // tfjs-node is looked up in the same folder, where it is absent
    expect(report.native.find((n) => n.package === '@tensorflow/tfjs-node')!.load).toBe('not-installed');

    const text = await runCli(['doctor', '--no-bench', '--module-dir', fake.moduleDir]);
    expect(text.stdout).toMatch(/@tensorflow\/tfjs-node-gpu +4\.22\.0 does not load\n +error: libcudart\.so\.11\.0: cannot open shared object file/);
    expect(text.stdout).toMatch(/missing: libcudart\.so\.11\.0 \(load error/);
    expect(text.stdout).toMatch(/fix: libcudart\.so\.11\.0: the CUDA 11\.2 runtime/);
  });

  it('reads missing libraries from dlopen errors, TF\'s loader log and ldd', () => {
    const log = [
      "W tensorflow/stream_executor/platform/default/dso_loader.cc:64] Could not load dynamic library 'libcudnn.so.8'; dlerror: libcudnn.so.8: cannot open shared object file: No such file or directory",
      'Error: libtensorflow.so.2: cannot open shared object file: No such file or directory',
    ].join('\n');
    expect(missingLibrariesInText(log).sort()).toEqual(['libcudnn.so.8', 'libtensorflow.so.2']);
    const ldd = '\tlinux-vdso.so.1 (0x00007ffd)\n\tlibcudart.so.11.0 => not found\n\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f)\n\tlibcublasLt.so.11 => not found\n';
    expect(parseLddNotFound(ldd)).toEqual(['libcudart.so.11.0', 'libcublasLt.so.11']);
  });

  it('predicts auto in initBackend\'s order', () => {
    const none = { package: '@tensorflow/tfjs-node' as const, installed: false, load: 'not-installed' as const, missingLibraries: [], fixes: [] };
    const gpus = { command: 'nvidia-smi', available: true, gpus: [{ index: 0, name: 'NVIDIA A40', memoryTotalMiB: 46068, driverVersion: '550' }], cudaVersion: '12.4' };
    const wasm = { ok: true, simd: true, threads: 1 };
    const hw = { backend: 'vulkan', name: 'NVIDIA A40', vendor: 'nvidia', architecture: 'ampere', description: '', software: false };
    const sw = { ...hw, name: 'SwiftShader Device (Subzero)', vendor: 'google', software: true };
    const gpuPkg = (load: 'ok' | 'no-gpu') => ({ ...none, package: '@tensorflow/tfjs-node-gpu' as const, installed: true, load });
    expect(predictAuto([gpuPkg('ok'), none], { probed: true, adapters: [hw], warnings: [] }, wasm, gpus)).toMatchObject({ backend: 'tensorflow', package: '@tensorflow/tfjs-node-gpu' });
    expect(predictAuto([gpuPkg('no-gpu'), none], { probed: true, adapters: [sw, hw], warnings: [] }, wasm, gpus)).toMatchObject({ backend: 'webgpu', adapter: 'NVIDIA A40' });
    const wasmPick = predictAuto([{ ...none, package: '@tensorflow/tfjs-node-gpu' }, none], { probed: true, adapters: [sw], warnings: [] }, wasm, gpus);
    expect(wasmPick).toMatchObject({ backend: 'wasm' });
    expect(wasmPick.skipped.map((s) => s.backend)).toEqual(['tfjs-node-gpu', 'webgpu', 'tfjs-node']);
    const gpuAbsent = { ...none, package: '@tensorflow/tfjs-node-gpu' as const };
    expect(predictAuto([gpuAbsent, { ...none, installed: true, load: 'ok' }], { probed: true, adapters: [], warnings: [] }, wasm, gpus)).toMatchObject({ backend: 'tensorflow', package: '@tensorflow/tfjs-node' });
  });
});
