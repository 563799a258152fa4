import * as tf from '@tensorflow/tfjs';
import type { RunSpec } from '../run-spec';
import { CheckpointError, type Checkpoint, type CheckpointTensor, type TensorDtype } from './checkpoint';
import type { Sgd } from './sgd';
import type { TrainableModel } from './types';

const VAR_PREFIX = 'var:';
const MOMENTUM_PREFIX = 'momentum:';

/** Every model variable (BatchNorm running statistics included) and every momentum buffer, by stable path. */
export function captureTensors(model: TrainableModel, sgd: Sgd): CheckpointTensor[] {
  const out: CheckpointTensor[] = [];
  for (const { path, variable } of model.namedVariables()) {
    const dtype: TensorDtype = variable.dtype === 'int32' ? 'int32' : 'float32';
    if (variable.dtype !== 'int32' && variable.dtype !== 'float32') {
      throw new CheckpointError(`variable "${path}" has dtype ${variable.dtype}; checkpoints hold float32 and int32`);
    }
    out.push({ name: VAR_PREFIX + path, dtype, shape: [...variable.shape], values: variable.dataSync() as Float32Array | Int32Array });
  }
  for (const b of sgd.getState().buffers) {
    out.push({ name: MOMENTUM_PREFIX + b.path, dtype: 'float32', shape: b.shape, values: b.values });
  }
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

// Changing any of these would make the checkpoint's weights or data order meaningless for the new spec.
const MUST_MATCH: (keyof RunSpec)[] = [
  'model', 'dataset', 'batchSize', 'seed', 'width', 'knDropout', 'groups', 'activation', 'lowResolution',
  'syntheticTrainSize', 'syntheticTestSize', 'imageSize', 'momentum',
  // a DP run's privacy charge so far was computed under these options; absent on both sides for other runs
  'dp',
];
// These may change on resume (e.g. extending a run), but the result is then not the uninterrupted run's.
const MAY_DIFFER: (keyof RunSpec)[] = ['epochs', 'lr', 'weightDecay', 'schedule'];

/** Throws when the checkpoint belongs to a different run; returns warnings for fields that changed harmlessly. */
export function checkResumeCompatible(saved: RunSpec, spec: RunSpec, where: string): string[] {
  const same = (k: keyof RunSpec) => JSON.stringify(saved[k]) === JSON.stringify(spec[k]);
  const clashes = MUST_MATCH.filter((k) => !same(k));
  if (clashes.length > 0) {
    const detail = clashes.map((k) => `${k}: checkpoint ${JSON.stringify(saved[k])}, spec ${JSON.stringify(spec[k])}`).join('; ');
    throw new CheckpointError(`cannot resume from ${where}: it belongs to a different run (${detail})`);
  }
  return MAY_DIFFER.filter((k) => !same(k)).map(
    (k) => `resuming with ${k} ${JSON.stringify(spec[k])} instead of the checkpoint's ${JSON.stringify(saved[k])}`,
  );
}
