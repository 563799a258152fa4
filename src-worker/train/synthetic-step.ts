import * as tf from '@tensorflow/tfjs';
import { createModel } from '../models';
import { crossEntropyFromLogits } from './loss';
import { Sgd } from './sgd';

export interface SyntheticStepOptions {
  width: number;
  batch: number;
  /** 100 by default: CIFAR-100's head. */
  numClasses?: number;
}

/**
 * One SGD step (forward + backward + update) of a registry model on a fixed random CIFAR-size batch: what the
 * benchmarks and `normlab doctor` time. The loss is read with `await data()`, as the trainer does: a GPU backend
 * has no synchronous reads, and the read is what makes the step's time real.
 */
export function syntheticTrainingStep(name: string, opts: SyntheticStepOptions): { step: () => Promise<void>; dispose: () => void } {
  const classes = opts.numClasses ?? 100;
  const model = createModel(name, { numClasses: classes, lowResolution: true, widthMultiplier: opts.width, seed: 1 });
  const params = model.namedVariables().filter((v) => v.trainable).map(({ path, variable }) => ({ path, variable }));
  const sgd = new Sgd(params, { momentum: 0.9, weightDecay: 5e-4 });
  const x = tf.randomUniform<tf.Rank.R4>([opts.batch, 32, 32, 3]);
  const y = tf.tensor1d(Array.from({ length: opts.batch }, (_, i) => i % classes), 'int32');
  const trainable = model.trainableVariables();
  return {
    async step() {
      const { grads, value } = tf.variableGrads(() => crossEntropyFromLogits(model.forward(x, true), y), trainable);
      sgd.step(grads, 0.05);
      await value.data();
      tf.dispose([value, ...Object.values(grads)]);
    },
    dispose() {
      tf.dispose([x, y]);
      sgd.dispose();
      model.dispose();
    },
  };
}
