/**
 * Every usable backend in one process, side by side: KNConv and conv forward + backward at one shape, and
 * knresnet18 vs resnet18_bn training throughput at batch 32 and 128. A software WebGPU adapter (SwiftShader,
 * lavapipe) is measured too but marked: its figures say it works, not how fast a GPU is.
 *
 *   BACKENDS=webgpu,wasm WIDTH=1 BATCHES=32,128 STEPS=3 npm run bench -- backends
 * Defaults: every backend `initBackend` can start here except cpu (minutes per step at width 1), WIDTH 1.
 * For the software adapter here: VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json XDG_RUNTIME_DIR=/tmp.
 */
import { initBackend, type BackendChoice, type BackendName } from '../src-worker/backend';
import { knOverConv, trainingImagesPerSecond } from './step-timing';

const CANDIDATES: BackendName[] = ['tensorflow', 'webgpu', 'wasm'];
const wanted = process.env.BACKENDS?.split(',') as BackendName[] | undefined;
const width = Number(process.env.WIDTH ?? 1);
const batches = (process.env.BATCHES ?? '32,128').split(',').map(Number);
const steps = Number(process.env.STEPS ?? 3);
function label(choice: BackendChoice): string {
  if (choice.adapter) return `webgpu on ${choice.adapter.description}${choice.adapter.software ? ' — SOFTWARE adapter (correctness only)' : ''}`;
  if (choice.package) return `${choice.backend} (${choice.package})`;
  return choice.backend;
}

async function main(): Promise<void> {
  console.log(`width ${width}, batches ${batches.join(' and ')}, median of ${steps} training steps after a warm-up`);
  for (const name of wanted ?? CANDIDATES) {
    let choice: BackendChoice;
    try {
      choice = await initBackend(name);
    } catch (err) {
      console.log(`\n${name}: not usable here (${(err as Error).message.split('\n')[0]})`);
      continue;
    }
    console.log(`\n${label(choice)}`);
    const { convMs, knMs } = await knOverConv(32, 64, 5);
    console.log(`  KNConv ${knMs.toFixed(1)} ms, conv ${convMs.toFixed(1)} ms (fwd+bwd, 32² 64→64 3×3, batch 32): KNConv/conv ${(knMs / convMs).toFixed(2)}`);
    for (const batch of batches) {
      const knIps = await trainingImagesPerSecond('knresnet18', { width, batch, steps });
      const bnIps = await trainingImagesPerSecond('resnet18_bn', { width, batch, steps });
      console.log(`  batch ${batch}: knresnet18 ${knIps.toFixed(2)} img/s, resnet18_bn ${bnIps.toFixed(2)} img/s, KN/BN ${(knIps / bnIps).toFixed(3)}`);
    }
  }
}

await main();
