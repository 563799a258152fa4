// SwiftShader (software Vulkan) before useWebGpu's initBackend('webgpu') in this process; an ICD already named wins.
import os from 'node:os';
process.env.VK_ICD_FILENAMES ??= '/usr/lib/chromium/vk_swiftshader_icd.json';
process.env.XDG_RUNTIME_DIR ??= os.tmpdir();

import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { initBackend } from '../../src-worker/backend';
import { createModel, type NormLabModel } from '../../src-worker/models';
import { perSampleGradients } from '../../src-worker/train/dp/per-sample-grads';
import { throwIfGpuFailed } from '../../src-worker/train/gpu-failures';
import { crossEntropyFromLogits } from '../../src-worker/train/loss';
import { Sgd } from '../../src-worker/train/sgd';
import { expectClose } from '../worker/kn/helpers';
import { useWebGpu } from './webgpu';

/**
 * One SGD step of each model family on webgpu equals the same step on cpu (weights carried over, same batch),
 * every read async; DP-SGD's per-sample gradients too. Tiny widths and 16×16 inputs (knresnet18 pools an 8×8 input down to nothing): SwiftShader is a CPU.
 */
const FAMILIES = [
  { name: 'knresnet18', groups: 32 },
  { name: 'resnet18_bn', groups: 32 },
  { name: 'resnet18_gn', groups: 2 },
  { name: 'resnet18_ln', groups: 32 },
  { name: 'resnet18_nn', groups: 32 },
] as const;

const BATCH = 4;
const images = () => tf.randomUniform<tf.Rank.R4>([BATCH, 16, 16, 3], 0, 1, 'float32', 3);
const labels = () => tf.tensor1d([0, 1, 2, 3], 'int32');

function build(name: string, groups: number): NormLabModel {
  return createModel(name, { numClasses: 4, lowResolution: true, widthMultiplier: 1 / 16, groups, knDropout: 0.05, seed: 5 });
}

async function weights(model: NormLabModel): Promise<Map<string, Float32Array>> {
  const vars = model.namedVariables();
  const values = await Promise.all(vars.map((v) => v.variable.data() as Promise<Float32Array>));
  return new Map(vars.map((v, i) => [v.path, values[i]]));
}

/** One step from `start` weights on `x`; returns the loss, the weights after the step and the step's tensor balance. */
async function step(name: string, groups: number, start: Map<string, Float32Array> | null, x: Float32Array) {
  const model = build(name, groups);
  if (start) for (const v of model.namedVariables()) v.variable.assign(tf.tensor(start.get(v.path)!, v.variable.shape));
  const before = await weights(model);
  const params = model.namedVariables().filter((v) => v.trainable).map(({ path, variable }) => ({ path, variable }));
  const sgd = new Sgd(params, { momentum: 0.9, weightDecay: 5e-4 });
  const xt = tf.tensor4d(x, [BATCH, 16, 16, 3]);
  const yt = labels();
  const tensorsBefore = tf.memory().numTensors;
  const { value, grads } = tf.variableGrads(() => crossEntropyFromLogits(model.forwardWith(xt, { training: true, step: 0 }), yt), model.trainableVariables());
  sgd.step(grads, 0.05);
  const loss = (await value.data())[0];
  tf.dispose([value, ...Object.values(grads)]);
  const leaked = tf.memory().numTensors - tensorsBefore;
  const after = await weights(model);
  tf.dispose([xt, yt]);
  sgd.dispose();
  model.dispose();
  return { loss, before, after, leaked };
}

describe('a training step of every model family on webgpu equals the cpu step', () => {
  useWebGpu();

  it.each(FAMILIES)('$name', async ({ name, groups }) => {
    const x = images();
    const xs = (await x.data()) as Float32Array;
    x.dispose();
    await initBackend('cpu');
    const onCpu = await step(name, groups, null, xs);
    // the backend useWebGpu started, not a new one: initBackend would open a new device and compile every shader
    // again, most of SwiftShader's time, while the families share most of their shaders
    await tf.setBackend('webgpu');
    const onGpu = await step(name, groups, onCpu.before, xs);
    expect(Number.isFinite(onGpu.loss)).toBe(true);
    expect(onGpu.loss).toBeCloseTo(onCpu.loss, 4);
    expect(onGpu.leaked).toBe(0);
    for (const [path, w] of onCpu.after) expectClose(onGpu.after.get(path)!, w, 2e-4, 2e-5, `${name} ${path}`);
  });

  it('a GPU out of memory becomes a named run failure, not a silent wrong result', async () => {
    // 1 GiB: more than SwiftShader's device memory; the sum silently reads 0 unless the device's error is checked
    const big = tf.fill([2 ** 28], 1);
    const total = tf.sum(big);
    await total.data();
    tf.dispose([big, total]);
    await new Promise((r) => setTimeout(r, 100));
    expect(() => throwIfGpuFailed({ model: 'knresnet18', batchSize: 4096, width: 1 }, 'training step 1')).toThrow(
      /^out of GPU memory: model knresnet18, batch 4096, width 1 \(training step 1: .*\); lower --batch-size or --width$/,
    );
    // reported once: the next check sees a healthy device
    expect(() => throwIfGpuFailed({ model: 'knresnet18', batchSize: 4096, width: 1 }, 'training step 2')).not.toThrow();
  });

  it("DP-SGD's per-sample gradients of a KN model are the cpu ones", async () => {
    const x = images();
    const xs = (await x.data()) as Float32Array;
    x.dispose();
    const perSample = async (start: Map<string, Float32Array> | null) => {
      const model = createModel('kn_cnn', { numClasses: 4, lowResolution: true, widthMultiplier: 0.25, activation: 'mish', seed: 5 });
      if (start) for (const v of model.namedVariables()) v.variable.assign(tf.tensor(start.get(v.path)!, v.variable.shape));
      const w = await weights(model);
      const xt = tf.tensor4d(xs, [BATCH, 16, 16, 3]);
      const yt = labels();
      const grads = perSampleGradients(model, xt, yt, { step: 0 });
      const names = [...grads.keys()];
      const values = await Promise.all(names.map((n) => grads.get(n)!.data() as Promise<Float32Array>));
      tf.dispose([xt, yt, ...grads.values()]);
      model.dispose();
      return { w, grads: new Map(names.map((n, i) => [n, values[i]])) };
    };
    await initBackend('cpu');
    const cpu = await perSample(null);
    await tf.setBackend('webgpu');
    const gpu = await perSample(cpu.w);
    // keyed by tf.Variable names, which count up per process: the two models' gradients line up by position
    const cpuGrads = [...cpu.grads.values()];
    const gpuGrads = [...gpu.grads.values()];
    expect(gpuGrads.map((g) => g.length)).toEqual(cpuGrads.map((g) => g.length));
    cpuGrads.forEach((g, i) => expectClose(gpuGrads[i], g, 1e-3, 1e-5, `per-sample gradient ${i}`));
  });
});
