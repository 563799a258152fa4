/**
 * Training throughput of the paper's other two experiments' models, KernelNorm vs its counterpart at the same
 * width, one SGD step (forward + backward + update, loss read back) on a fixed random batch:
 *   - knconvnext_tiny vs convnext_tiny, 32×32 inputs, batch 32, 100 classes;
 *   - fc_knresnet18 vs fc_resnet18_bn, 64×128 inputs (Cityscapes' 1:2), batch 4, 19 classes, per-pixel loss.
 * BENCH_BACKEND=wasm|cpu|webgpu (default wasm); WIDTH (default 0.25); STEPS (default 3).
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend, type BackendName } from '../src-worker/backend';
import { createModel } from '../src-worker/models';
import { pixelCrossEntropy } from '../src-worker/train/segmentation/pixel-loss';
import { Sgd } from '../src-worker/train/sgd';
import { medianMs, trainingImagesPerSecond } from './step-timing';

const backend = (process.env.BENCH_BACKEND ?? 'wasm') as BackendName;
const width = Number(process.env.WIDTH ?? 0.25);
const steps = Number(process.env.STEPS ?? 3);

async function segmentationImagesPerSecond(name: string, batch: number): Promise<number> {
  const model = createModel(name, { numClasses: 19, lowResolution: false, widthMultiplier: width, seed: 1 });
  const sgd = new Sgd(model.namedVariables().filter((v) => v.trainable), { momentum: 0.9, weightDecay: 5e-4 });
  const x = tf.randomUniform<tf.Rank.R4>([batch, 64, 128, 3]);
  const labels = tf.randomUniform<tf.Rank.R3>([batch, 64, 128], 0, 19, 'int32');
  const trainable = model.trainableVariables();
  try {
    const ms = await medianMs(async () => {
      const { grads, value } = tf.variableGrads(() => pixelCrossEntropy(model.segment(x, true), labels), trainable);
      sgd.step(grads, 0.01);
      await value.data();
      tf.dispose([value, ...Object.values(grads)]);
    }, steps);
    return (batch * 1000) / ms;
  } finally {
    tf.dispose([x, labels]);
    sgd.dispose();
    model.dispose();
  }
}

async function main(): Promise<void> {
  const choice = await initBackend(backend);
  console.log(`backend ${choice.backend}; width ${width}; median of ${steps} steps after a warm-up`);
  const kn = await trainingImagesPerSecond('knconvnext_tiny', { width, batch: 32, steps });
  const ln = await trainingImagesPerSecond('convnext_tiny', { width, batch: 32, steps });
  console.log(`  32×32, batch 32: knconvnext_tiny ${kn.toFixed(2)} img/s, convnext_tiny ${ln.toFixed(2)} img/s, ratio KN/LN ${(kn / ln).toFixed(3)}`);
  const knSeg = await segmentationImagesPerSecond('fc_knresnet18', 4);
  const bnSeg = await segmentationImagesPerSecond('fc_resnet18_bn', 4);
  console.log(`  64×128, batch 4: fc_knresnet18 ${knSeg.toFixed(2)} img/s, fc_resnet18_bn ${bnSeg.toFixed(2)} img/s, ratio KN/BN ${(knSeg / bnSeg).toFixed(3)}`);
}

await main();
