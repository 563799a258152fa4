import { describe, expect, it } from 'vitest';
import type { DoctorReport } from '../../src-main/doctor';
import { runCli, SWIFTSHADER_ENV } from './fixtures';

/** This machine: no NVIDIA GPU, no native TensorFlow, SwiftShader as the only WebGPU adapter, wasm with SIMD. */
describe('doctor on this machine', () => {
  it('reports no tfjs-node-gpu, SwiftShader as a software adapter, wasm SIMD, and benchmarks what works', async () => {
    const result = await runCli(['doctor', '--json', '--bench-seconds', '2', '--nvidia-smi', '/nonexistent/nvidia-smi'], SWIFTSHADER_ENV);
    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout) as DoctorReport;
    expect(report.native.find((n) => n.package === '@tensorflow/tfjs-node-gpu')).toMatchObject({ installed: false, load: 'not-installed' });
    expect(report.webgpu.adapters).toContainEqual(expect.objectContaining({ backend: 'vulkan', name: expect.stringMatching(/SwiftShader/), software: true }));
    expect(report.wasm).toEqual({ ok: true, simd: true, threads: 1 });
    expect(report.auto.backend).toBe('wasm');
    expect(report.summary).toMatch(/^--backend auto will pick wasm: .*webgpu: only software adapters \(SwiftShader/);

    const bench = report.bench!;
    expect(bench.shapes.step).toMatchObject({ model: 'knresnet18', batch: 32, width: 0.25 });
    expect(bench.results.map((r) => r.target.backend)).toEqual(['webgpu', 'wasm', 'cpu']);
    const [swiftshader, wasm] = bench.results;
    expect(swiftshader).toMatchObject({ ok: true, caveat: 'software (correctness only)' });
    expect(swiftshader.conv.medianMs).toBeGreaterThan(0);
    expect(wasm).toMatchObject({ ok: true, conv: { shape: '32×32×64→64 3×3, batch 32' } });
    expect(wasm.step.imagesPerSec).toBeGreaterThan(0);
    // ~20 s on an idle 2-core machine; not asserted, other processes share the cores
    console.log(`doctor with bench: ${(report.durationMs / 1000).toFixed(1)} s`, bench.results.map((r) => `${r.label} ${(r.wallMs / 1000).toFixed(1)} s`).join(', '));
  });

  it('prints a text report without the SwiftShader driver: no adapter, auto picks wasm', async () => {
    const result = await runCli(['doctor', '--no-bench', '--nvidia-smi', '/nonexistent/nvidia-smi'], { VK_ICD_FILENAMES: '/nonexistent.json' });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/@tensorflow\/tfjs-node-gpu +not installed/);
    expect(result.stdout).toContain('WebAssembly\n  loads; SIMD yes, 1 thread');
    expect(result.stdout).toMatch(/\nSummary: --backend auto will pick wasm: wasm \(SIMD, 1 thread\) is the fastest that works; tfjs-node-gpu: not installed; webgpu: /);
    expect(result.stdout).not.toContain('Benchmark');
  });
});
