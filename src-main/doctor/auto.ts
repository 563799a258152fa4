import type { DoctorAutoPick, DoctorGpus, DoctorWasm, DoctorWebGpu, NativePackageReport } from './report';

function nativeReason(n: NativePackageReport | undefined): string {
  if (!n || n.load === 'not-installed') return 'not installed';
  if (n.load === 'no-gpu') return n.error ?? 'loaded but sees no GPU';
  const missing = n.missingLibraries.map((l) => l.name);
  return `does not load${missing.length ? ` (missing ${missing.join(', ')})` : n.error ? ` (${n.error})` : ''}`;
}

/**
 * What `initBackend('auto')` (src-worker/backend.ts) will choose, from the probes, in its order: tfjs-node-gpu when
 * it loads and sees a GPU, webgpu on a hardware adapter, tfjs-node, wasm, cpu.
 */
export function predictAuto(native: NativePackageReport[], webgpu: DoctorWebGpu, wasm: DoctorWasm, gpus: DoctorGpus): DoctorAutoPick {
  const skipped: DoctorAutoPick['skipped'] = [];
  const gpuPkg = native.find((n) => n.package === '@tensorflow/tfjs-node-gpu');
  const cpuPkg = native.find((n) => n.package === '@tensorflow/tfjs-node');
  const why = (pick: string) => `${pick}${skipped.length ? `; ${skipped.map((s) => `${s.backend}: ${s.reason}`).join('; ')}` : ''}`;

  if (gpuPkg?.load === 'ok') {
    const gpu = gpus.gpus[0];
    return { backend: 'tensorflow', package: gpuPkg.package, skipped, reason: why(`tfjs-node-gpu loads and sees the GPU${gpu ? ` (${gpu.name})` : ''}`) };
  }
  skipped.push({ backend: 'tfjs-node-gpu', reason: nativeReason(gpuPkg) });

  const hardware = webgpu.adapters.find((a) => !a.software);
  if (hardware) {
    return { backend: 'webgpu', adapter: hardware.name, skipped, reason: why(`webgpu has a hardware adapter (${hardware.name}, ${hardware.backend})`) };
  }
  const software = webgpu.adapters.filter((a) => a.software).map((a) => a.name);
  skipped.push({
    backend: 'webgpu',
    reason: software.length
      ? `only software adapters (${software.join(', ')}), slower than wasm; \`--backend webgpu\` uses them anyway`
      : webgpu.error
        ? `Dawn failed: ${webgpu.error}`
        : 'Dawn finds no adapter (no Vulkan driver, or libvulkan.so.1 missing)',
  });

  if (cpuPkg?.load === 'ok') return { backend: 'tensorflow', package: cpuPkg.package, skipped, reason: why("tfjs-node loads (libtensorflow's CPU kernels)") };
  skipped.push({ backend: 'tfjs-node', reason: nativeReason(cpuPkg) });

  if (wasm.ok) {
    const detail = `${wasm.simd ? 'SIMD' : 'no SIMD'}, ${wasm.threads ?? 1} thread${wasm.threads === 1 ? '' : 's'}`;
    return { backend: 'wasm', skipped, reason: why(`wasm (${detail}) is the fastest that works`) };
  }
  skipped.push({ backend: 'wasm', reason: wasm.error ?? 'does not load' });
  return { backend: 'cpu', skipped, reason: why('nothing faster loads: the pure-JS cpu backend') };
}

export function autoSummary(auto: DoctorAutoPick): string {
  const what = auto.backend === 'tensorflow' ? `tensorflow (${auto.package})` : auto.backend === 'webgpu' ? `webgpu on ${auto.adapter}` : auto.backend;
  return `--backend auto will pick ${what}: ${auto.reason}`;
}
