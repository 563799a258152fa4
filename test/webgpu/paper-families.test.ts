// SwiftShader (software Vulkan) before the first initBackend('webgpu') in this process; an ICD already named wins.
import os from 'node:os';
process.env.VK_ICD_FILENAMES ??= '/usr/lib/chromium/vk_swiftshader_icd.json';
process.env.XDG_RUNTIME_DIR ??= os.tmpdir();

import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { initBackend } from '../../src-worker/backend';
import { createModel, type NormLabModel } from '../../src-worker/models';
import { crossEntropyFromLogits } from '../../src-worker/train/loss';
import { pixelCrossEntropy } from '../../src-worker/train/segmentation/pixel-loss';
import { Sgd } from '../../src-worker/train/sgd';
import { expectClose } from '../worker/kn/helpers';
import { useWebGpu } from './webgpu';

/**
 * Issue 13's new families (ConvNeXt, KNConvNeXt, the FC-ResNets) train on webgpu: one step's loss and gradients
 * equal the wasm step's on the same weights and batch, the step changes the weights, and a second step leaves
 * the tensor count where the first did. Narrow (width 1/12, 1/16) and small inputs so SwiftShader (a CPU)
 * finishes in seconds: ConvNeXt's 4×4/4 stem takes 32×32 to 8×8 and its stages to 1×1; the FC-ResNets' stride 32
 * takes 32×64 to 1×2 before the bilinear upsampling back. Training mode throughout, so stochastic depth, KNConv dropout and the
 * head's dropout run too (their masks come from seeds, the same on both backends).
 *
 * Tolerance: each gradient tensor within 1e-3 of its largest |value| (1e-12 absolute, for a block whose branch
 * stochastic depth dropped for the whole batch: all zeros), the loss to 1e-4 relative. The two backends sum in
 * different orders in float32 (wasm's XNNPACK convolutions, webgpu's tiled shaders); measured worst: 2e-6 of a
 * tensor's scale for the ConvNeXts (whose block gradients are ~1e-10, behind layer scale 1e-6: hence no larger
 * absolute floor), 2e-4 for fc_resnet18_bn (BatchNorm over 2 samples of 1×2 maps amplifies it), loss 1.5e-5. A
 * wrong kernel is off by far more than 1e-3.
 */
const CLASSIFIERS = ['convnext_tiny', 'knconvnext_tiny'] as const;
const SEGMENTERS = ['fc_resnet18_bn', 'fc_knresnet18'] as const;
type Family = (typeof CLASSIFIERS)[number] | (typeof SEGMENTERS)[number];

const BATCH = 2;
const CLASSES = 4;
const GRAD_RTOL = 1e-3;
const GRAD_ATOL = 1e-12;
const LOSS_RTOL = 1e-4;

function isSegmenter(name: Family): boolean {
  return (SEGMENTERS as readonly string[]).includes(name);
}

function inputShape(name: Family): [number, number, number, number] {
  return isSegmenter(name) ? [BATCH, 32, 64, 3] : [BATCH, 32, 32, 3];
}

/** The batch as plain arrays, so each backend builds its own tensors from the same numbers. */
interface Batch {
  x: Float32Array;
  /** Class per sample, or per pixel (with an ignored corner, 255) for a segmenter. */
  y: Int32Array;
}

function makeBatch(name: Family): Batch {
  const shape = inputShape(name);
  const x = Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => Math.sin(i * 12.9898) * 0.5);
  if (!isSegmenter(name)) return { x, y: Int32Array.from({ length: BATCH }, (_, i) => i % CLASSES) };
  const [n, h, w] = shape;
  const y = new Int32Array(n * h * w);
  for (let s = 0; s < n; s++) {
    for (let r = 0; r < h; r++) {
      for (let c = 0; c < w; c++) y[(s * h + r) * w + c] = r < 4 && c < 4 ? 255 : (Math.floor(c / 16) + s) % CLASSES;
    }
  }
  return { x, y };
}

/** ConvNeXt at 1/12: 8 channels on its first stage's 8×8 maps, so the depthwise 7×7 takes tfjs-webgpu's vec4 program. */
function build(name: Family): NormLabModel {
  const widthMultiplier = isSegmenter(name) ? 1 / 16 : 1 / 12;
  return createModel(name, { numClasses: CLASSES, lowResolution: false, widthMultiplier, knDropout: 0.05, seed: 5 });
}

