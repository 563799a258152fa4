import { batchProblem } from '../../src-worker/data/train-size';
import { checkDataDir, DATASETS, trainSizeOf } from '../../src-worker/data/registry';
import type { RunSpec } from '../../src-worker/run-spec';
import { refuseDpIncompatibleModels } from '../sweeps/dp-models';
import { expandSweep } from '../sweeps/expand';
import { fieldPathOf, parseSweepSpec, renderPath, SweepSpecError, type SweepSpec } from '../sweeps/spec';
import { taskProblems, type Task } from '../../src-worker/train/task-match';

/**
 * What a worker would refuse a second after it starts, asked before anything is stored: an unknown model, a
 * model whose task (classification, segmentation) is not its data set's, a data set whose folder is missing or
 * incomplete, a batch larger than an image folder's training set. Every
 * problem names the spec field to change, as the spec was written (`grid.model[1]`, `base.dataDir`).
 */

/** Where the spec sets `field` to `value`: its grid axis entry, else base (or the preset base names). */
const fieldPath = fieldPathOf;

async function modelProblems(spec: SweepSpec, runs: readonly RunSpec[]): Promise<string[]> {
  // imported on first use: the registry pulls in tfjs, which the store-only paths of the service never need
  const { listModels } = await import('../../src-worker/models');
  const known = new Set(listModels().map((m) => m.name));
  const unknown = [...new Set(runs.map((r) => r.model))].filter((m) => !known.has(m));
  return unknown.map((m) => `${fieldPath(spec, 'model', m)}: unknown model "${m}"; known models: ${[...known].join(', ')} (see \`normlab models\`)`);
}

/**
 * A segmentation model trains on per-pixel labels, a classifier on one label per image: a pairing the worker would
 * refuse (src-worker/train/run.ts, validateTask) is refused here, once per model and data set, naming both fields.
 * DP-SGD trains classifiers only, so a DP run of a segmentation model is refused with it.
 */
async function taskMismatches(spec: SweepSpec, runs: readonly RunSpec[]): Promise<string[]> {
  const { listModels } = await import('../../src-worker/models');
  const taskOf = new Map<string, Task>(listModels().map((m) => [m.name, m.task ?? 'classification']));
  const problems = new Set<string>();
  for (const run of runs) {
    const modelTask = taskOf.get(run.model);
    // an unknown model has no task to compare; modelProblems names it
    if (modelTask === undefined) continue;
    const found = taskProblems({
      model: `${fieldPath(spec, 'model', run.model)}: model ${run.model}`,
      data: `data set ${run.dataset} (${fieldPath(spec, 'dataset', run.dataset)})`,
      modelTask, dataTask: DATASETS[run.dataset].task ?? 'classification', dp: run.dp !== undefined,
    });
    for (const p of found) problems.add(p);
  }
  return [...problems];
}

async function dataProblems(spec: SweepSpec, runs: readonly RunSpec[]): Promise<string[]> {
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const run of runs) {
    const key = JSON.stringify([run.dataset, run.dataDir ?? null]);
    if (seen.has(key)) continue;
    seen.add(key);
    const check = await checkDataDir(run.dataset, run.dataDir);
    const where = run.dataDir === undefined ? renderPath(['base', 'dataDir']) : fieldPath(spec, 'dataDir', run.dataDir);
    problems.push(...check.problems.map((p) => `${where}: ${p}`));
  }
  return problems;
}

/** Batches against sizes only the files tell (an image folder's); the expander already checked the fixed ones. */
async function batchProblems(spec: SweepSpec, runs: readonly RunSpec[]): Promise<string[]> {
  const problems = new Set<string>();
  const sizes = new Map<string, number | null>();
  for (const run of runs) {
    if (run.dataset !== 'folder' || !run.dataDir) continue;
    let size = sizes.get(run.dataDir);
    if (size === undefined) sizes.set(run.dataDir, (size = await trainSizeOf(run)));
    const problem = size === null ? undefined : batchProblem(run, size);
    if (!problem) continue;
    const value = problem.field === 'batchSize' ? run.batchSize : run.dp?.logicalBatch;
    problems.add(`${fieldPath(spec, problem.field, value)}: ${problem.message}; lower ${problem.field}`);
  }
  return [...problems];
}

export interface CheckedSweep {
  spec: SweepSpec;
  runs: RunSpec[];
  groups: number;
}

/**
 * Parses, expands and checks a sweep spec against the registries and the disk; throws SweepSpecError with every
 * problem found, so nothing of a sweep that cannot run is ever written.
 */
export async function checkSweep(input: unknown): Promise<CheckedSweep> {
  const spec = parseSweepSpec(input);
  const expansion = expandSweep(spec);
  await refuseDpIncompatibleModels(spec, expansion.runs);
  const problems = [
    ...(await modelProblems(spec, expansion.runs)),
    ...(await taskMismatches(spec, expansion.runs)),
    ...(await dataProblems(spec, expansion.runs)),
  ];
  // a batch is only worth counting against data that is there
  if (problems.length === 0) problems.push(...(await batchProblems(spec, expansion.runs)));
  if (problems.length > 0) throw new SweepSpecError(problems);
  return { spec, runs: expansion.runs, groups: expansion.groups };
}
