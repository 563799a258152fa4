import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describeExit, lastErrorLine, runProbe } from './child';
import type { NativeMessage } from './probe-protocol';
import type { MissingLibrary, NativePackageName, NativePackageReport } from './report';

/** The CUDA and cuDNN tfjs-node-gpu 4.22's libtensorflow (TF 2.9) was built against. */
export const CUDA_FOR_TFJS = '11.2';
export const CUDNN_FOR_TFJS = '8.1';

const SITE = `SITE=$(python3 -c 'import site; print(site.getsitepackages()[0])')`;

/** What provides each library libtensorflow (GPU build) opens, and where to get it. */
const PROVIDERS: { match: RegExp; what: string; pip?: string; conda?: string; pipLib?: string }[] = [
  { match: /^libcudart\.so/, what: `the CUDA ${CUDA_FOR_TFJS} runtime (any CUDA 11.x libcudart.so.11.0 loads)`, pip: 'nvidia-cuda-runtime-cu11', conda: `cudatoolkit=${CUDA_FOR_TFJS}`, pipLib: 'cuda_runtime' },
  { match: /^libcudnn/, what: `cuDNN ${CUDNN_FOR_TFJS} (libcudnn.so.8; a later cuDNN 8.x for CUDA 11 also loads)`, pip: "'nvidia-cudnn-cu11==8.*'", conda: `cudnn=${CUDNN_FOR_TFJS}`, pipLib: 'cudnn' },
  { match: /^libcublas(Lt)?\.so/, what: 'cuBLAS for CUDA 11', pip: 'nvidia-cublas-cu11', conda: `cudatoolkit=${CUDA_FOR_TFJS}`, pipLib: 'cublas' },
  { match: /^libcufft\.so/, what: 'cuFFT for CUDA 11', pip: 'nvidia-cufft-cu11', conda: `cudatoolkit=${CUDA_FOR_TFJS}`, pipLib: 'cufft' },
  { match: /^libcurand\.so/, what: 'cuRAND for CUDA 11', pip: 'nvidia-curand-cu11', conda: `cudatoolkit=${CUDA_FOR_TFJS}`, pipLib: 'curand' },
  { match: /^libcusolver\.so/, what: 'cuSOLVER for CUDA 11', pip: 'nvidia-cusolver-cu11', conda: `cudatoolkit=${CUDA_FOR_TFJS}`, pipLib: 'cusolver' },
  { match: /^libcusparse\.so/, what: 'cuSPARSE for CUDA 11', pip: 'nvidia-cusparse-cu11', conda: `cudatoolkit=${CUDA_FOR_TFJS}`, pipLib: 'cusparse' },
  { match: /^libcuda\.so/, what: 'the NVIDIA driver (libcuda.so.1 comes with it, not with the CUDA toolkit)' },
];

/** Library names from dlopen errors (`libcudart.so.11.0: cannot open shared object file`) and TF's loader log. */
export function missingLibrariesInText(text: string): string[] {
  const names = new Set<string>();
  for (const m of text.matchAll(/([A-Za-z0-9_.+-]+\.so(?:\.[0-9]+)*): cannot open shared object file/g)) names.add(m[1]);
  for (const m of text.matchAll(/Could not load dynamic library '([^']+)'/g)) names.add(m[1]);
  return [...names];
}

/** `libcudnn.so.8 => not found` lines of `ldd` output. */
export function parseLddNotFound(output: string): string[] {
  return [...output.matchAll(/^\s*(\S+)\s+=>\s+not found/gm)].map((m) => m[1]);
}

/** The libraries `ldd` cannot find for a shared object (transitively); null when ldd is unavailable or refuses it. */
export function lddNotFound(file: string, timeoutMs = 5000): Promise<string[] | null> {
  return new Promise((resolve) => {
    // ldd exits 1 for "not a dynamic executable" but prints "not found" lines with exit 0
    execFile('ldd', [file], { timeout: timeoutMs }, (err, stdout) => resolve(err && !stdout ? null : parseLddNotFound(stdout)));
  });
}

/** `tfjs_binding.node` under the package's lib/ (lib/napi-v8/ in 4.22), searched a few levels down. */
export function findAddon(packageDir: string, depth = 3): string | undefined {
  const walk = (dir: string, left: number): string | undefined => {
    let entries: import('node:fs').Dirent[];
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return undefined;
    }
    const hit = entries.find((e) => e.isFile() && e.name === 'tfjs_binding.node');
    if (hit) return join(dir, hit.name);
    if (left === 0) return undefined;
    for (const e of entries) {
      if (!e.isDirectory()) continue;
      const found = walk(join(dir, e.name), left - 1);
      if (found) return found;
    }
    return undefined;
  };
  return walk(join(packageDir, 'lib'), depth);
}

export function fixForLibrary(name: string, pkg: NativePackageName): string {
  if (/^libtensorflow(_framework)?\.so/.test(name)) {
    return `libtensorflow, which ${pkg} downloads when it is installed: \`npm rebuild ${pkg}\` (needs the network)`;
  }
  const p = PROVIDERS.find((provider) => provider.match.test(name));
  if (!p) return `install what provides ${name} (\`apt-file search ${name}\`) and put its folder on LD_LIBRARY_PATH`;
  const ways = [p.pip && `\`pip install ${p.pip}\``, p.conda && `\`conda install -c conda-forge ${p.conda}\``].filter(Boolean);
  return ways.length > 0 ? `${p.what}: ${ways.join(' or ')}` : p.what;
}

