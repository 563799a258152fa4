import type { NormKind } from '../../src-worker/models/types';
import { fieldApplies, runField, runFields, scheduleFields, type RunContext, type RunFieldInfo } from '../../src-worker/run-fields';
import { DP_PAPER_EPSILON, presetFields, withImpliedDefaults } from '../../src-worker/train/presets';

/**
 * The sweep builder's form as plain data, and its translation into a sweep spec (src-main/sweeps/spec.ts).
 * Local checks here give instant feedback on what the user typed (number lists, empty choices); the server's
 * previewSweep then validates the resulting spec with the real schema and counts the runs exactly.
 * The fields beyond the dedicated sections (momentum, weight decay, schedule, GroupNorm groups, backend, …) are the
 * run spec's other fields (run-fields.ts), in groups: the form lists them from the schema, with its defaults.
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
  /**
   * The schema's builder fields by name (builderFields()), as typed: number lists (several values: a grid axis),
   * or a choice. Empty leaves the field to the preset or the schema's default.
   */
  training: Record<string, string>;
  /** Schedule kind ('' leaves it to the preset or default) and its parameters as typed, by name. */
  schedule: { kind: string; params: Record<string, string> };
}

/**
 * Run fields with inputs of their own in the builder (name, data set, models, lr, batch sizes, epochs, widths,
 * seeds, statistics, preset, DP), or that the scheduler sets per run (runId, checkpoint folder, resume). Every other
 * field of the schema is offered in a group below, so a field added to the schema shows up without a change here.
 */
const DEDICATED_FIELDS = new Set([
  'runId', 'model', 'dataset', 'dataDir', 'syntheticTrainSize', 'syntheticTestSize', 'epochs', 'batchSize', 'lr', 'width', 'seed',
  'statsEvery', 'preset', 'dp', 'checkpointDir', 'resume', 'schedule',
]);

/** The run fields the builder offers in its groups, in the schema's order (the schedule has its own group). */
export function builderFields(): RunFieldInfo[] {
  return runFields().filter((f) => !DEDICATED_FIELDS.has(f.key));
}

export type BuilderGroupId = 'data' | 'optimisation' | 'normalization' | 'execution' | 'other';

export interface BuilderGroup {
  id: BuilderGroupId;
  title: string;
  fields: RunFieldInfo[];
}

/** Where each field sits; a field not listed goes by its role (execution) or to "Other options". */
const GROUP_OF: Readonly<Record<string, BuilderGroupId>> = {
  imageSize: 'data', trainCropSize: 'data', valResizeSize: 'data', augment: 'data', normalizeInputs: 'data', autoAugment: 'data',
  randomErasing: 'data', raReps: 'data', cropSize: 'data', scaleRange: 'data', mixupAlpha: 'data', cutmixAlpha: 'data',
  optimizer: 'optimisation', momentum: 'optimisation', nesterov: 'optimisation', weightDecay: 'optimisation',
  normWeightDecay: 'optimisation', adamBeta1: 'optimisation', adamBeta2: 'optimisation', adamEps: 'optimisation',
  labelSmoothing: 'optimisation', accumulate: 'optimisation', modelEma: 'optimisation', emaDecay: 'optimisation', emaSteps: 'optimisation',
  knDropout: 'normalization', groups: 'normalization', activation: 'normalization', lowResolution: 'normalization',
};

const GROUP_TITLES: Readonly<Record<BuilderGroupId, string>> = {
  data: 'Data and augmentation',
  optimisation: 'Optimizer options',
  normalization: 'Normalization and model options (KN, GN, …)',
  execution: 'Execution',
  other: 'Other options',
};

function groupOf(field: RunFieldInfo): BuilderGroupId {
  return GROUP_OF[field.key] ?? (field.meta.role === 'execution' ? 'execution' : 'other');
}