function lossOf(model: NormLabModel, name: Family, batch: Batch, step: number): () => tf.Scalar {
  const shape = inputShape(name);
  return () => {
    const x = tf.tensor4d(batch.x, shape);
    if (isSegmenter(name)) {
      const labels = tf.tensor3d(batch.y, [shape[0], shape[1], shape[2]], 'int32');
      return pixelCrossEntropy(model.segmentWith(x, { training: true, step }), labels);
    }
    return crossEntropyFromLogits(model.forwardWith(x, { training: true, step }), tf.tensor1d(batch.y, 'int32'));
  };
}

async function readAll(tensors: readonly tf.Tensor[]): Promise<Float32Array[]> {
  return Promise.all(tensors.map((t) => t.data() as Promise<Float32Array>));
}

interface StepResult {
  loss: number;
  /** Gradients in the order of the model's trainable variables. */
  grads: Float32Array[];
  /** The weights the step started from, by parameter path (the wasm run's become the webgpu run's). */
  start: Map<string, Float32Array>;
  /** How many weights differ after the first step. */
  changed: number;
  /** Tensors alive after step 1 and after step 2 (the model and optimiser state included). */
  tensorsAfter: [number, number];
}

/** Two SGD steps from `start` (or the seeded initialisation); the first one's loss and gradients are reported. */
async function twoSteps(name: Family, start: Map<string, Float32Array> | null): Promise<StepResult> {
  const batch = makeBatch(name);
  const model = build(name);
  const vars = model.namedVariables();
  if (start) {
    for (const v of vars) {
      const values = start.get(v.path);
      if (!values) throw new Error(`${name}: no starting weights for ${v.path}`);
      v.variable.assign(tf.tensor(values, v.variable.shape));
    }
  }
  const before = await readAll(vars.map((v) => v.variable));
  const trainable = model.trainableVariables();
  const sgd = new Sgd(vars.filter((v) => v.trainable).map(({ path, variable }) => ({ path, variable })), { momentum: 0.9, weightDecay: 5e-4 });
  const tensorsAfter: number[] = [];
  let changed = 0;
  let loss = Number.NaN;
  let grads: Float32Array[] = [];
  for (let step = 0; step < 2; step++) {
    const result = tf.variableGrads(lossOf(model, name, batch, step), trainable);
    if (step === 0) {
      loss = (await result.value.data())[0] ?? Number.NaN;
      grads = await readAll(trainable.map((v) => {
        const g = result.grads[v.name];
        if (!g) throw new Error(`${name}: no gradient for ${v.name}`);
        return g;
      }));
    }
    sgd.step(result.grads, 0.05);
    tf.dispose([result.value, ...Object.values(result.grads)]);
    await tf.nextFrame();
    tensorsAfter.push(tf.memory().numTensors);
    if (step === 0) {
      const after = await readAll(vars.map((v) => v.variable));
      before.forEach((b, i) => {
        const a = after[i];
        if (a) for (let k = 0; k < b.length; k++) if (a[k] !== b[k]) changed++;
      });
    }
  }
  sgd.dispose();
  model.dispose();
  return {
    loss, grads, changed,
    start: new Map(vars.map((v, i) => [v.path, before[i] ?? new Float32Array(0)])),
    tensorsAfter: [tensorsAfter[0] ?? -1, tensorsAfter[1] ?? -1],
  };
}

describe('a training step of each new paper family on webgpu equals the wasm step', () => {
  useWebGpu();

  it.each([...CLASSIFIERS, ...SEGMENTERS])('%s', async (name) => {
    await initBackend('wasm');
    const onWasm = await twoSteps(name, null);
    // the backend useWebGpu started, not a new one: a new device would compile every shader again (most of
    // SwiftShader's time), while the four families share many of them
    await tf.setBackend('webgpu');
    const onGpu = await twoSteps(name, onWasm.start);

    expect(Number.isFinite(onGpu.loss), `${name} loss ${onGpu.loss}`).toBe(true);
    expect(Math.abs(onGpu.loss - onWasm.loss)).toBeLessThanOrEqual(LOSS_RTOL * Math.abs(onWasm.loss));
    expect(onGpu.grads).toHaveLength(onWasm.grads.length);
    onWasm.grads.forEach((g, i) => expectClose(onGpu.grads[i] ?? new Float32Array(0), g, GRAD_RTOL, GRAD_ATOL, `${name} gradient ${i}`));
    // most weights move in one step (layer scale 1e-6 makes some updates tiny, but not zero)
    const total = [...onGpu.start.values()].reduce((n, w) => n + w.length, 0);
    expect(onGpu.changed).toBeGreaterThan(0.5 * total);
    expect(onGpu.tensorsAfter[1]).toBe(onGpu.tensorsAfter[0]);
  });
});
