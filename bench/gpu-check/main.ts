/**
 * The GPU check: what a GPU box's WebGPU adapter is, whether the KN ops compute the right thing on it, and how
 * fast KNResNet-18 trains there next to ResNet-18 (BatchNorm). Bundled by build.ts into out/gpu-check/ with
 * dawn.node and the golden vectors; run through gpu-check.sh, or here: node --import tsx bench/gpu-check/main.ts
 *
 * Sizes (flags, or the environment): WIDTH (width multiplier, default 1), BATCHES (default 32,128), STEPS (timed
 * training steps after a warm-up, default 3), REPS (timed KNConv/conv repetitions, default 5). On a software
 * adapter the full run takes hours: WIDTH=0.125 BATCHES=4 STEPS=1 REPS=1 says it works in a minute or two.
 *
 * Exit status: 0 when every golden check passes, 1 when one fails, 2 when there is no WebGPU adapter or the
 * check itself failed. The KN/BN ratio is a figure, not a pass/fail.
 */
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { Command, Option } from 'commander';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { initBackend, type BackendChoice } from '../../src-worker/backend';
import { dropoutMask } from '../../src-worker/kn/dropout';
import { kernelNorm2d, kernelNorm2d1x1, knConv2d } from '../../src-worker/kn/ops';
import { registerWasmTrainingKernels } from '../../src-worker/wasm-kernels';
import { listDawnAdapters, takeWebGpuFailure } from '../../src-worker/webgpu-backend';
import { knOverConv, trainingImagesPerSecond } from '../step-timing';
import { compare, FORWARD_TOLERANCE, goldenFileSchema, GRADIENT_TOLERANCE, type Comparison, type GoldenCase } from './golden';
import goldenJson from './golden-vectors.json' with { type: 'json' };

/** KNResNet-18 should train at least this fraction of ResNet-18 (BN)'s images per second on the same adapter. */
export const KN_BN_TARGET = 0.6;

const positive = (name: string) => (v: string): number => {
  const n = Number(v);
  if (!(n > 0)) throw new Error(`${name} must be a positive number, got "${v}"`);
  return n;
};
const batchList = (v: string): number[] => v.split(',').map((s) => {
  const n = Number(s.trim());
  if (!Number.isInteger(n) || n < 1) throw new Error(`BATCHES must be positive integers separated by commas, got "${v}"`);
  return n;
});
const flag = (v: string | undefined): boolean => v !== undefined && !['', '0', 'false', 'no'].includes(v.toLowerCase());

const program = new Command('gpu-check')
  .description('WebGPU adapter, golden-vector check of the KN ops, and KN vs BN training throughput')
  .addOption(new Option('--width <w>', 'width multiplier of the models').env('WIDTH').default(1).argParser(positive('WIDTH')))
  .addOption(new Option('--batches <list>', 'training batch sizes').env('BATCHES').default([32, 128], '32,128').argParser(batchList))
  .addOption(new Option('--steps <n>', 'timed training steps (median) after a warm-up step').env('STEPS').default(3).argParser(positive('STEPS')))
  .addOption(new Option('--reps <n>', 'timed KNConv/conv repetitions (median)').env('REPS').default(5).argParser(positive('REPS')))
  // on/off switches: the flag, or the variable set to anything but 0/false/no (commander's env() cannot read a value for those)
  .option('--golden-only', 'skip the timings (GOLDEN_ONLY=1)', flag(process.env.GOLDEN_ONLY))
  .option('--wasm', 'also time the wasm backend (CPU, one thread) for reference (WASM=1)', flag(process.env.WASM))
  .option('--verbose', 'one line per golden case, not only per op (VERBOSE=1)', flag(process.env.VERBOSE))
  .addOption(new Option('--report <file>', 'write the figures as JSON here').env('REPORT'));

interface Options { width: number; batches: number[]; steps: number; reps: number; goldenOnly: boolean; wasm: boolean; verbose: boolean; report?: string }

// ---- where kernels ran ----------------------------------------------------------------------------------------

/**
 * tfjs-backend-webgpu runs a kernel on the CPU when WEBGPU_CPU_FORWARD is on and every input is still a CPU-side
 * array under WEBGPU_CPU_HANDOFF_SIZE_THRESHOLD entries (small constants, freshly made tensors); and tfjs moves a
 * tensor made on another backend over when a kernel needs it. Both are counted here, by kernel name.
 */
