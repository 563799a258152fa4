/**
 * The sweep builder's form as plain data, and its translation into a sweep spec (src-main/sweeps/spec.ts).
 * Local checks here give instant feedback on what the user typed (number lists, empty choices); the server's
 * previewSweep then validates the resulting spec with the real schema and counts the runs exactly.
 */

export interface SweepForm {
  name: string;
  dataset: string;
  dataDir: string;
  syntheticTrainSize: string;
  syntheticTestSize: string;
  preset: string;
  models: string[];
  lrMode: 'values' | 'search';
  lrValues: string;
  lrSearch: { start: string; factor: string; maxSteps: string; repeats: string };
  batchSizes: string;
  epochs: string;
  widths: string;
  seedMode: 'repeats' | 'seeds';
  repeats: string;
  seeds: string;
  priority: string;
  /** Sample normalization statistics every N training steps (0: never), for the kernel-statistics view. */
  statsEvery: string;
  /** DP-SGD: the paper's (ε, δ) = (8, 8e-7); several clipping bounds become a grid axis (dp.maxGradNorm). */
  dp: { enabled: boolean; targetEpsilon: string; delta: string; clipValues: string; logicalBatch: string };
}

export function defaultSweepForm(): SweepForm {
  return {
    name: '',
    dataset: 'synthetic',
    dataDir: '',
    syntheticTrainSize: '512',
    syntheticTestSize: '256',
    preset: '',
    models: [],
    lrMode: 'values',
    lrValues: '0.1',
    lrSearch: { start: '0.2', factor: '0.5', maxSteps: '6', repeats: '3' },
    batchSizes: '32',
    epochs: '2',
    widths: '1',
    seedMode: 'repeats',
    repeats: '3',
    seeds: '1, 2, 3',
    priority: '0',
    statsEvery: '50',
    // logical batch 256 fits the default synthetic set; the paper uses 8192 on CIFAR-10
    dp: { enabled: false, targetEpsilon: '8', delta: '8e-7', clipValues: '1', logicalBatch: '256' },
  };
}

/** Why DP-SGD cannot train a model of this normalization, or null when it can (the worker's own rule). */
export function dpRefusal(model: string, norm: string | undefined): string | null {
  return norm === 'bn' ? `DP-SGD cannot train ${model}: BatchNorm mixes examples in a batch; use a KN, GN or LN model` : null;
}

export interface NumberListResult {
  values: number[];
  error: string | null;
}

/** "0.1, 0.05 1e-2" → [0.1, 0.05, 0.01]; says which item is wrong and why. */
export function parseNumberList(text: string, opts: { integer?: boolean; positive?: boolean; min?: number } = {}): NumberListResult {
  const items = text.split(/[\s,;]+/).filter(Boolean);
  if (items.length === 0) return { values: [], error: 'enter at least one value' };
  const values: number[] = [];
  for (const item of items) {
    const n = Number(item);
    if (!Number.isFinite(n)) return { values: [], error: `"${item}" is not a number` };
    if (opts.integer && !Number.isInteger(n)) return { values: [], error: `"${item}" must be a whole number` };
    if (opts.positive && n <= 0) return { values: [], error: `"${item}" must be greater than 0` };
    if (opts.min !== undefined && n < opts.min) return { values: [], error: `"${item}" must be at least ${opts.min}` };
    if (values.includes(n)) return { values: [], error: `${item} is listed twice` };
    values.push(n);
  }
  return { values, error: null };
}

function parseOne(text: string, opts: { integer?: boolean; positive?: boolean; min?: number } = {}): { value: number | null; error: string | null } {
  const r = parseNumberList(text, opts);
  if (r.error) return { value: null, error: r.error };
  if (r.values.length !== 1) return { value: null, error: 'enter one value' };
  return { value: r.values[0]!, error: null };
}

