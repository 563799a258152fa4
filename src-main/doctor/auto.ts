import { AUTO_ORDER, type AutoCandidate } from '../../src-worker/backend-order';
import type { DoctorAutoPick, DoctorGpus, DoctorWasm, DoctorWebGpu, NativePackageReport } from './report';

function nativeReason(n: NativePackageReport | undefined): string {
  if (!n || n.load === 'not-installed') return 'not installed';
  if (n.load === 'no-gpu') return n.error ?? 'loaded but sees no GPU';
  const missing = n.missingLibraries.map((l) => l.name);
  return `does not load${missing.length ? ` (missing ${missing.join(', ')})` : n.error ? ` (${n.error})` : ''}`;
}

/** One candidate's verdict: picked (with why), or skipped (with why). */
type Verdict = { pick: Omit<DoctorAutoPick, 'skipped' | 'reason'>; why: string } | { skip: string };

/**
 * What `initBackend('auto')` (src-worker/backend.ts) will choose, from the probes, walking the same AUTO_ORDER:
 * tfjs-node-gpu when it loads and sees a GPU, webgpu on a hardware adapter, tfjs-node, wasm, cpu.
 */
export function predictAuto(native: NativePackageReport[], webgpu: DoctorWebGpu, wasm: DoctorWasm, gpus: DoctorGpus): DoctorAutoPick {
  const verdict = (candidate: AutoCandidate): Verdict => {
    switch (candidate) {
      case '@tensorflow/tfjs-node-gpu': {
        const pkg = native.find((n) => n.package === candidate);
        if (pkg?.load !== 'ok') return { skip: nativeReason(pkg) };
        const gpu = gpus.gpus[0];
        return { pick: { backend: 'tensorflow', package: candidate }, why: `tfjs-node-gpu loads and sees the GPU${gpu ? ` (${gpu.name})` : ''}` };
      }
      case 'webgpu': {
        const hardware = webgpu.adapters.find((a) => !a.software);
        if (hardware) return { pick: { backend: 'webgpu', adapter: hardware.name }, why: `webgpu has a hardware adapter (${hardware.name}, ${hardware.backend})` };
        const software = webgpu.adapters.filter((a) => a.software).map((a) => a.name);
        if (software.length) return { skip: `only software adapters (${software.join(', ')}), slower than wasm; \`--backend webgpu\` uses them anyway` };
        return { skip: webgpu.error ? `Dawn failed: ${webgpu.error}` : 'Dawn finds no adapter (no Vulkan driver, or libvulkan.so.1 missing)' };
      }
      case '@tensorflow/tfjs-node': {
        const pkg = native.find((n) => n.package === candidate);
        return pkg?.load === 'ok' ? { pick: { backend: 'tensorflow', package: candidate }, why: "tfjs-node loads (libtensorflow's CPU kernels)" } : { skip: nativeReason(pkg) };
      }
      case 'wasm': {
        if (!wasm.ok) return { skip: wasm.error ?? 'does not load' };
        const detail = `${wasm.simd ? 'SIMD' : 'no SIMD'}, ${wasm.threads ?? 1} thread${wasm.threads === 1 ? '' : 's'}`;
        return { pick: { backend: 'wasm' }, why: `wasm (${detail}) is the fastest that works` };
      }
      case 'cpu':
        return { pick: { backend: 'cpu' }, why: 'nothing faster loads: the pure-JS cpu backend' };
    }
  };
  const skipped: DoctorAutoPick['skipped'] = [];
  for (const candidate of AUTO_ORDER) {
    const v = verdict(candidate);
    if ('skip' in v) {
      skipped.push({ backend: candidate.replace('@tensorflow/', ''), reason: v.skip });
      continue;
    }
    const reason = `${v.why}${skipped.length ? `; ${skipped.map((s) => `${s.backend}: ${s.reason}`).join('; ')}` : ''}`;
    return { ...v.pick, skipped, reason };
  }
  throw new Error('predictAuto: AUTO_ORDER ends with cpu, which is always picked');
}

export function autoSummary(auto: DoctorAutoPick): string {
  const what = auto.backend === 'tensorflow' ? `tensorflow (${auto.package})` : auto.backend === 'webgpu' ? `webgpu on ${auto.adapter}` : auto.backend;
  return `--backend auto will pick ${what}: ${auto.reason}`;
}