/** The builder's field groups, each in the schema's order; every builder field is in exactly one. */
export function builderGroups(): BuilderGroup[] {
  const ids: BuilderGroupId[] = ['data', 'optimisation', 'normalization', 'execution', 'other'];
  return ids.map((id) => ({ id, title: GROUP_TITLES[id], fields: builderFields().filter((f) => groupOf(f) === id) }));
}

export function builderGroup(id: BuilderGroupId): BuilderGroup {
  const group = builderGroups().find((g) => g.id === id);
  if (!group) throw new Error(`sweep-form: no builder group "${id}"`);
  return group;
}

/** What the selected models are, for which fields apply (from the registry, through the catalog). */
export type ModelKinds = ReadonlyMap<string, { norm: NormKind; family: string }>;

/**
 * Whether a field applies to some run of the sweep being built: one of the selected models (every model when
 * none is picked yet, or when the registry has not said what they are), the data set, DP on or off.
 */
export function fieldAppliesToForm(
  field: RunFieldInfo,
  form: Pick<SweepForm, 'dataset' | 'models' | 'dp'> & Partial<Pick<SweepForm, 'training' | 'preset'>>,
  kinds?: ModelKinds,
): boolean {
  const run: RunContext = { dataset: form.dataset, dp: form.dp.enabled, ...formChoices(form) };
  const models = form.models.map((m) => kinds?.get(m));
  if (models.length === 0 || models.some((m) => m === undefined)) return fieldApplies(field.meta.scope, run);
  return models.some((model) => fieldApplies(field.meta.scope, { ...run, model }));
}

/** The optimizer and EMA the form's runs get (the field, else the preset, else the default), for AdamW and EMA options. */
function formChoices(form: Partial<Pick<SweepForm, 'training' | 'preset'>>): Pick<RunContext, 'optimizer' | 'modelEma'> {
  if (!form.training) return {};
  const preset = presetValues(form.preset ?? '');
  const optimizer = form.training.optimizer || (typeof preset.optimizer === 'string' ? preset.optimizer : String(runField('optimizer').defaultValue));
  const ema = form.training.modelEma;
  const modelEma = ema ? ema === 'on' : typeof preset.modelEma === 'boolean' ? preset.modelEma : false;
  return { optimizer, modelEma };
}

function presetValues(preset: string): Record<string, unknown> {
  try {
    return preset ? presetFields(preset) : {};
  } catch {
    return {}; // an unknown preset is the server's to report
  }
}

/** What a field gets when left empty: the preset's value, else the schema's default, as text for a placeholder. */
export function fieldPlaceholder(field: RunFieldInfo, preset: string): string {
  const fromPreset = presetValues(preset)[field.key];
  const show = (v: unknown) => (typeof v === 'boolean' ? (v ? 'on' : 'off') : Array.isArray(v) ? v.join(', ') : String(v));
  if (fromPreset !== undefined) return `${show(fromPreset)} (${preset})`;
  if (field.defaultValue !== undefined) return `${show(field.defaultValue)} (default)`;
  return field.meta.whenUnset ? `${field.meta.whenUnset} (default)` : 'automatic';
}

function schemaDefaultText(path: string): string {
  return String(runField(path).defaultValue);
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
    dp: { enabled: false, targetEpsilon: String(DP_PAPER_EPSILON), delta: schemaDefaultText('dp.delta'), clipValues: schemaDefaultText('dp.maxGradNorm'), logicalBatch: '256' },
    training: Object.fromEntries(builderFields().map((f) => [f.key, ''])),
    schedule: { kind: '', params: Object.fromEntries(scheduleFields().map((f) => [f.key, ''])) },
  };
}

/** Why DP-SGD cannot train a model of this normalization, or null when it can (the worker's own rule). */
export function dpRefusal(model: string, norm: string | undefined): string | null {
  if (norm === undefined) return null;
  // the dp field's scope (dpCapable) is the rule; the message is the worker's (refuseDpModel)
  const applies = fieldApplies(runField('dp').meta.scope, { dp: true, model: { norm, family: '' } });
  return applies ? null : `DP-SGD cannot train ${model}: BatchNorm mixes examples in a batch; use a KN, GN or LN model`;
}