export type FormErrors = Partial<Record<
  keyof SweepForm | 'lrSearch.start' | 'lrSearch.factor' | 'lrSearch.maxSteps' | 'lrSearch.repeats' |
  'dp.targetEpsilon' | 'dp.delta' | 'dp.clipValues' | 'dp.logicalBatch',
  string
>>;

export interface BuildOptions {
  /** Model name → its normalization (from the registry), to refuse BatchNorm models under DP-SGD. */
  modelNorms?: ReadonlyMap<string, string>;
}

export interface FormResult {
  errors: FormErrors;
  /** The sweep spec, or null while the form has errors. */
  spec: Record<string, unknown> | null;
  /** Runs the spec queues now (for an lr search: the first lr of each family). */
  runCount: number;
  /** The most runs it can make (an lr search that walks the whole ladder, then the repeats). */
  maxRunCount: number;
}

/** A list with one value is a fixed field (base); with several it is a grid axis. */
function place(base: Record<string, unknown>, grid: Record<string, unknown[]>, field: string, values: unknown[]): void {
  if (values.length === 1) base[field] = values[0];
  else if (values.length > 1) grid[field] = values;
}

export function buildSweepSpec(form: SweepForm, opts: BuildOptions = {}): FormResult {
  const errors: FormErrors = {};
  if (!form.name.trim()) errors.name = 'give the sweep a name (re-submitting the same name adds only new runs)';
  if (form.models.length === 0) errors.models = 'pick at least one model';
  const dp = form.dp.enabled ? parseDp(form.dp, errors) : null;
  if (dp) {
    const refused = form.models.map((m) => dpRefusal(m, opts.modelNorms?.get(m))).find((r) => r !== null);
    if (refused) errors.models = refused;
  }
  if (!form.dataset) errors.dataset = 'pick a data set';
  if (form.dataset !== 'synthetic' && !form.dataDir.trim()) errors.dataDir = `${form.dataset} needs the folder holding its files`;

  const batch = parseNumberList(form.batchSizes, { integer: true, positive: true });
  if (batch.error) errors.batchSizes = batch.error;
  const epochs = parseNumberList(form.epochs, { integer: true, positive: true });
  if (epochs.error) errors.epochs = epochs.error;
  const widths = parseNumberList(form.widths, { positive: true });
  if (widths.error) errors.widths = widths.error;
  else if (widths.values.some((w) => w > 4)) errors.widths = 'width multipliers go up to 4';

  let lrs: number[] = [];
  let search: Record<string, number> | null = null;
  if (form.lrMode === 'values') {
    const r = parseNumberList(form.lrValues, { positive: true });
    if (r.error) errors.lrValues = r.error;
    lrs = r.values;
  } else {
    const start = parseOne(form.lrSearch.start, { positive: true });
    const factor = parseOne(form.lrSearch.factor, { positive: true });
    const maxSteps = parseOne(form.lrSearch.maxSteps, { integer: true, positive: true });
    const repeats = parseOne(form.lrSearch.repeats, { integer: true, positive: true });
    if (start.error) errors['lrSearch.start'] = start.error;
    if (factor.error) errors['lrSearch.factor'] = factor.error;
    else if (factor.value! >= 1) errors['lrSearch.factor'] = 'the factor must be below 1 (each step lowers lr)';
    if (maxSteps.error) errors['lrSearch.maxSteps'] = maxSteps.error;
    if (repeats.error) errors['lrSearch.repeats'] = repeats.error;
    if (start.value && factor.value && maxSteps.value && repeats.value) {
      search = { start: start.value, factor: factor.value, maxSteps: maxSteps.value, repeats: repeats.value };
    }
  }

  let seeds: number[] | null = null;
  let repeats: number | null = null;
  if (form.seedMode === 'seeds') {
    const r = parseNumberList(form.seeds, { integer: true, min: 0 });
    if (r.error) errors.seeds = r.error;
    seeds = r.values;
  } else if (form.lrMode === 'values') {
    const r = parseOne(form.repeats, { integer: true, positive: true });
    if (r.error) errors.repeats = r.error;
    repeats = r.value;
  }

  const priority = parseOne(form.priority, { integer: true });
  if (priority.error) errors.priority = priority.error;
  const statsEvery = parseOne(form.statsEvery, { integer: true, min: 0 });
  if (statsEvery.error) errors.statsEvery = statsEvery.error;

  const synthetic = form.dataset === 'synthetic';
  const trainSize = synthetic ? parseOne(form.syntheticTrainSize, { integer: true, min: 5 }) : null;
  const testSize = synthetic ? parseOne(form.syntheticTestSize, { integer: true, positive: true }) : null;
  if (trainSize?.error) errors.syntheticTrainSize = trainSize.error;
  if (testSize?.error) errors.syntheticTestSize = testSize.error;

  const clips = dp ? dp.clips.length : 1;
  const configs = form.models.length * batch.values.length * epochs.values.length * widths.values.length * (search ? 1 : lrs.length) * clips;
  const seedCount = search ? (seeds ? Math.min(seeds.length, search.repeats!) : search.repeats!) : seeds ? seeds.length : (repeats ?? 0);
  const runCount = search ? configs : configs * seedCount;
  const maxRunCount = search ? configs * (search.maxSteps! + seedCount - 1) : runCount;

  if (Object.keys(errors).length > 0) return { errors, spec: null, runCount, maxRunCount };

  const base: Record<string, unknown> = { dataset: form.dataset, statsEvery: statsEvery.value };
  const grid: Record<string, unknown[]> = {};
  if (form.preset) base.preset = form.preset;
  if (!synthetic) base.dataDir = form.dataDir.trim();
  else {
    base.syntheticTrainSize = trainSize!.value;
    base.syntheticTestSize = testSize!.value;
  }
  place(base, grid, 'model', form.models);
  place(base, grid, 'batchSize', batch.values);
  place(base, grid, 'epochs', epochs.values);
  place(base, grid, 'width', widths.values);
  if (!search) place(base, grid, 'lr', lrs);
  if (dp) {
    base.dp = { targetEpsilon: dp.targetEpsilon, delta: dp.delta, logicalBatch: dp.logicalBatch, ...(dp.clips.length === 1 ? { maxGradNorm: dp.clips[0] } : {}) };
    if (dp.clips.length > 1) grid['dp.maxGradNorm'] = dp.clips;
    // the paper trains every DP model with Mish
    base.activation = 'mish';
  }

  const spec: Record<string, unknown> = { name: form.name.trim(), base, grid, priority: priority.value };
  if (seeds) spec.seeds = seeds;
  else if (repeats !== null) spec.repeats = repeats;
  if (search) spec.lrSearch = search;
  return { errors, spec, runCount, maxRunCount };
}

interface DpValues {
  targetEpsilon: number;
  delta: number;
  clips: number[];
  logicalBatch: number;
}

/** The DP fields, each error recorded; values are only used once the form has no errors. */
function parseDp(dp: SweepForm['dp'], errors: FormErrors): DpValues {
  const eps = parseOne(dp.targetEpsilon, { positive: true });
  const delta = parseOne(dp.delta, { positive: true });
  const clips = parseNumberList(dp.clipValues, { positive: true });
  const batch = parseOne(dp.logicalBatch, { integer: true, positive: true });
  if (eps.error) errors['dp.targetEpsilon'] = eps.error;
  if (delta.error) errors['dp.delta'] = delta.error;
  else if (delta.value! >= 1) errors['dp.delta'] = 'δ must be below 1 (the paper: 8e-7, below 1/N)';
  if (clips.error) errors['dp.clipValues'] = clips.error;
  if (batch.error) errors['dp.logicalBatch'] = batch.error;
  return { targetEpsilon: eps.value ?? NaN, delta: delta.value ?? NaN, clips: clips.values, logicalBatch: batch.value ?? NaN };
}
