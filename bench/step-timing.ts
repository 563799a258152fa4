import { syntheticTrainingStep } from '../src-worker/train/synthetic-step';

/** Images per second of a model's training step, the median of `steps` after a warm-up (compilation, allocations). */
export async function trainingImagesPerSecond(name: string, opts: { width: number; batch: number; steps: number }): Promise<number> {
  const { step, dispose } = syntheticTrainingStep(name, opts);
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
    dispose();
  }
}