export interface NumberListResult {
  values: number[];
  error: string | null;
}

/** "0.1, 0.05 1e-2" → [0.1, 0.05, 0.01]; says which item is wrong and why. */
export function parseNumberList(text: string, opts: { integer?: boolean; positive?: boolean; min?: number; allowRepeats?: boolean } = {}): NumberListResult {
  const items = text.split(/[\s,;]+/).filter(Boolean);
  if (items.length === 0) return { values: [], error: 'enter at least one value' };
  const values: number[] = [];
  for (const item of items) {
    const n = Number(item);
    if (!Number.isFinite(n)) return { values: [], error: `"${item}" is not a number` };
    if (opts.integer && !Number.isInteger(n)) return { values: [], error: `"${item}" must be a whole number` };
    if (opts.positive && n <= 0) return { values: [], error: `"${item}" must be greater than 0` };
    if (opts.min !== undefined && n < opts.min) return { values: [], error: `"${item}" must be at least ${opts.min}` };
    if (!opts.allowRepeats && values.includes(n)) return { values: [], error: `${item} is listed twice` };
    values.push(n);
  }
  return { values, error: null };
}

function parseOne(text: string, opts: { integer?: boolean; positive?: boolean; min?: number } = {}): { value: number | null; error: string | null } {
  const r = parseNumberList(text, opts);
  if (r.error) return { value: null, error: r.error };
  if (r.values.length !== 1) return { value: null, error: 'enter one value' };
  return { value: r.values[0], error: null };
}

/** Errors by form field; builder fields as `training.<name>`, schedule parameters as `schedule.<name>`. */
export type FormErrors = Partial<Record<
  keyof SweepForm | 'lrSearch.start' | 'lrSearch.factor' | 'lrSearch.maxSteps' | 'lrSearch.repeats' |
  'dp.targetEpsilon' | 'dp.delta' | 'dp.clipValues' | 'dp.logicalBatch' | `training.${string}` | `schedule.${string}`,
  string
>>;

export interface BuildOptions {
  /** Model name → its normalization (from the registry), to refuse BatchNorm models under DP-SGD. */
  modelNorms?: ReadonlyMap<string, string>;
  /** Model name → normalization and family, to leave out fields that apply to none of the selected models. */
  modelKinds?: ModelKinds;
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
  const onDataset = (path: string) => fieldApplies(runField(path).meta.scope, { dataset: form.dataset, dp: false });
  if (onDataset('dataDir') && !form.dataDir.trim()) errors.dataDir = `${form.dataset} needs the folder holding its files`;

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

  const synthetic = onDataset('syntheticTrainSize');
  const trainSize = synthetic ? parseOne(form.syntheticTrainSize, { integer: true, min: 5 }) : null;
  const testSize = synthetic ? parseOne(form.syntheticTestSize, { integer: true, positive: true }) : null;
  if (trainSize?.error) errors.syntheticTrainSize = trainSize.error;
  if (testSize?.error) errors.syntheticTestSize = testSize.error;

  const training = parseTrainingFields(form, opts.modelKinds, errors);
  const schedule = parseSchedule(form.schedule, errors);

  const clips = dp ? dp.clips.length : 1;
  const axes = Object.values(training).reduce((n, values) => n * values.length, 1);
  const configs = form.models.length * batch.values.length * epochs.values.length * widths.values.length * (search ? 1 : lrs.length) * clips * axes;
  const seedCount = search ? (seeds ? Math.min(seeds.length, search.repeats) : search.repeats) : seeds ? seeds.length : (repeats ?? 0);
  const runCount = search ? configs : configs * seedCount;
  const maxRunCount = search ? configs * (search.maxSteps + seedCount - 1) : runCount;

  if (Object.keys(errors).length > 0) return { errors, spec: null, runCount, maxRunCount };

