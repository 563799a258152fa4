/**
 * `normlab doctor`'s report: what will run where on this machine, and why. Pure types, no Node imports: the
 * renderer shows the same object (through the API's `doctor` read).
 */

export interface DoctorGpu {
  index: number;
  name: string;
  memoryTotalMiB: number | null;
  driverVersion: string | null;
}

export interface DoctorGpus {
  /** The nvidia-smi command asked. */
  command: string;
  /** False when it could not be run or failed (no NVIDIA driver here); `gpus` is then empty. */
  available: boolean;
  gpus: DoctorGpu[];
  /** The highest CUDA version the driver supports (nvidia-smi's header), null when it does not say. */
  cudaVersion: string | null;
  /** Why there are no GPUs, when there are none. */
  note?: string;
}

export type NativePackageName = '@tensorflow/tfjs-node-gpu' | '@tensorflow/tfjs-node';

export interface MissingLibrary {
  /** A shared library's file name, e.g. `libcudart.so.11.0`. */
  name: string;
  /** Where it was seen missing: the load error, libtensorflow's own log, or `ldd` on the addon. */
  seenIn: ('load error' | 'tensorflow log' | 'ldd')[];
  /** What provides it. */
  fix: string;
}

export interface NativePackageReport {
  package: NativePackageName;
  installed: boolean;
  version?: string;
  /** The package folder, when installed. */
  path?: string;
  /** The native addon (`tfjs_binding.node` under the package's lib/), when found. */
  addon?: string;
  /**
   * `ok`: loaded (for tfjs-node-gpu: and sees a GPU); `no-gpu`: tfjs-node-gpu loaded but runs on the CPU;
   * `failed`: the load threw or crashed the probe process; `not-installed`.
   */
  load: 'ok' | 'no-gpu' | 'failed' | 'not-installed';
  /** The load error's first line, or how the probe process ended. */
  error?: string;
  missingLibraries: MissingLibrary[];
  /** What to do, one line each (empty when it loaded). */
  fixes: string[];
  /** A remark that is no fix, e.g. that tfjs-node-gpu is of no use without an NVIDIA GPU. */
  note?: string;
}

export interface DoctorAdapter {
  /** Dawn's backend: vulkan, metal, d3d12, … */
  backend: string;
  name: string;
  vendor: string;
  architecture: string;
  description: string;
  software: boolean;
}

export interface DoctorWebGpu {
  /** The `webgpu` package (Dawn) loaded and was asked for its adapters. */
  probed: boolean;
  adapters: DoctorAdapter[];
  /** Dawn's own warnings (a driver it rejected, a missing XDG_RUNTIME_DIR), deduplicated. */
  warnings: string[];
  error?: string;
}

export interface DoctorWasm {
  ok: boolean;
  simd: boolean | null;
  threads: number | null;
  error?: string;
}

/** A backend the benchmark ran on: `webgpu` once per adapter. */
export type BenchTarget =
  | { backend: 'tensorflow'; package: NativePackageName }
  | { backend: 'webgpu'; adapter: string; software: boolean }
  | { backend: 'wasm' }
  | { backend: 'cpu' };

export interface BenchFigure {
  /** Median milliseconds of the timed repetitions (after one warm-up), null when it did not run (see `skipped`). */
  medianMs: number | null;
  reps: number;
  /** The first, untimed call (kernel compilation, allocations). */
  warmupMs?: number;
  skipped?: string;
}

export interface BenchResult {
  target: BenchTarget;
  /** What the line is called in the text report: `wasm`, `webgpu (SwiftShader Device (Subzero))`, … */
  label: string;
  ok: boolean;
  error?: string;
  /** `software (correctness only)` for a software adapter: its speed says nothing about a GPU. */
  caveat?: string;
  /** knConv2d forward + backward: at `shapes.conv`, or `shapes.smokeConv` for software adapters and cpu. */
  conv: BenchFigure & { shape: string };
  /** One knresnet18 SGD step (forward, backward, update) at `shapes.step`. */
  step: BenchFigure & { imagesPerSec: number | null };
  wallMs: number;
}

export interface DoctorBench {
  shapes: {
    conv: string;
    /** The convolution software adapters and the cpu backend run instead (the full one takes them tens of seconds). */
    smokeConv: string;
    step: { model: 'knresnet18'; batch: number; width: number; note: string };
  };
  results: BenchResult[];
}

export interface DoctorAutoPick {
  /** What `--backend auto` picks here. */
  backend: 'tensorflow' | 'webgpu' | 'wasm' | 'cpu';
  package?: NativePackageName;
  adapter?: string;
  /** One sentence: why this one, and why not the ones before it. */
  reason: string;
  /** The ones before it in auto's order, with why each is not used. */
  skipped: { backend: string; reason: string }[];
}

export interface DoctorReport {
  /** ISO time the report was made. */
  createdAt: string;
  host: { hostname: string; platform: string; arch: string; cpus: number; node: string };
  gpus: DoctorGpus;
  native: NativePackageReport[];
  webgpu: DoctorWebGpu;
  wasm: DoctorWasm;
  /** Null with --no-bench. */
  bench: DoctorBench | null;
  auto: DoctorAutoPick;
  /** One line: what `--backend auto` will pick here and why. */
  summary: string;
  durationMs: number;
}
