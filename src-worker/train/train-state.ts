import * as tf from '@tensorflow/tfjs';
import type { RunSpec } from '../run-spec';
import { describeConfigChange, runConfigHash, sameRunConfig } from '../run-config';
import { CheckpointError, type Checkpoint, type CheckpointHeader, type CheckpointTensor } from './checkpoint';
import type { WeightEma } from './recipe/ema';
import type { RunOptimizer } from './recipe/optimizer';
import type { TrainableModel } from './types';

const VAR_PREFIX = 'var:';
const MOMENTUM_PREFIX = 'momentum:';
const ADAMW_M_PREFIX = 'adamw_m:';
const ADAMW_V_PREFIX = 'adamw_v:';
const EMA_PREFIX = 'ema:';

/**
 * Every model variable (BatchNorm running statistics included), the optimizer's state (SGD momentum buffers or
 * AdamW's two moments) and the EMA's averages, by stable path.
 */
export async function captureTensors(model: TrainableModel, optimizer: RunOptimizer, ema?: WeightEma): Promise<CheckpointTensor[]> {
  const variables = model.namedVariables();
  for (const { path, variable } of variables) {
    if (variable.dtype !== 'int32' && variable.dtype !== 'float32') {
      throw new CheckpointError(`variable "${path}" has dtype ${variable.dtype}; checkpoints hold float32 and int32`);
    }
  }
  // every read in flight at once: one wait for the device instead of one per variable
  const [values, sgdState, adamwState, emaState] = await Promise.all([
    Promise.all(variables.map(({ variable }) => variable.data() as Promise<Float32Array | Int32Array>)),
    optimizer.kind === 'sgd' ? optimizer.sgd.getState() : null,
    optimizer.kind === 'adamw' ? optimizer.adamw.getState() : null,
    ema?.getState() ?? null,
  ]);
  const out: CheckpointTensor[] = variables.map(({ path, variable }, i) => ({
    name: VAR_PREFIX + path, dtype: variable.dtype === 'int32' ? 'int32' : 'float32', shape: [...variable.shape], values: values[i],
  }));
  for (const b of sgdState?.buffers ?? []) out.push({ name: MOMENTUM_PREFIX + b.path, dtype: 'float32', shape: b.shape, values: b.values });
  for (const m of adamwState?.moments ?? []) {
    out.push({ name: ADAMW_M_PREFIX + m.path, dtype: 'float32', shape: m.shape, values: m.m });
    out.push({ name: ADAMW_V_PREFIX + m.path, dtype: 'float32', shape: m.shape, values: m.v });
  }
  const shapes = new Map(variables.map(({ path, variable }) => [path, [...variable.shape]]));
  for (const v of emaState?.values ?? []) out.push({ name: EMA_PREFIX + v.path, dtype: 'float32', shape: shapes.get(v.path) ?? [v.values.length], values: v.values });
  return out;
}

/** The header's record of the optimizer and the EMA, written next to their tensors. */
export function optimizerHeader(optimizer: RunOptimizer, ema?: WeightEma): Pick<CheckpointHeader, 'optimizer' | 'ema'> {
  const header: Pick<CheckpointHeader, 'optimizer' | 'ema'> = optimizer.kind === 'sgd'
    ? { optimizer: { initialized: optimizer.sgd.isInitialized, kind: 'sgd' } }
    : { optimizer: { initialized: optimizer.adamw.steps > 0, kind: 'adamw', adamwSteps: optimizer.adamw.steps } };
  if (ema) header.ema = { updates: ema.updates };
  return header;
}

function prefixed(ckpt: Checkpoint, prefix: string): { path: string; shape: number[]; values: Float32Array }[] {
  return [...ckpt.tensors.values()]
    .filter((t) => t.name.startsWith(prefix))
    .map((t) => ({ path: t.name.slice(prefix.length), shape: t.shape, values: t.values as Float32Array }));
}

export function restoreTensors(ckpt: Checkpoint & { path?: string }, model: TrainableModel, optimizer: RunOptimizer, ema?: WeightEma): void {
  const where = ckpt.path ?? 'checkpoint';
  for (const { path, variable } of model.namedVariables()) {
    const saved = ckpt.tensors.get(VAR_PREFIX + path);
    if (!saved) throw new CheckpointError(`${where} has no values for variable "${path}" (different model?)`);
    if (saved.shape.join(',') !== variable.shape.join(',')) {
      throw new CheckpointError(`${where}: variable "${path}" has shape [${saved.shape}], the model expects [${variable.shape}]`);
    }
    tf.tidy(() => variable.assign(tf.tensor(saved.values, saved.shape, variable.dtype)));
  }
  const savedKind = ckpt.header.optimizer.kind ?? 'sgd';
  if (savedKind !== optimizer.kind) {
    throw new CheckpointError(`${where} holds ${savedKind} state, but the run trains with ${optimizer.kind}`);
  }
  if (optimizer.kind === 'sgd') {
    optimizer.sgd.setState({ initialized: ckpt.header.optimizer.initialized, buffers: prefixed(ckpt, MOMENTUM_PREFIX) });
  } else {
    const v = new Map(prefixed(ckpt, ADAMW_V_PREFIX).map((t) => [t.path, t.values]));
    const moments = prefixed(ckpt, ADAMW_M_PREFIX).map((m) => ({ path: m.path, shape: m.shape, m: m.values, v: v.get(m.path) ?? new Float32Array() }));
    optimizer.adamw.setState({ step: ckpt.header.optimizer.adamwSteps ?? 0, moments });
  }
  if (ema) {
    if (!ckpt.header.ema) throw new CheckpointError(`${where} has no EMA state, but the run keeps an EMA of the weights`);
    ema.setState({ averaged: ckpt.header.ema.updates, values: prefixed(ckpt, EMA_PREFIX).map(({ path, values }) => ({ path, values })) });
  }
}

/**
 * Throws unless the checkpoint was written under exactly this run's configuration (its config hash; execution-only
 * fields such as the backend may differ). A checkpoint of another run, or of this run with other epochs or lr,
 * would silently turn the result into something nobody asked for, so it is refused, never merely warned about.
 * A checkpoint written before a field existed has a hash over the older field set; it is the same run when its
 * spec, read by today's schema, has that field at its default.
 */
export function checkResumeCompatible(header: Pick<CheckpointHeader, 'spec' | 'configHash'>, spec: RunSpec, where: string): void {
  const saved = header.configHash ?? runConfigHash(header.spec);
  if (saved === runConfigHash(spec)) return;
  if (sameRunConfig(header.spec, spec)) return;
  const detail = describeConfigChange(header.spec, spec, 'checkpoint') ??
    `config hash ${saved.slice(0, 12)}…, spec ${runConfigHash(spec).slice(0, 12)}…`;
  throw new CheckpointError(
    `cannot resume from ${where}: it belongs to a different run (${detail}); ` +
    'point the run at an empty checkpoint folder, or delete this one to start over',
  );
}