interface Placement {
  kernels: number;
  cpuHandoffs: Map<string, number>;
  otherBackend: Map<string, number>;
  movedIn: number;
}
const placement: Placement = { kernels: 0, cpuHandoffs: new Map(), otherBackend: new Map(), movedIn: 0 };
const bump = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1);
const kernelStack: string[] = [];

function resetPlacement(): void {
  placement.kernels = 0;
  placement.cpuHandoffs.clear();
  placement.otherBackend.clear();
  placement.movedIn = 0;
}

interface EngineInternals {
  backendName: string;
  runKernel(name: string, ...rest: unknown[]): unknown;
  moveData(backend: tf.KernelBackend, dataId: object): void;
  state: { tensorInfo: { get(id: object): { backend: tf.KernelBackend } | undefined } };
}

function instrumentEngine(): void {
  const engine = tf.engine() as unknown as EngineInternals;
  const runKernel = engine.runKernel.bind(engine);
  engine.runKernel = (name, ...rest) => {
    placement.kernels++;
    if (engine.backendName !== 'webgpu') bump(placement.otherBackend, `${name} on ${engine.backendName}`);
    kernelStack.push(name);
    try {
      return runKernel(name, ...rest);
    } finally {
      kernelStack.pop();
    }
  };
  const moveData = engine.moveData.bind(engine);
  engine.moveData = (backend, dataId) => {
    if (engine.state.tensorInfo.get(dataId)?.backend !== backend) placement.movedIn++;
    moveData(backend, dataId);
  };
}

function instrumentWebGpuBackend(): void {
  const backend = tf.findBackend('webgpu') as unknown as { shouldExecuteOnCPU(inputs: unknown[], threshold?: number): boolean } | null;
  if (!backend) return;
  const original = backend.shouldExecuteOnCPU.bind(backend);
  backend.shouldExecuteOnCPU = (inputs, threshold) => {
    const onCpu = original(inputs, threshold);
    if (onCpu) bump(placement.cpuHandoffs, kernelStack.at(-1) ?? '(outside a kernel)');
    return onCpu;
  };
}

