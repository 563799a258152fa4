/** A run spec small enough for a few seconds an epoch on the wasm backend, checkpointing into `runDir`. */
export function tinyRunSpec(runId: number, runDir: string, epochs: number) {
  return {
    runId, model: 'cnn', dataset: 'synthetic', syntheticTrainSize: 256, syntheticTestSize: 64, epochs, batchSize: 32, lr: 0.05,
    width: 0.25, backend: 'wasm', seed: 1, progressEvery: 2, checkpointDir: runDir, resume: true,
  };
}
