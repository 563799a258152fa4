import { batchProblem } from '../../src-worker/data/train-size';
import { trainSizeOf } from '../../src-worker/data/registry';
import { parseRunSpec, type RunSpec } from '../../src-worker/run-spec';
import type { ExperimentStore } from '../store/experiment-store';
import type { RunRecord } from '../store/types';
import { ServiceError } from './errors';
import { RETRY_FIELDS } from './schemas';

export type RunEdits = Partial<Pick<RunSpec, (typeof RETRY_FIELDS)[number]>>;

/** The edits that actually change the run: a field given with the run's own value is no change. */
export function effectiveEdits(run: RunRecord, edits: RunEdits): RunEdits {
  const changed: RunEdits = {};
  for (const field of RETRY_FIELDS) {
    const value = edits[field];
    if (value !== undefined && value !== run.spec[field]) changed[field] = value;
  }
  return changed;
}

function describeEdits(run: RunRecord, edits: RunEdits): string {
  return RETRY_FIELDS.filter((f) => edits[f] !== undefined).map((f) => `${f} ${run.spec[f]} → ${edits[f]}`).join(', ');
}

/**
 * "Clone and edit": a new queued run in the run's sweep with the edited spec, through the store's addRuns; the
 * original stays as it was. The new run starts afresh (its own checkpoints), and its log says what it was
 * cloned from and what changed. A clone identical to a run the sweep already has is a conflict, not a no-op.
 */
export async function cloneRun(store: ExperimentStore, run: RunRecord, edits: RunEdits, priority: number): Promise<RunRecord> {
  const { runId: _runId, checkpointDir: _checkpointDir, ...kept } = run.spec;
  const spec = parseRunSpec({ ...kept, ...edits, resume: false });
  const size = await trainSizeOf(spec);
  const batch = size === null ? undefined : batchProblem(spec, size);
  if (batch) throw new ServiceError('invalid_input', `cannot clone run ${run.id}: ${batch.message}`, [`${batch.field}: ${batch.message}`]);
  const [added] = store.addRuns(run.sweepId, [spec], { priority }).runs;
  if (!added) throw new ServiceError('internal', `cloning run ${run.id} added nothing`);
  if (!added.created) {
    throw new ServiceError(
      'conflict',
      `sweep ${run.sweepId} already has this config and seed: run ${added.id} (${added.status}); retry that run instead`,
    );
  }
  const what = describeEdits(run, edits);
  store.apply(added.id, { event: 'log', level: 'info', message: `cloned from run ${run.id} (${run.status}) with ${what}` });
  store.flush();
  const created = store.getRun(added.id);
  if (!created) throw new ServiceError('internal', `run ${added.id} vanished right after it was added`);
  return created;
}
