import { describeExit, lastErrorLine, runProbe } from './child';
import type { BenchMessage, ConvShape, StepShape } from './probe-protocol';
import type { BenchResult, BenchTarget, DoctorBench, DoctorWasm, DoctorWebGpu, NativePackageReport } from './report';

/** The first 3×3 layer of a CIFAR knresnet18, at the batch size training uses. */
export const FULL_CONV: ConvShape = { batch: 32, size: 32, inChannels: 64, outChannels: 64, kernel: 3, padding: 1 };
/**
 * Width 0.25: a full-width knresnet18 step at batch 32 takes about 10 s on single-threaded wasm (models.bench.ts),
 * too long for a doctor; a quarter width takes about 1 s and ranks the backends alike.
 */
export const STEP: StepShape = { model: 'knresnet18', batch: 32, width: 0.25, numClasses: 100 };
/**
 * Software adapters and tfjs's pure-JS cpu backend take tens of seconds for one FULL_CONV backward (SwiftShader
 * ~40 s at batch 32, 16×16); they get a smoke-sized convolution (it runs, it gives numbers) and no step.
 */
export const SMOKE_CONV: ConvShape = { batch: 1, size: 8, inChannels: 64, outChannels: 64, kernel: 3, padding: 1 };

export const convShapeText = (c: ConvShape): string =>
  `${c.size}×${c.size}×${c.inChannels}→${c.outChannels} ${c.kernel}×${c.kernel}, batch ${c.batch}`;

export const SOFTWARE_CAVEAT = 'software (correctness only)';

export function targetLabel(t: BenchTarget): string {
  if (t.backend === 'tensorflow') return `tensorflow (${t.package.replace('@tensorflow/', '')})`;
  if (t.backend === 'webgpu') return `webgpu (${t.adapter})`;
  return t.backend;
}

/** Every backend that loaded, in `auto`'s order: each native package, each WebGPU adapter, wasm, cpu. */
export function benchTargets(native: NativePackageReport[], webgpu: DoctorWebGpu, wasm: DoctorWasm): BenchTarget[] {
  const targets: BenchTarget[] = [];
  const loaded = (pkg: NativePackageReport['package']) => native.find((n) => n.package === pkg && (n.load === 'ok' || n.load === 'no-gpu'));
  if (loaded('@tensorflow/tfjs-node-gpu')) targets.push({ backend: 'tensorflow', package: '@tensorflow/tfjs-node-gpu' });
  for (const a of webgpu.adapters) targets.push({ backend: 'webgpu', adapter: a.name, software: a.software });
  if (loaded('@tensorflow/tfjs-node')) targets.push({ backend: 'tensorflow', package: '@tensorflow/tfjs-node' });
  if (wasm.ok) targets.push({ backend: 'wasm' });
  targets.push({ backend: 'cpu' });
  return targets;
}

const isSmoke = (t: BenchTarget) => (t.backend === 'webgpu' && t.software) || t.backend === 'cpu';

export interface BenchOptions {
  /** Milliseconds each backend may spend measuring (after loading); 8 s by default. */
  budgetMs?: number;
  moduleDir?: string;
  env?: NodeJS.ProcessEnv;
  onResult?: (result: BenchResult) => void;
  /** Milliseconds loading tfjs (and Dawn or libtensorflow) may take on top of the budget; 25 s by default. */
  loadAllowanceMs?: number;
}

async function benchOne(target: BenchTarget, opts: BenchOptions): Promise<BenchResult> {
  const smoke = isSmoke(target);
  const budgetMs = smoke ? Math.min(1500, opts.budgetMs ?? 8000) : (opts.budgetMs ?? 8000);
  const conv = smoke ? SMOKE_CONV : FULL_CONV;
  // loading tfjs (and Dawn, or libtensorflow) comes on top of the budget; one warm-up may overrun it
  const timeoutMs = budgetMs + (opts.loadAllowanceMs ?? 25_000);
  const outcome = await runProbe<BenchMessage>(
    { probe: 'bench', target, budgetMs, conv, step: smoke ? null : STEP, ...(opts.moduleDir ? { moduleDir: opts.moduleDir } : {}) },
    { timeoutMs, env: opts.env },
  );
  const convMsg = outcome.messages.find((m) => m.kind === 'conv');
  const stepMsg = outcome.messages.find((m) => m.kind === 'step');
  const failed = outcome.messages.find((m) => m.kind === 'failed');
  const ended = outcome.messages.length === 0 || (!stepMsg && !failed && !smoke);
  const error = failed?.error ?? (ended ? `${describeExit(outcome, timeoutMs)}${lastErrorLine(outcome.stderr) ? ` (${lastErrorLine(outcome.stderr)})` : ''}` : undefined);
  const result: BenchResult = {
    target,
    label: targetLabel(target),
    ok: error === undefined,
    conv: convMsg
      ? { medianMs: convMsg.medianMs, reps: convMsg.reps, warmupMs: Math.round(convMsg.warmupMs), shape: convShapeText(conv) }
      : { medianMs: null, reps: 0, shape: convShapeText(conv), skipped: error ?? 'did not run' },
    step: smoke
      ? { medianMs: null, reps: 0, imagesPerSec: null, skipped: target.backend === 'cpu' ? 'the pure-JS cpu backend would take minutes' : 'a software adapter would take minutes' }
      : stepMsg
        ? { medianMs: stepMsg.medianMs, reps: stepMsg.reps, warmupMs: Math.round(stepMsg.warmupMs), imagesPerSec: (STEP.batch * 1000) / stepMsg.medianMs }
        : { medianMs: null, reps: 0, imagesPerSec: null, skipped: error ?? 'did not run' },
    wallMs: Math.round(outcome.wallMs),
  };
  if (error !== undefined) result.error = error;
  if (target.backend === 'webgpu' && target.software) result.caveat = SOFTWARE_CAVEAT;
  else if (target.backend === 'cpu') result.caveat = 'pure-JS fallback (smoke test only)';
  return result;
}

/** One child process per backend, one after another (they would slow each other down on shared cores). */
export async function runBench(targets: BenchTarget[], opts: BenchOptions = {}): Promise<DoctorBench> {
  const results: BenchResult[] = [];
  for (const target of targets) {
    const result = await benchOne(target, opts);
    opts.onResult?.(result);
    results.push(result);
  }
  return {
    shapes: {
      conv: convShapeText(FULL_CONV),
      smokeConv: convShapeText(SMOKE_CONV),
      step: { model: STEP.model, batch: STEP.batch, width: STEP.width, note: `width ${STEP.width}: a full-width step takes ~10 s on wasm here` },
    },
    results,
  };
}
