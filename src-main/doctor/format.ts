import type { BenchResult, DoctorReport, NativePackageReport } from './report';

const gib = (mib: number | null) => (mib === null ? '? GiB' : `${(mib / 1024).toFixed(1)} GiB`);
const ms = (v: number | null) => (v === null ? '—' : v >= 100 ? `${v.toFixed(0)} ms` : `${v.toFixed(1)} ms`);

function nativeLines(n: NativePackageReport): string[] {
  const name = n.package.padEnd(26);
  const state =
    n.load === 'not-installed' ? 'not installed'
    : n.load === 'ok' ? `${n.version ?? ''} loads`.trim()
    : n.load === 'no-gpu' ? `${n.version ?? ''} loads, CPU only`.trim()
    : `${n.version ?? ''} does not load`.trim();
  const lines = [`  ${name} ${state}`];
  if (n.error && n.load !== 'not-installed') lines.push(`      ${n.load === 'no-gpu' ? '' : 'error: '}${n.error}`);
  if (n.missingLibraries.length > 0) {
    lines.push(`      missing: ${n.missingLibraries.map((l) => `${l.name} (${l.seenIn.join(', ')})`).join(', ')}`);
  }
  if (n.note) lines.push(`      note: ${n.note}`);
  for (const fix of n.fixes) lines.push(`      fix: ${fix}`);
  return lines;
}

function benchLine(r: BenchResult, width: number): string {
  const label = `  ${r.label.padEnd(width)}`;
  if (!r.ok && r.conv.medianMs === null) return `${label} failed: ${r.error ?? 'did not run'}`;
  const conv = `conv ${ms(r.conv.medianMs).padStart(8)}`;
  if (r.step.medianMs !== null) return `${label} ${conv}   step ${ms(r.step.medianMs).padStart(8)} (${r.step.imagesPerSec!.toFixed(1)} img/s)`;
  const why = r.caveat ? `${r.caveat}: conv at ${r.conv.shape}; ` : '';
  return `${label} ${conv}   step        —   ${why}no step (${r.step.skipped ?? 'did not run'})`;
}

/** The report for people: one section per probe, then the benchmark and the summary line. */
export function formatDoctorReport(report: DoctorReport): string {
  const out: string[] = [];
  const h = report.host;
  out.push(`NormLab doctor: ${h.hostname} (${h.platform} ${h.arch}, ${h.cpus} CPU${h.cpus === 1 ? '' : 's'}, Node ${h.node})`, '');

  out.push('GPUs (nvidia-smi)');
  if (report.gpus.gpus.length === 0) out.push(`  none: ${report.gpus.note ?? 'nvidia-smi lists no GPU'}`);
  for (const g of report.gpus.gpus) {
    out.push(`  gpu ${g.index}  ${g.name}  ${gib(g.memoryTotalMiB)}  driver ${g.driverVersion ?? '?'}  CUDA ${report.gpus.cudaVersion ?? '?'}`);
  }
  out.push('');

  out.push('Native TensorFlow (libtensorflow)');
  for (const n of report.native) out.push(...nativeLines(n));
  out.push('');

  out.push('WebGPU (Dawn)');
  if (report.webgpu.error) out.push(`  error: ${report.webgpu.error}`);
  if (report.webgpu.adapters.length === 0 && !report.webgpu.error) out.push('  no adapter (no Vulkan driver, or libvulkan.so.1 missing)');
  for (const a of report.webgpu.adapters) {
    out.push(`  ${a.backend.padEnd(7)} ${a.name}  vendor ${a.vendor || '?'}${a.architecture ? `/${a.architecture}` : ''}  ${a.software ? 'software' : 'hardware'}`);
  }
  for (const w of report.webgpu.warnings) out.push(`  dawn: ${w}`);
  out.push('');

  out.push('WebAssembly');
  out.push(report.wasm.ok ? `  loads; SIMD ${report.wasm.simd ? 'yes' : 'no'}, ${report.wasm.threads} thread${report.wasm.threads === 1 ? '' : 's'}` : `  does not load: ${report.wasm.error}`);
  out.push('');

  if (report.bench) {
    const b = report.bench;
    out.push(`Benchmark (median ms after a warm-up; conv = knConv2d forward + backward at ${b.shapes.conv}; step = one ${b.shapes.step.model} SGD step at batch ${b.shapes.step.batch}, width ${b.shapes.step.width})`);
    const width = Math.max(...b.results.map((r) => r.label.length), 4);
    for (const r of b.results) out.push(benchLine(r, width));
    out.push('');
  }

  out.push(`Summary: ${report.summary}`);
  out.push(`(${(report.durationMs / 1000).toFixed(1)} s)`);
  return out.join('\n') + '\n';
}
