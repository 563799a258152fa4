/**
 * The order `auto` tries backends in (an explicit request tries its own entries of it). Its own module, free of
 * tfjs, so `normlab doctor` in the main process can predict the pick from the same list without loading a backend.
 */
export const AUTO_ORDER = ['@tensorflow/tfjs-node-gpu', 'webgpu', '@tensorflow/tfjs-node', 'wasm', 'cpu'] as const;
export type AutoCandidate = (typeof AUTO_ORDER)[number];
