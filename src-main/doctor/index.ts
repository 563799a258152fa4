import { cpus, hostname } from 'node:os';
import { autoSummary, predictAuto } from './auto';
import { benchTargets, runBench } from './bench';
import { describeExit, lastErrorLine, runProbe } from './child';
import { probeGpus } from './gpus';
import { probeNativePackage } from './native';
import type { WasmMessage, WebGpuMessage } from './probe-protocol';
import type { BenchResult, DoctorReport, DoctorWasm, DoctorWebGpu } from './report';

export type * from './report';
export { formatDoctorReport } from './format';

export interface DoctorOptions {
  /** The nvidia-smi command (`nvidia-smi` on PATH by default), as DeviceDetectionOptions.nvidiaSmi. */
  nvidiaSmi?: string;
  /** Resolve tfjs-node(-gpu) as from this folder (one holding node_modules) instead of NormLab's own sources. */
  moduleDir?: string;
  /** Run the micro-benchmark (default true). */
  bench?: boolean;
  /** Milliseconds each backend may spend measuring; 8 s by default. */
  benchBudgetMs?: number;
  /** Extra environment for the probe processes (VK_ICD_FILENAMES, LD_LIBRARY_PATH, …). */
  env?: NodeJS.ProcessEnv;
  /** Progress lines while it runs (the benchmark takes a few seconds per backend). */
  onProgress?: (line: string) => void;
}

/** Dawn's `Warning: …` / `error: …` lines with the ` - While …` line that follows, deduplicated. */
export function dawnWarnings(stderr: string): string[] {
  const lines = stderr.split('\n');
  const out = new Set<string>();
  lines.forEach((line, i) => {
    if (!/^(warning|error):/i.test(line.trim())) return;
    const context = lines[i + 1]?.trim().startsWith('- While') ? ` (${lines[i + 1].trim().slice(2)})` : '';
    out.add(line.trim() + context);
  });
  return [...out].slice(0, 8);
}

async function probeWebGpu(env: NodeJS.ProcessEnv | undefined): Promise<DoctorWebGpu> {
  const timeoutMs = 20_000;
  const outcome = await runProbe<WebGpuMessage>({ probe: 'webgpu' }, { timeoutMs, env });
  const report: DoctorWebGpu = { probed: false, adapters: [], warnings: dawnWarnings(outcome.stderr) };
  for (const m of outcome.messages) {
    if (m.kind === 'listed') report.probed = true;
    else if (m.kind === 'adapter') {
      report.adapters.push({ backend: m.backend, name: m.name, vendor: m.vendor, architecture: m.architecture, description: m.description, software: m.software });
    } else if (m.kind === 'adapter-failed') report.warnings.push(`${m.backend} adapter ${m.name}: ${m.error}`);
    else if (m.kind === 'failed') report.error = m.error;
  }
  const listed = outcome.messages.find((m) => m.kind === 'listed');
  const done = listed && outcome.messages.filter((m) => m.kind === 'adapter' || m.kind === 'adapter-failed').length === listed.adapters.length;
  if (!report.error && !done) {
    const line = lastErrorLine(outcome.stderr);
    report.error = `${describeExit(outcome, timeoutMs)}${line ? ` (${line})` : ''}`;
  }
  return report;
}

async function probeWasm(env: NodeJS.ProcessEnv | undefined): Promise<DoctorWasm> {
  const timeoutMs = 30_000;
  const outcome = await runProbe<WasmMessage>({ probe: 'wasm' }, { timeoutMs, env });
  const m = outcome.messages[0];
  if (m?.kind === 'wasm') return { ok: true, simd: m.simd, threads: m.threads };
  const line = lastErrorLine(outcome.stderr);
  return { ok: false, simd: null, threads: null, error: m?.kind === 'failed' ? m.error : `${describeExit(outcome, timeoutMs)}${line ? ` (${line})` : ''}` };
}

/**
 * What will run where on this machine, and why: the GPUs nvidia-smi reports, whether the native TensorFlow
 * packages load (and the libraries they miss), Dawn's WebGPU adapters, wasm SIMD, optionally a few-second
 * benchmark of each backend that works, and what `--backend auto` picks. Every probe that loads a native
 * library or a driver runs in a child process.
 */
export async function runDoctor(opts: DoctorOptions = {}): Promise<DoctorReport> {
  const started = performance.now();
  const progress = opts.onProgress ?? (() => {});
  progress('probing GPUs, native packages, WebGPU and wasm');
  const gpus = await probeGpus(opts.nvidiaSmi);
  const nativeOpts = { moduleDir: opts.moduleDir, gpusPresent: gpus.gpus.length > 0, env: opts.env };
  const [gpuPkg, cpuPkg, webgpu, wasm] = await Promise.all([
    probeNativePackage('@tensorflow/tfjs-node-gpu', nativeOpts),
    probeNativePackage('@tensorflow/tfjs-node', nativeOpts),
    probeWebGpu(opts.env),
    probeWasm(opts.env),
  ]);
  const native = [gpuPkg, cpuPkg];
  const auto = predictAuto(native, webgpu, wasm, gpus);
  let bench: DoctorReport['bench'] = null;
  if (opts.bench !== false) {
    const targets = benchTargets(native, webgpu, wasm);
    bench = await runBench(targets, {
      budgetMs: opts.benchBudgetMs,
      moduleDir: opts.moduleDir,
      env: opts.env,
      onResult: (r: BenchResult) => progress(`benchmarked ${r.label} (${(r.wallMs / 1000).toFixed(1)} s)`),
    });
  }
  return {
    createdAt: new Date().toISOString(),
    host: { hostname: hostname(), platform: process.platform, arch: process.arch, cpus: cpus().length, node: process.version },
    gpus,
    native,
    webgpu,
    wasm,
    bench,
    auto,
    summary: autoSummary(auto),
    durationMs: Math.round(performance.now() - started),
  };
}