/** The LD_LIBRARY_PATH line for the missing CUDA libraries, for the pip wheels and for conda. */
function ldLibraryPathFix(missing: string[]): string | null {
  const libs = [...new Set(missing.map((n) => PROVIDERS.find((p) => p.match.test(n))?.pipLib).filter((l): l is string => l !== undefined))];
  if (libs.length === 0) return null;
  const dirs = libs.map((l) => `$SITE/nvidia/${l}/lib`).join(':');
  return `then put them on LD_LIBRARY_PATH before starting NormLab: pip wheels: \`${SITE}; export LD_LIBRARY_PATH=${dirs}:$LD_LIBRARY_PATH\`; conda: \`export LD_LIBRARY_PATH=$CONDA_PREFIX/lib:$LD_LIBRARY_PATH\``;
}

export interface NativeProbeOptions {
  /** Resolve the package as from this folder (one holding node_modules) instead of NormLab's own sources. */
  moduleDir?: string;
  /** Whether nvidia-smi saw a GPU: decides what "not installed" and "sees no GPU" call for. */
  gpusPresent: boolean;
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

function merge(into: Map<string, MissingLibrary>, names: string[], source: MissingLibrary['seenIn'][number], pkg: NativePackageName): void {
  for (const name of names) {
    const entry = into.get(name) ?? { name, seenIn: [], fix: fixForLibrary(name, pkg) };
    if (!entry.seenIn.includes(source)) entry.seenIn.push(source);
    into.set(name, entry);
  }
}

/**
 * Whether the package is installed and loads, in a child process (a native load can abort it). For a failed
 * load, the missing shared libraries by name from three places: the load error, libtensorflow's own log on
 * stderr (it dlopens CUDA lazily and logs "Could not load dynamic library"), and `ldd` on the native addon.
 */
export async function probeNativePackage(pkg: NativePackageName, opts: NativeProbeOptions): Promise<NativePackageReport> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const outcome = await runProbe<NativeMessage>(
    { probe: 'native', package: pkg, ...(opts.moduleDir ? { moduleDir: opts.moduleDir } : {}) },
    // TF_CPP_MIN_LOG_LEVEL=0: libtensorflow's warnings name the CUDA libraries it could not open
    { timeoutMs, env: { TF_CPP_MIN_LOG_LEVEL: '0', ...opts.env } },
  );
  const found = outcome.messages.find((m) => m.kind === 'found');
  const isGpuPackage = pkg === '@tensorflow/tfjs-node-gpu';
  if (!found) {
    const error = `could not tell whether it is installed: ${describeExit(outcome, timeoutMs)}${lastErrorLine(outcome.stderr) ? ` (${lastErrorLine(outcome.stderr)})` : ''}`;
    return { package: pkg, installed: false, load: 'failed', error, missingLibraries: [], fixes: [] };
  }
  if (!found.installed) {
    const base = { package: pkg, installed: false, load: 'not-installed' as const, missingLibraries: [] };
    if (isGpuPackage && !opts.gpusPresent) return { ...base, fixes: [], note: 'only of use with an NVIDIA GPU, and nvidia-smi sees none here' };
    const fix = isGpuPackage
      ? `\`npm install ${pkg}@4.22.0\` (an optional dependency), with the CUDA ${CUDA_FOR_TFJS} runtime and cuDNN ${CUDNN_FOR_TFJS} on LD_LIBRARY_PATH`
      : `\`npm install ${pkg}@4.22.0\` for libtensorflow's CPU kernels (faster than wasm on many cores)`;
    return { ...base, fixes: [fix] };
  }
  const report: NativePackageReport = { package: pkg, installed: true, path: found.path, load: 'failed', missingLibraries: [], fixes: [] };
  if (found.version) report.version = found.version;
  const addon = findAddon(found.path);
  if (addon) report.addon = addon;

  const loaded = outcome.messages.find((m) => m.kind === 'loaded');
  const failed = outcome.messages.find((m) => m.kind === 'load-failed');
  if (loaded) report.load = isGpuPackage && loaded.usingGpu === false ? 'no-gpu' : 'ok';
  else if (failed) report.error = failed.error;
  else report.error = `${describeExit(outcome, timeoutMs)} while loading${lastErrorLine(outcome.stderr) ? `: ${lastErrorLine(outcome.stderr)}` : ''}`;
  if (report.load === 'ok') return report;

  const missing = new Map<string, MissingLibrary>();
  if (report.error) merge(missing, missingLibrariesInText(report.error), 'load error', pkg);
  merge(missing, missingLibrariesInText(outcome.stderr), 'tensorflow log', pkg);
  if (addon) merge(missing, (await lddNotFound(addon)) ?? [], 'ldd', pkg);
  report.missingLibraries = [...missing.values()];

  const names = report.missingLibraries.map((l) => l.name);
  report.fixes = report.missingLibraries.map((l) => `${l.name}: ${l.fix}`);
  const ld = ldLibraryPathFix(names);
  if (ld) report.fixes.push(ld);
  if (report.load === 'no-gpu') {
    report.error = `loaded, but runs on the CPU: ${opts.gpusPresent ? `CUDA ${CUDA_FOR_TFJS} / cuDNN ${CUDNN_FOR_TFJS} missing, or CUDA_VISIBLE_DEVICES hides the GPUs` : 'nvidia-smi sees no GPU'}`;
  }
  if (report.fixes.length === 0 && !addon) report.fixes.push(`its native addon (tfjs_binding.node) is missing: \`npm rebuild ${pkg}\``);
  return report;
}