const total = (m: Map<string, number>): number => [...m.values()].reduce((a, b) => a + b, 0);
const listing = (m: Map<string, number>): string => [...m].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ×${n}`).join(', ');

function placementReport(): { kernels: number; cpuHandoffs: number; cpuHandoffKernels: Record<string, number>; otherBackend: number; movedIn: number } {
  return {
    kernels: placement.kernels, cpuHandoffs: total(placement.cpuHandoffs), cpuHandoffKernels: Object.fromEntries(placement.cpuHandoffs),
    otherBackend: total(placement.otherBackend), movedIn: placement.movedIn,
  };
}

// ---- golden vectors -----------------------------------------------------------------------------------------

async function scopedAsync<T>(fn: () => Promise<T>): Promise<T> {
  tf.engine().startScope();
  try {
    return await fn();
  } finally {
    tf.engine().endScope();
  }
}

const t4 = (a: { shape: [number, number, number, number]; data: number[] }): tf.Tensor4D => tf.tensor4d(Float32Array.from(a.data), a.shape);

/** The op's output and its gradients through sum(out * probe), computed on the active backend. */
async function runGoldenCase(c: GoldenCase): Promise<{ out: Float32Array; grads: Record<string, Float32Array>; mask: Float32Array | null }> {
  return scopedAsync(async () => {
    const drop = c.dropout ? { dropout: c.dropout.rate, seed: c.dropout.seed, training: true } : {};
    const probe = tf.tensor(Float32Array.from(c.probe), c.out.shape);
    const x = t4(c.x);
    let forward: (...t: tf.Tensor[]) => tf.Tensor;
    let inputs: tf.Tensor[];
    let names: string[];
    if (c.op === 'knConv2d') {
      const opts = { stride: c.stride, padding: c.padding, ...drop };
      inputs = [x, t4(c.weight), ...(c.bias ? [tf.tensor1d(Float32Array.from(c.bias))] : [])];
      names = ['dx', 'dweight', 'dbias'];
      forward = (xi, wi, bi) => knConv2d(xi as tf.Tensor4D, wi as tf.Tensor4D, (bi ?? null) as tf.Tensor1D | null, opts);
    } else if (c.op === 'kernelNorm2d') {
      const opts = { kernelSize: c.kernel, stride: c.stride, padding: c.padding, ...drop };
      inputs = [x];
      names = ['dx'];
      forward = (xi) => kernelNorm2d(xi as tf.Tensor4D, opts);
    } else {
      inputs = [x];
      names = ['dx'];
      forward = (xi) => kernelNorm2d1x1(xi as tf.Tensor4D, drop);
    }
    const out = forward(...inputs);
    const grads = tf.grads((...t: tf.Tensor[]) => tf.sum(tf.mul(forward(...t), probe)))(inputs);
    const mask = c.dropout ? dropoutMask(c.x.shape, c.dropout.rate, c.dropout.seed) : null;
    const [outValues, maskValues, ...gradValues] = await Promise.all([out.data(), mask ? mask.data() : null, ...grads.map((g) => g.data())]);
    return {
      out: outValues as Float32Array,
      mask: maskValues as Float32Array | null,
      grads: Object.fromEntries(gradValues.map((g, i) => [names[i], g as Float32Array])),
    };
  });
}

interface GoldenResult { op: string; name: string; quantity: string; tolerance: { rtol: number; atol: number }; result: Comparison }

async function goldenCheck(verbose: boolean): Promise<{ results: GoldenResult[]; errors: string[] }> {
  const golden = goldenFileSchema.parse(goldenJson);
  const results: GoldenResult[] = [];
  const errors: string[] = [];
  for (const c of golden.cases) {
    const mine: GoldenResult[] = [];
    try {
      const seen = await runGoldenCase(c);
      const failure = takeWebGpuFailure();
      if (failure) throw new Error(`device ${failure.kind} error: ${failure.message}`);
      if (c.dropout && seen.mask) mine.push({ op: c.op, name: c.name, quantity: 'dropoutMask', tolerance: { rtol: 0, atol: 0 }, result: compare(seen.mask, Float32Array.from(c.dropout.mask), { rtol: 0, atol: 0 }) });
      mine.push({ op: c.op, name: c.name, quantity: 'out', tolerance: FORWARD_TOLERANCE, result: compare(seen.out, c.out.data, FORWARD_TOLERANCE) });
      for (const [quantity, expected] of Object.entries(c.grads)) {
        const actual = seen.grads[quantity];
        const result = actual ? compare(actual, expected, GRADIENT_TOLERANCE) : { maxAbs: Infinity, maxRel: Infinity, pass: false, at: -1 };
        mine.push({ op: c.op, name: c.name, quantity, tolerance: GRADIENT_TOLERANCE, result });
      }
    } catch (err) {
      errors.push(`${c.op} ${c.name}: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`);
      mine.push({ op: c.op, name: c.name, quantity: 'run', tolerance: FORWARD_TOLERANCE, result: { maxAbs: Infinity, maxRel: Infinity, pass: false, at: -1 } });
    }
    results.push(...mine);
    const bad = mine.filter((r) => !r.result.pass);
    if (verbose || bad.length > 0) {
      const detail = mine.map((r) => `${r.quantity} ${fmt(r.result.maxAbs)}/${fmt(r.result.maxRel)}`).join('  ');
      console.log(`    ${bad.length ? 'FAIL' : 'pass'} ${c.op} ${c.name}: ${detail} (max abs/rel)`);
    }
  }
  return { results, errors };
}

const fmt = (v: number): string => (Number.isFinite(v) ? v.toExponential(1) : String(v));

function printGoldenSummary(results: GoldenResult[]): void {
  const groups = new Map<string, GoldenResult[]>();
  for (const r of results) groups.set(`${r.op} ${r.quantity}`, [...(groups.get(`${r.op} ${r.quantity}`) ?? []), r]);
  for (const [key, rs] of groups) {
    const maxAbs = Math.max(...rs.map((r) => r.result.maxAbs));
    const maxRel = Math.max(...rs.map((r) => r.result.maxRel));
    const pass = rs.every((r) => r.result.pass);
    const tol = rs[0].tolerance;
    const failed = rs.filter((r) => !r.result.pass).map((r) => r.name);
    console.log(`  ${pass ? 'PASS' : 'FAIL'} ${key.padEnd(26)} ${String(rs.length).padStart(2)} cases  max abs ${fmt(maxAbs).padEnd(8)} max rel ${fmt(maxRel).padEnd(8)} `
      + `(tolerance ${tol.rtol ? `${tol.rtol} rel + ${tol.atol} abs` : 'exact'})${failed.length ? `  failed: ${failed.join('; ')}` : ''}`);
  }
}

// ---- timings -------------------------------------------------------------------------------------------------

interface ThroughputRow { batch: number; knresnet18?: number; resnet18_bn?: number; ratio?: number; error?: string }

async function timings(backend: string, o: Options): Promise<{ knConv?: { batch: number; channels: number; convMs: number; knMs: number }; error?: string; training: ThroughputRow[] }> {
  const channels = Math.max(4, Math.round(64 * o.width));
  const batch = o.batches[0];
  let knConv: { batch: number; channels: number; convMs: number; knMs: number } | undefined;
  let error: string | undefined;
  try {
    knConv = { batch, channels, ...(await knOverConv(batch, channels, o.reps)) };
    console.log(`  KNConv ${knConv.knMs.toFixed(1)} ms, conv ${knConv.convMs.toFixed(1)} ms (fwd+bwd, 32² ${channels}→${channels} 3×3, batch ${batch}): `
      + `KNConv/conv ${(knConv.knMs / knConv.convMs).toFixed(2)}`);
  } catch (err) {
    error = errorLine(err);
    console.log(`  KNConv vs conv: error: ${error}`);
  }
  const training: ThroughputRow[] = [];
  for (const b of o.batches) {
    const row: ThroughputRow = { batch: b };
    try {
      row.knresnet18 = await trainingImagesPerSecond('knresnet18', { width: o.width, batch: b, steps: o.steps });
      row.resnet18_bn = await trainingImagesPerSecond('resnet18_bn', { width: o.width, batch: b, steps: o.steps });
      row.ratio = row.knresnet18 / row.resnet18_bn;
      const verdict = row.ratio >= KN_BN_TARGET ? 'met' : 'BELOW target';
      console.log(`  batch ${b}: knresnet18 ${row.knresnet18.toFixed(2)} img/s, resnet18_bn ${row.resnet18_bn.toFixed(2)} img/s, `
        + `KN/BN ${row.ratio.toFixed(3)} (target ≥ ${KN_BN_TARGET}: ${verdict})`);
    } catch (err) {
      row.error = errorLine(err);
      console.log(`  batch ${b}: error: ${row.error}`);
    }
    const failure = backend === 'webgpu' ? takeWebGpuFailure() : null;
    if (failure) {
      row.error ??= `device ${failure.kind} error: ${failure.message}`;
      console.log(`  batch ${b}: device ${failure.kind} error: ${failure.message}`);
    }
    training.push(row);
  }
  return { knConv, error, training };
}

function errorLine(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.split('\n')[0] ?? text;
}

/** wasm from the .wasm files next to the bundle; from node_modules (initBackend) when run unbundled. */
async function startWasm(): Promise<void> {
  const here = dirname(fileURLToPath(import.meta.url));
  if (existsSync(join(here, 'tfjs-backend-wasm.wasm'))) {
    setWasmPaths(here + '/');
    registerWasmTrainingKernels();
    if (!(await tf.setBackend('wasm'))) throw new Error('tf.setBackend("wasm") returned false');
    await tf.ready();
  } else {
    await initBackend('wasm');
  }
}

// ---- main ----------------------------------------------------------------------------------------------------

async function main(o: Options): Promise<number> {
  const started = performance.now();
  const elapsed = () => `${((performance.now() - started) / 1000).toFixed(0)} s`;
  const report: Record<string, unknown> = {
    date: new Date().toISOString(), host: os.hostname(), node: process.version, platform: `${process.platform}-${process.arch}`,
    options: { ...o, report: undefined }, env: { VK_ICD_FILENAMES: process.env.VK_ICD_FILENAMES ?? null, NORMLAB_GPU_NAME: process.env.NORMLAB_GPU_NAME ?? null },
  };
  const writeReport = () => {
    if (!o.report) return;
    mkdirSync(dirname(resolve(o.report)), { recursive: true });
    writeFileSync(o.report, JSON.stringify(report, null, 2) + '\n');
  };
  console.log(`NormLab GPU check: node ${process.version}, ${process.platform}-${process.arch}, ${os.cpus().length} CPUs, host ${os.hostname()}`);
  if (process.env.VK_ICD_FILENAMES) console.log(`  VK_ICD_FILENAMES=${process.env.VK_ICD_FILENAMES}`);

  // ---- the adapter
  let choice: BackendChoice;
  try {
    const adapters = await listDawnAdapters();
    report.adapters = adapters;
    console.log(`adapters Dawn sees: ${adapters.map((a) => `${a.name} (${a.backend})`).join(', ') || 'none'}`
      + ' (NORMLAB_GPU_NAME=<part of a name> picks one)');
    choice = await initBackend('webgpu');
  } catch (err) {
    console.log(`adapter: none: ${errorLine(err)}`);
    console.log('  needs a Vulkan driver and libvulkan.so.1 (NVIDIA: the driver\'s Vulkan ICD, /usr/share/vulkan/icd.d/nvidia_icd.json)');
    report.error = errorLine(err);
    writeReport();
    return 2;
  }
  const a = choice.adapter!;
  report.adapter = a;
  console.log(`adapter: vendor=${a.vendor || '?'} architecture=${a.architecture || '?'} device=${a.device || '?'} description="${a.description}" `
    + `software=${a.software}${a.software ? ' (SOFTWARE adapter: its timings say it works, not how fast a GPU is)' : ''}`);
  for (const w of choice.warnings ?? []) console.log(`  warning: ${w}`);
  instrumentEngine();
  instrumentWebGpuBackend();

  // ---- golden vectors, every kernel on the GPU
  tf.env().set('WEBGPU_CPU_FORWARD', false);
  resetPlacement();
  console.log(`golden vectors (float64 naive reference, ${goldenFileSchema.parse(goldenJson).cases.length} cases), WEBGPU_CPU_FORWARD=false:`);
  const { results, errors } = await goldenCheck(o.verbose);
  printGoldenSummary(results);
  for (const e of errors) console.log(`  error: ${e}`);
  const goldenPlacement = placementReport();
  const goldenPass = errors.length === 0 && results.length > 0 && results.every((r) => r.result.pass) && goldenPlacement.cpuHandoffs === 0 && goldenPlacement.otherBackend === 0;
  console.log(`  CPU fallback: ${goldenPlacement.cpuHandoffs} of ${goldenPlacement.kernels} kernels handed to the CPU, `
    + `${goldenPlacement.otherBackend} run on another backend, ${goldenPlacement.movedIn} tensors moved in from another backend`);
  console.log(`golden: ${goldenPass ? 'PASS' : 'FAIL'} (${results.filter((r) => r.result.pass).length}/${results.length} checks) [${elapsed()}]`);
  report.golden = { pass: goldenPass, placement: goldenPlacement, errors, results: results.map((r) => ({ ...r, result: { ...r.result, maxAbs: String(r.result.maxAbs), maxRel: String(r.result.maxRel) } })) };
  writeReport();

  // ---- timings, with every kernel on the GPU, as training runs (activateWebGpu turns tfjs's CPU forwarding off)
  if (!o.goldenOnly) {
    resetPlacement();
    console.log(`timings on webgpu: width ${o.width}, batches ${o.batches.join(' and ')}, median of ${o.steps} training steps after a warm-up `
      + `(SGD momentum, loss read each step), WEBGPU_CPU_FORWARD=false (as training runs):`);
    const webgpu = await timings('webgpu', o);
    const p = placementReport();
    console.log(`  CPU fallback while timing: ${p.cpuHandoffs} of ${p.kernels} kernels ran on the CPU${p.cpuHandoffs ? ` (${listing(placement.cpuHandoffs)})` : ''}, `
      + `${p.otherBackend} on another backend`);
    report.webgpu = { ...webgpu, placement: p };
    writeReport();
    if (o.wasm) {
      try {
        await startWasm();
        console.log('timings on wasm (CPU, for reference):');
        report.wasm = await timings('wasm', o);
      } catch (err) {
        console.log(`wasm: not usable: ${errorLine(err)}`);
      }
      writeReport();
    }
    const rows = (report.webgpu as { training: ThroughputRow[] }).training.filter((r) => r.ratio !== undefined);
    if (rows.length) {
      console.log(`KN/BN on this adapter: ${rows.map((r) => `${r.ratio!.toFixed(3)} at batch ${r.batch}`).join(', ')}; target ≥ ${KN_BN_TARGET}: `
        + `${rows.every((r) => r.ratio! >= KN_BN_TARGET) ? 'met' : 'NOT met'}${a.software ? ' (software adapter: not a GPU figure)' : ''}`);
    }
  }
  console.log(`done in ${elapsed()}${o.report ? `; report: ${resolve(o.report)}` : ''}`);
  writeReport();
  return goldenPass ? 0 : 1;
}

program.parse();
let code: number;
try {
  code = await main(program.opts<Options>());
} catch (err) {
  console.error(`gpu-check failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
  code = 2;
}
// dawn.node keeps the event loop alive; leave once the figures are out
process.exit(code);
