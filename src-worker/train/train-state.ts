import * as tf from '@tensorflow/tfjs';
import type { RunSpec } from '../run-spec';
import { describeConfigChange, runConfigHash } from '../run-config';
import { CheckpointError, type Checkpoint, type CheckpointHeader, type CheckpointTensor } from './checkpoint';
import type { Sgd } from './sgd';
import type { TrainableModel } from './types';

const VAR_PREFIX = 'var:';
const MOMENTUM_PREFIX = 'momentum:';

/** Every model variable (BatchNorm running statistics included) and every momentum buffer, by stable path. */
export async function captureTensors(model: TrainableModel, sgd: Sgd): Promise<CheckpointTensor[]> {
  const variables = model.namedVariables();
  for (const { path, variable } of variables) {
    if (variable.dtype !== 'int32' && variable.dtype !== 'float32') {
      throw new CheckpointError(`variable "${path}" has dtype ${variable.dtype}; checkpoints hold float32 and int32`);
    }
  }
  // every read in flight at once: one wait for the device instead of one per variable
  const [values, state] = await Promise.all([
    Promise.all(variables.map(({ variable }) => variable.data() as Promise<Float32Array | Int32Array>)),
    sgd.getState(),
  ]);
  const out: CheckpointTensor[] = variables.map(({ path, variable }, i) => ({
    name: VAR_PREFIX + path, dtype: variable.dtype === 'int32' ? 'int32' : 'float32', shape: [...variable.shape], values: values[i],
  }));
  for (const b of state.buffers) out.push({ name: MOMENTUM_PREFIX + b.path, dtype: 'float32', shape: b.shape, values: b.values });
  return out;
}

export function restoreTensors(ckpt: Checkpoint & { path?: string }, model: TrainableModel, sgd: Sgd): void {
  const where = ckpt.path ?? 'checkpoint';
  for (const { path, variable } of model.namedVariables()) {
    const saved = ckpt.tensors.get(VAR_PREFIX + path);
    if (!saved) throw new CheckpointError(`${where} has no values for variable "${path}" (different model?)`);
    if (saved.shape.join(',') !== variable.shape.join(',')) {
      throw new CheckpointError(`${where}: variable "${path}" has shape [${saved.shape}], the model expects [${variable.shape}]`);
    }
    tf.tidy(() => variable.assign(tf.tensor(saved.values, saved.shape, variable.dtype)));
  }
  const buffers = [...ckpt.tensors.values()]
    .filter((t) => t.name.startsWith(MOMENTUM_PREFIX))
    .map((t) => ({ path: t.name.slice(MOMENTUM_PREFIX.length), shape: t.shape, values: t.values as Float32Array }));
  sgd.setState({ initialized: ckpt.header.optimizer.initialized, buffers });
}

/**
 * Throws unless the checkpoint was written under exactly this run's configuration (its config hash; execution-only
 * fields such as the backend may differ). A checkpoint of another run, or of this run with other epochs or lr,
 * would silently turn the result into something nobody asked for, so it is refused, never merely warned about.
 */
export function checkResumeCompatible(header: Pick<CheckpointHeader, 'spec' | 'configHash'>, spec: RunSpec, where: string): void {
  const saved = header.configHash ?? runConfigHash(header.spec);
  if (saved === runConfigHash(spec)) return;
  const detail = describeConfigChange(header.spec, spec, 'checkpoint') ?? `config hash ${saved.slice(0, 12)}…, spec ${runConfigHash(spec).slice(0, 12)}…`;
  throw new CheckpointError(
    `cannot resume from ${where}: it belongs to a different run (${detail}); ` +
    'point the run at an empty checkpoint folder, or delete this one to start over',
  );
}
