import type { BenchTarget, NativePackageName } from './report';

/** What the doctor asks one probe process to do (its single argv entry, as JSON). */
export type ProbeRequest =
  | { probe: 'native'; package: NativePackageName; moduleDir?: string }
  | { probe: 'webgpu' }
  | { probe: 'wasm' }
  | { probe: 'bench'; target: BenchTarget; moduleDir?: string; budgetMs: number; conv: ConvShape; step: StepShape | null };

export interface ConvShape {
  batch: number;
  size: number;
  inChannels: number;
  outChannels: number;
  kernel: number;
  padding: number;
}

export interface StepShape {
  model: 'knresnet18';
  batch: number;
  width: number;
  numClasses: number;
}

/** Native probe: `found` goes out before the load, so a crash during the load still leaves what was found. */
export type NativeMessage =
  | { kind: 'found'; installed: false }
  | { kind: 'found'; installed: true; path: string; version: string | undefined }
  | { kind: 'loaded'; usingGpu: boolean | null }
  | { kind: 'load-failed'; error: string; code?: string };

export type WebGpuMessage =
  | { kind: 'listed'; adapters: { backend: string; name: string }[] }
  | { kind: 'adapter'; backend: string; name: string; vendor: string; architecture: string; device: string; description: string; software: boolean }
  | { kind: 'adapter-failed'; backend: string; name: string; error: string }
  | { kind: 'failed'; error: string };

export type WasmMessage = { kind: 'wasm'; simd: boolean; threads: number } | { kind: 'failed'; error: string };

export type BenchMessage =
  | { kind: 'ready' }
  | { kind: 'conv'; medianMs: number; reps: number; warmupMs: number }
  | { kind: 'step'; medianMs: number; reps: number; warmupMs: number }
  | { kind: 'failed'; error: string };
