import * as tf from '@tensorflow/tfjs';

/**
 * WebGPU through Dawn's Node binding (the `webgpu` package, `dawn.node`): a GPU backend that needs no CUDA, only a
 * Vulkan (Linux, Windows), Metal (macOS) or D3D12 driver. On a machine without a GPU, a software Vulkan driver
 * (SwiftShader, lavapipe) gives an adapter too: right for tests, slower than wasm for training, so `auto` never
 * picks one (see backend.ts).
 */
export interface GpuAdapterReport {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** A CPU implementation of the GPU API (SwiftShader, lavapipe, llvmpipe, Dawn's fallback adapter). */
  software: boolean;
}

const SOFTWARE_NAMES = /swiftshader|lavapipe|llvmpipe|softpipe|software|microsoft basic render/i;

export function isSoftwareAdapter(info: Omit<GpuAdapterReport, 'software'>, isFallback = false): boolean {
  return isFallback || SOFTWARE_NAMES.test(`${info.vendor} ${info.architecture} ${info.device} ${info.description}`);
}

interface DawnModule {
  create: (options: string[]) => GPU;
  globals: Record<string, unknown>;
}

let dawn: DawnModule | null = null;

/** What went wrong on the device since the last look; Dawn only reports errors as events, never by throwing. */
export interface WebGpuFailure {
  kind: 'out-of-memory' | 'validation' | 'internal' | 'device-lost';
  message: string;
}
let firstFailure: WebGpuFailure | null = null;

/** The first device error since the last call (null when none, and on every other backend). */
export function takeWebGpuFailure(): WebGpuFailure | null {
  const failure = firstFailure;
  firstFailure = null;
  return failure;
}

function watchDevice(device: GPUDevice): void {
  device.addEventListener('uncapturederror', (event) => {
    const error = (event).error;
    // a buffer above the adapter's size limit is how a too-large batch shows up before any allocation fails
    const oom = error instanceof GPUOutOfMemoryError || /exceeds the max buffer size|out of memory/i.test(error.message);
    firstFailure ??= { kind: oom ? 'out-of-memory' : error instanceof GPUValidationError ? 'validation' : 'internal', message: error.message.split('\n')[0] };
  });
  void device.lost.then((info) => {
    if (info.reason !== 'destroyed') firstFailure ??= { kind: 'device-lost', message: info.message };
  });
}

async function loadDawn(): Promise<DawnModule> {
  if (dawn) return dawn;
  const mod = await import('webgpu');
  dawn = { create: mod.create, globals: mod.globals as Record<string, unknown> };
  // GPUBufferUsage, GPUMapMode, … : tfjs-backend-webgpu reads them as globals, as in a browser
  Object.assign(globalThis, dawn.globals);
  return dawn;
}

function reportOf(adapter: GPUAdapter): GpuAdapterReport {
  const info = adapter.info;
  const base = { vendor: info.vendor, architecture: info.architecture, device: info.device, description: info.description };
  const fallback = (adapter as GPUAdapter & { isFallbackAdapter?: boolean }).isFallbackAdapter ?? false;
  return { ...base, software: isSoftwareAdapter(base, fallback) };
}

/**
 * The adapters Dawn can open here, by name. Dawn has no enumeration call in its Node binding, but asked for an
 * adapter that does not exist it lists those that do in its error; that list is parsed.
 */
export interface DawnAdapterName {
  backend: string;
  name: string;
}

export async function listDawnAdapters(): Promise<DawnAdapterName[]> {
  const { create } = await loadDawn();
  try {
    await create(['adapter=\u0000no-such-adapter']).requestAdapter();
  } catch (err) {
    const text = err instanceof Error ? err.message : String(err);
    return [...text.matchAll(/backend: '([^']+)', name: '([^']*)'/g)].map((m) => ({ backend: m[1], name: m[2] }));
  }
  return [];
}

export interface OpenWebGpuOptions {
  /** Dawn's `adapter=` option: the adapter whose name contains this (see listDawnAdapters). */
  adapterName?: string;
  /** Refuse a software adapter (before anything is registered): `auto` must not pick one. */
  refuseSoftware?: boolean;
}

/** tfjs-backend-webgpu checks `navigator.gpu`, as in a browser; Node 20 has no navigator, Node 21+ one without gpu. */
function exposeToTfjs(gpu: GPU): void {
  const g = globalThis as { navigator?: object };
  if (g.navigator === undefined) Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
  else Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true });
}

/**
 * Registers tfjs's `webgpu` backend on an adapter we chose (the package's own registration asks the browser's
 * navigator for the default one) and makes it the active backend. Returns the adapter's report.
 */
export async function activateWebGpu(opts: OpenWebGpuOptions = {}): Promise<GpuAdapterReport> {
  const { create } = await loadDawn();
  // imported after the globals exist; with no navigator.gpu, the package registers kernels but no backend
  const { WebGPUBackend } = await import('@tensorflow/tfjs-backend-webgpu');
  const gpu = create(opts.adapterName ? [`adapter=${opts.adapterName}`] : []);
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) throw new Error('Dawn found no WebGPU adapter (no Vulkan/Metal/D3D12 driver, or libvulkan.so.1 missing)');
  const report = reportOf(adapter);
  if (opts.refuseSoftware && report.software) {
    throw new Error(`only a software adapter (${report.description || report.device}), slower than wasm; ask for --backend webgpu to use it anyway`);
  }
  const limits = adapter.limits;
  // the limits tfjs asks for in a browser: the adapter's own, so large convolutions fit in one dispatch
  const device = await adapter.requestDevice({
    requiredFeatures: adapter.features.has('timestamp-query') ? ['timestamp-query'] : [],
    requiredLimits: {
      maxComputeWorkgroupStorageSize: limits.maxComputeWorkgroupStorageSize,
      maxComputeWorkgroupsPerDimension: limits.maxComputeWorkgroupsPerDimension,
      maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize,
      maxBufferSize: limits.maxBufferSize,
      maxComputeWorkgroupSizeX: limits.maxComputeWorkgroupSizeX,
      maxComputeInvocationsPerWorkgroup: limits.maxComputeInvocationsPerWorkgroup,
    },
  });
  watchDevice(device);
  exposeToTfjs(gpu);
  // tfjs-webgpu runs small ops on the CPU by default (moving their inputs off and back onto the GPU); a training
  // step is one long chain of device work, so every op stays on the GPU
  tf.env().set('WEBGPU_CPU_FORWARD', false);
  if (tf.findBackend('webgpu')) tf.removeBackend('webgpu');
  tf.registerBackend('webgpu', () => new WebGPUBackend(device, adapter.info));
  if (!(await tf.setBackend('webgpu'))) throw new Error('tf.setBackend("webgpu") returned false');
  await tf.ready();
  return report;
}
