/**
 * One doctor probe, in a process of its own (see child.ts): `node --import tsx probe-child.ts '<ProbeRequest JSON>'`.
 * It reports over IPC as it goes and exits; whatever it could not report (a crash in a native load) the parent
 * reads from how it ended and from its stderr.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type * as TF from '@tensorflow/tfjs';
import type { BenchMessage, NativeMessage, ProbeRequest, WasmMessage, WebGpuMessage } from './probe-protocol';

type Message = NativeMessage | WebGpuMessage | WasmMessage | BenchMessage;

function send(message: Message): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send) {
      process.stdout.write(JSON.stringify(message) + '\n');
      resolve();
      return;
    }
    process.send(message, undefined, {}, () => resolve());
  });
}

function messageOf(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.split('\n')[0] ?? text;
}

/** Resolves packages as from `moduleDir` (a folder holding node_modules), or as NormLab's own sources do. */
function requireFrom(moduleDir: string | undefined): NodeJS.Require {
  return createRequire(moduleDir ? join(moduleDir, 'noop.js') : import.meta.url);
}

async function probeNative(pkg: string, moduleDir: string | undefined): Promise<void> {
  const req = requireFrom(moduleDir);
  let manifest: string;
  try {
    manifest = req.resolve(`${pkg}/package.json`);
  } catch {
    await send({ kind: 'found', installed: false });
    return;
  }
  const { version } = req(manifest) as { version?: string };
  await send({ kind: 'found', installed: true, path: dirname(manifest), version });
  let tf: { setBackend(name: string): Promise<boolean>; ready(): Promise<void>; backend(): unknown };
  try {
    tf = req(pkg) as typeof tf;
  } catch (err) {
    await send({ kind: 'load-failed', error: messageOf(err), code: (err as { code?: string }).code });
    return;
  }
  try {
    if (!(await tf.setBackend('tensorflow'))) throw new Error('tf.setBackend("tensorflow") returned false');
    await tf.ready();
    const usingGpu = (tf.backend() as { isUsingGpuDevice?: boolean }).isUsingGpuDevice;
    await send({ kind: 'loaded', usingGpu: usingGpu ?? null });
  } catch (err) {
    await send({ kind: 'load-failed', error: messageOf(err) });
  }
}

async function probeWebGpu(): Promise<void> {
  const { listDawnAdapters, isSoftwareAdapter } = await import('../../src-worker/webgpu-backend');
  let listed: { backend: string; name: string }[];
  try {
    listed = await listDawnAdapters();
  } catch (err) {
    await send({ kind: 'failed', error: messageOf(err) });
    return;
  }
  await send({ kind: 'listed', adapters: listed });
  const { create } = await import('webgpu');
  for (const { backend, name } of listed) {
    try {
      const adapter = await create([`adapter=${name}`]).requestAdapter({ powerPreference: 'high-performance' });
      if (!adapter) throw new Error('requestAdapter returned null');
      const info = adapter.info;
      const base = { vendor: info.vendor, architecture: info.architecture, device: info.device, description: info.description };
      const fallback = (adapter as GPUAdapter & { isFallbackAdapter?: boolean }).isFallbackAdapter ?? false;
      await send({ kind: 'adapter', backend, name, ...base, software: isSoftwareAdapter({ ...base, description: `${base.description} ${name}` }, fallback) });
    } catch (err) {
      await send({ kind: 'adapter-failed', backend, name, error: messageOf(err) });
    }
  }
}

