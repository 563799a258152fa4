import * as tf from '@tensorflow/tfjs';
import { createModel } from '../src-worker/models';
import { crossEntropyFromLogits } from '../src-worker/train/loss';
import { Sgd } from '../src-worker/train/sgd';

/**
 * Images per second of one SGD step (forward + backward + update) of a model on CIFAR-size inputs, the median of
 * `steps` after a warm-up (kernel compilation, allocations). The loss is read with `await data()`, as the trainer
 * does: a GPU backend has no synchronous reads, and the read is what makes the step's time real.
 */
export async function trainingImagesPerSecond(name: string, opts: { width: number; batch: number; steps: number }): Promise<number> {
  const model = createModel(name, { numClasses: 100, lowResolution: true, widthMultiplier: opts.width, seed: 1 });
  const params = model.namedVariables().filter((v) => v.trainable).map(({ path, variable }) => ({ path, variable }));
  const sgd = new Sgd(params, { momentum: 0.9, weightDecay: 5e-4 });
  const x = tf.randomUniform([opts.batch, 32, 32, 3]) as tf.Tensor4D;
  const y = tf.tensor1d(Array.from({ length: opts.batch }, (_, i) => i % 100), 'int32');
  const trainable = model.trainableVariables();
  const step = async () => {
    const { grads, value } = tf.variableGrads(() => crossEntropyFromLogits(model.forward(x, true), y), trainable);
    sgd.step(grads, 0.05);
    await value.data();
    tf.dispose([value, ...Object.values(grads)]);
  };
  try {
    await step();
    const times: number[] = [];
    for (let i = 0; i < opts.steps; i++) {
      const t0 = performance.now();
      await step();
      times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    return (opts.batch * 1000) / times[Math.floor(times.length / 2)]!;
  } finally {
    tf.dispose([x, y]);
    sgd.dispose();
    model.dispose();
  }
}
