import { runBench, STEP } from './bench';
import { runDoctor } from './index';
import type { BenchTarget, DoctorAutoPick } from './report';

/**
 * This machine's training speed on the backend `--backend auto` picks: the doctor's probes, then its
 * micro-benchmark (one knresnet18 SGD step at STEP's width and batch) on that one backend. What the sweep
 * builder's estimate starts from before any run of a model has finished here.
 */
export interface MachineSpeed {
  /** `wasm`, `tensorflow (tfjs-node)`, `webgpu (NVIDIA …)`. */
  backend: string;
  /** Images per second of one training step of `model` at `width` and `batch`. */
  imagesPerSec: number;
  model: string;
  width: number;
  batch: number;
  numClasses: number;
  /** The step's first, untimed call (kernel compilation): paid once per run. */
  warmupMs: number;
  /** ISO time of the measurement. */
  measuredAt: string;
}

function targetOf(auto: DoctorAutoPick): BenchTarget | null {
  if (auto.backend === 'tensorflow' && auto.package) return { backend: 'tensorflow', package: auto.package };
  if (auto.backend === 'webgpu' && auto.adapter) return { backend: 'webgpu', adapter: auto.adapter, software: false };
  if (auto.backend === 'wasm') return { backend: 'wasm' };
  // the pure-JS cpu backend gets a smoke test only: no step figure to estimate from
  return null;
}

/** Measures; throws with the reason when no step figure comes out (the cpu fallback, a failing backend). */
export async function measureMachineSpeed(opts: { budgetMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<MachineSpeed> {
  const report = await runDoctor({ bench: false, env: opts.env });
  const target = targetOf(report.auto);
  if (!target) throw new Error(`--backend auto picks ${report.auto.backend} here, which the micro-benchmark does not time`);
  // nobody waits on it (it runs behind a preview), so a busy machine gets time to load tfjs rather than a timeout
  const bench = await runBench([target], { budgetMs: opts.budgetMs ?? 3000, env: opts.env, loadAllowanceMs: 120_000 });
  const result = bench.results[0];
  if (!result?.step.imagesPerSec) throw new Error(`the micro-benchmark on ${result?.label ?? target.backend} gave no step time: ${result?.error ?? result?.step.skipped ?? 'no result'}`);
  return {
    backend: result.label,
    imagesPerSec: result.step.imagesPerSec,
    model: STEP.model,
    width: STEP.width,
    batch: STEP.batch,
    numClasses: STEP.numClasses,
    warmupMs: result.step.warmupMs ?? 0,
    measuredAt: new Date().toISOString(),
  };
}
