import type { RunSpec } from '../../src-worker/run-spec';
import { fieldPathOf, SweepSpecError, type SweepSpec } from './spec';

/**
 * Refuses, at submit time, a sweep whose DP runs use a model DP-SGD cannot train (BatchNorm), with the
 * worker's own message, so the mistake surfaces before a queue of runs fails one by one. The model registry
 * (and tfjs with it) is loaded only when some run actually uses DP.
 */
export async function refuseDpIncompatibleModels(spec: SweepSpec, runs: readonly RunSpec[]): Promise<void> {
  const models = [...new Set(runs.filter((r) => r.dp).map((r) => r.model))];
  if (models.length === 0) return;
  const [{ refuseDpModel }, { DpIncompatibleModelError }] = await Promise.all([
    import('../../src-worker/train/dp-steps'),
    import('../../src-worker/train/dp/per-sample-grads'),
  ]);
  const problems: string[] = [];
  for (const model of models) {
    try {
      refuseDpModel(model);
    } catch (error) {
      if (!(error instanceof DpIncompatibleModelError)) throw error;
      problems.push(`${fieldPathOf(spec, 'model', model)}: ${error.message}`);
    }
  }
  if (problems.length) throw new SweepSpecError(problems);
}