  const base: Record<string, unknown> = { dataset: form.dataset, statsEvery: statsEvery.value };
  const grid: Record<string, unknown[]> = {};
  if (form.preset) base.preset = form.preset;
  if (onDataset('dataDir')) base.dataDir = form.dataDir.trim();
  if (trainSize && testSize) {
    base.syntheticTrainSize = trainSize.value;
    base.syntheticTestSize = testSize.value;
  }
  place(base, grid, 'model', form.models);
  place(base, grid, 'batchSize', batch.values);
  place(base, grid, 'epochs', epochs.values);
  place(base, grid, 'width', widths.values);
  if (!search) place(base, grid, 'lr', lrs);
  for (const [field, values] of Object.entries(training)) place(base, grid, field, values);
  if (schedule) base.schedule = schedule;
  if (dp) {
    base.dp = { targetEpsilon: dp.targetEpsilon, delta: dp.delta, logicalBatch: dp.logicalBatch, ...(dp.clips.length === 1 ? { maxGradNorm: dp.clips[0] } : {}) };
    if (dp.clips.length > 1) grid['dp.maxGradNorm'] = dp.clips;
    // written out so the spec shows it: DP implies Mish unless an activation is chosen (presets.ts)
    base.activation = withImpliedDefaults(base).activation;
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

/**
 * The builder fields the user filled in and that apply to some selected model, each as its list of values (one:
 * a fixed field; several: a grid axis). Checked by the field's schema, errors under `training.<name>`.
 */
function parseTrainingFields(form: SweepForm, kinds: ModelKinds | undefined, errors: FormErrors): Record<string, unknown[]> {
  const out: Record<string, unknown[]> = {};
  for (const field of builderFields()) {
    const text = (form.training[field.key] ?? '').trim();
    if (!text || !fieldAppliesToForm(field, form, kinds)) continue;
    const values = parseFieldValues(field, text);
    if (typeof values === 'string') errors[`training.${field.key}`] = values;
    else out[field.key] = values;
  }
  return out;
}

/** A field's values from its text, or what is wrong with them (the schema's own message for a bad value). */
function parseFieldValues(field: RunFieldInfo, text: string): unknown[] | string {
  let values: unknown[];
  if (field.kind === 'boolean') values = [text === 'on'];
  else if (field.kind === 'enum' || field.kind === 'string') values = [text];
  else if (field.kind === 'integerList' || field.kind === 'numberList') {
    // a list-valued field (a crop's width,height) takes one list: its numbers are the value, not a grid axis
    const r = parseNumberList(text, { integer: field.kind === 'integerList', allowRepeats: true });
    if (r.error) return r.error;
    values = [r.values];
  } else {
    const r = parseNumberList(text, { integer: field.kind === 'integer' });
    if (r.error) return r.error;
    values = r.values;
  }
  for (const value of values) {
    const checked = field.schema.safeParse(value);
    if (!checked.success) return `${String(value)}: ${checked.error.issues[0]?.message ?? 'invalid'}`;
  }
  return values;
}

/** The schedule the form asks for (its parameters filled in or left to the schema's defaults), or null for none. */
function parseSchedule(schedule: SweepForm['schedule'], errors: FormErrors): Record<string, unknown> | null {
  if (!schedule.kind) return null;
  const out: Record<string, unknown> = { kind: schedule.kind };
  for (const param of scheduleFields().filter((f) => f.scheduleKind === schedule.kind)) {
    const text = (schedule.params[param.key] ?? '').trim();
    if (!text) continue;
    const r = parseNumberList(text, { integer: param.kind === 'integerList' });
    if (r.error) {
      errors[`schedule.${param.key}`] = r.error;
      continue;
    }
    const value = param.kind === 'integerList' ? r.values : r.values.length === 1 ? r.values[0] : r.values;
    const checked = param.schema.safeParse(value);
    if (checked.success) out[param.key] = value;
    else errors[`schedule.${param.key}`] = checked.error.issues[0]?.message ?? 'invalid';
  }
  return out;
}
