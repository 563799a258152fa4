/**
 * Builds the self-contained GPU check: `npm run build:gpu-check` → out/gpu-check/
 *
 *   gpu-check.mjs               one ESM file: tfjs, tfjs-backend-webgpu, tfjs-backend-wasm, our backend/ops/models
 *                               code and the golden vectors (bench/gpu-check/golden-vectors.json)
 *   dist/linux-x64/dawn.node    Dawn's Node binding, where the bundled `webgpu/index.js` looks for it: it requires
 *                               dirname(import.meta.url)/dist/<platform>-<arch>/dawn.node, and in the bundle
 *                               import.meta.url is gpu-check.mjs
 *   tfjs-backend-wasm*.wasm     for the optional wasm reference (WASM=1)
 *   lib/libvulkan.so.1          this machine's Vulkan loader (when it has one), for boxes that lack it
 *   gpu-check.sh                the launcher (bench/gpu-check.sh)
 *
 * Copy the folder anywhere with Node >= 20 (or a Node tarball next to it) and run ./gpu-check.sh: no node_modules,
 * no registry, no network. The build is for linux-x64 only (the GPU boxes); other platforms need their dawn.node.
 */
import { build } from 'esbuild';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..', '..');
const require = createRequire(import.meta.url);

export const DEFAULT_OUT_DIR = join(root, 'out', 'gpu-check');
export const PLATFORM_DIR = 'linux-x64';
const KEEP = ['gpu-check-results', '.node'];
const VULKAN_LOADERS = ['/usr/lib/x86_64-linux-gnu/libvulkan.so.1', '/usr/lib64/libvulkan.so.1', '/usr/lib/libvulkan.so.1'];

function dirSize(dir: string): number {
  return readdirSync(dir, { withFileTypes: true }).reduce((sum, e) => {
    const p = join(dir, e.name);
    return sum + (e.isDirectory() ? dirSize(p) : statSync(p).size);
  }, 0);
}

export async function buildGpuCheck(outDir = DEFAULT_OUT_DIR): Promise<{ outDir: string; bytes: number }> {
  // a fresh folder, except for figures and an unpacked Node that a run of ./gpu-check.sh left there
  for (const entry of existsSync(outDir) ? readdirSync(outDir) : []) {
    if (!KEEP.includes(entry)) rmSync(join(outDir, entry), { recursive: true, force: true });
  }
  mkdirSync(join(outDir, 'dist', PLATFORM_DIR), { recursive: true });
  await build({
    entryPoints: [join(here, 'main.ts')],
    outfile: join(outDir, 'gpu-check.mjs'),
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    // the native tfjs-node packages are loaded by a computed name in backend.ts and never on this path
    external: ['@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu'],
    // CommonJS packages (tfjs's node builds) require node built-ins; an ESM bundle needs a real `require` for that
    banner: { js: "import { createRequire as __gpuCheckCreateRequire } from 'node:module'; const require = __gpuCheckCreateRequire(import.meta.url);" },
    legalComments: 'none',
    logLevel: 'warning',
    logOverride: { 'unsupported-dynamic-import': 'silent', 'empty-import-meta': 'silent' },
  });
  const webgpuDir = dirname(require.resolve('webgpu'));
  copyFileSync(join(webgpuDir, 'dist', PLATFORM_DIR, 'dawn.node'), join(outDir, 'dist', PLATFORM_DIR, 'dawn.node'));
  const wasmDir = dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'));
  for (const f of readdirSync(wasmDir).filter((n) => n.endsWith('.wasm'))) copyFileSync(join(wasmDir, f), join(outDir, f));
  // the Vulkan loader, for boxes without one (CUDA containers often lack it); gpu-check.sh uses it only then
  const loader = VULKAN_LOADERS.find((p) => existsSync(p));
  if (loader) {
    mkdirSync(join(outDir, 'lib'));
    copyFileSync(loader, join(outDir, 'lib', 'libvulkan.so.1'));
  }
  copyFileSync(join(root, 'bench', 'gpu-check.sh'), join(outDir, 'gpu-check.sh'));
  chmodSync(join(outDir, 'gpu-check.sh'), 0o755);
  return { outDir, bytes: dirSize(outDir) };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const outDir = process.argv[2] ? resolve(process.argv[2]) : DEFAULT_OUT_DIR;
  const { bytes } = await buildGpuCheck(outDir);
  console.log(`gpu-check bundle: ${outDir} (${(bytes / 2 ** 20).toFixed(1)} MiB); copy the folder to the GPU box and run ./gpu-check.sh`);
}