async function probeWasm(): Promise<void> {
  try {
    const { initBackend } = await import('../../src-worker/backend');
    const choice = await initBackend('wasm');
    await send({ kind: 'wasm', simd: choice.wasm?.simd ?? false, threads: choice.wasm?.threads ?? 1 });
  } catch (err) {
    await send({ kind: 'failed', error: messageOf(err) });
  }
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

/**
 * Times `fn` (which must read its results back): one warm-up call (kernel compilation, allocations), then up to
 * `maxReps` timed calls while they fit before `deadline` (at least one).
 */
async function timeIt(fn: () => Promise<void>, deadline: number, maxReps: number): Promise<{ medianMs: number; reps: number; warmupMs: number }> {
  const t0 = performance.now();
  await fn();
  const warm = performance.now() - t0;
  const times: number[] = [];
  while (times.length < maxReps) {
    const last = times.at(-1) ?? warm;
    if (times.length > 0 && performance.now() + last > deadline) break;
    const start = performance.now();
    await fn();
    times.push(performance.now() - start);
    if (performance.now() > deadline) break;
  }
  return { medianMs: median(times), reps: times.length, warmupMs: warm };
}

async function bench(request: Extract<ProbeRequest, { probe: 'bench' }>): Promise<void> {
  const tf = await import('@tensorflow/tfjs');
  const { target } = request;
  if (target.backend === 'webgpu') {
    const { activateWebGpu } = await import('../../src-worker/webgpu-backend');
    await activateWebGpu({ adapterName: target.adapter });
  } else if (target.backend === 'tensorflow') {
    // the package registers `tensorflow` on the tfjs it shares with NormLab (one copy when installed alongside it)
    requireFrom(request.moduleDir)(target.package);
    if (!(await tf.setBackend('tensorflow'))) throw new Error(`${target.package} loaded, but tfjs has no "tensorflow" backend (a second copy of tfjs-core?)`);
  } else {
    const { initBackend } = await import('../../src-worker/backend');
    await initBackend(target.backend);
  }
  await send({ kind: 'ready' });
  const { knConv2d } = await import('../../src-worker/kn/ops');
  const { syntheticTrainingStep } = await import('../../src-worker/train/synthetic-step');

  // the budget is for measuring: loading tfjs, Dawn or libtensorflow comes before it
  const budgetEnd = performance.now() + request.budgetMs;
  const c = request.conv;
  const x = tf.randomNormal<TF.Rank.R4>([c.batch, c.size, c.size, c.inChannels], 0, 1, 'float32', 1);
  const w = tf.randomNormal<TF.Rank.R4>([c.kernel, c.kernel, c.inChannels, c.outChannels], 0, 0.05, 'float32', 2);
  const b = tf.zeros<TF.Rank.R1>([c.outChannels]);
  const kn = (xi: TF.Tensor, wi: TF.Tensor, bi: TF.Tensor) =>
    knConv2d(xi as TF.Tensor4D, wi as TF.Tensor4D, bi as TF.Tensor1D, { padding: c.padding, training: true });
  const outShape = tf.tidy(() => kn(x, w, b).shape);
  const dy = tf.randomNormal(outShape, 0, 1, 'float32', 3);
  const convFwdBwd = async () => {
    const grads = tf.tidy(() => tf.grads(kn)([x, w, b], dy));
    await Promise.all(grads.map((g) => g.data()));
    tf.dispose(grads);
  };
  // 30 % of what is left for the convolution's repetitions; the step's get the rest
  const convDeadline = performance.now() + Math.max(0, budgetEnd - performance.now()) * 0.3;
  await send({ kind: 'conv', ...(await timeIt(convFwdBwd, convDeadline, 5)) });
  tf.dispose([x, w, b, dy]);

  // the step runs (warm-up + one timed) even when the convolution used up the budget: the parent's timeout bounds it
  const s = request.step;
  if (s === null) return;
  const { step, dispose } = syntheticTrainingStep(s.model, { width: s.width, batch: s.batch, numClasses: s.numClasses });
  try {
    await send({ kind: 'step', ...(await timeIt(step, budgetEnd, 3)) });
  } finally {
    dispose();
  }
}

async function main(): Promise<void> {
  const request = JSON.parse(process.argv[2] ?? '{}') as ProbeRequest;
  switch (request.probe) {
    case 'native':
      return probeNative(request.package, request.moduleDir);
    case 'webgpu':
      return probeWebGpu();
    case 'wasm':
      return probeWasm();
    case 'bench':
      return bench(request).catch((err: unknown) => send({ kind: 'failed', error: messageOf(err) }));
    default:
      throw new Error(`probe-child: unknown probe ${JSON.stringify(request)}`);
  }
}

main()
  .then(() => {
    // Dawn and native addons can keep handles open; the parent waits for the exit
    process.disconnect?.();
    process.exit(0);
  })
  .catch((err: unknown) => {
    process.stderr.write(`probe-child: ${messageOf(err)}\n`);
    process.exit(1);
  });
