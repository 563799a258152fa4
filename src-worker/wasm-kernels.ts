/**
 * Kernels the wasm backend lacks for training (Conv2DBackpropFilter) or runs slowly (Conv2DBackpropInput).
 * Filled in by the wasm-gradients work; registering is idempotent.
 */
let registered = false;
export function registerWasmTrainingKernels(): void {
  if (registered) return;
  registered = true;
}
