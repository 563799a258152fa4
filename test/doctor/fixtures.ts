import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '..', '..');
const BIN = join(ROOT, 'bin', 'normlab.mjs');

export interface FakeGpu {
  name: string;
  memoryMiB: number;
}

/**
 * An executable `nvidia-smi` in a temp folder: `--query-gpu=<fields>` prints the asked fields per GPU as CSV (as the
 * real one does, in the order asked), no arguments prints the header with the CUDA version, `-q` the long form.
 */
export function writeFakeNvidiaSmi(gpus: FakeGpu[], opts: { driver: string; cuda: string }): { dir: string; path: string } {
  const dir = mkdtempSync(join(tmpdir(), 'normlab-doctor-smi-'));
  const rows = gpus.map((g, i) => `${i}|${g.name}|${g.memoryMiB}|${opts.driver}`).join('\n');
  const script = `#!/bin/sh
case "$1" in
  --query-gpu=*)
    fields=$(printf '%s' "$1" | sed 's/^--query-gpu=//')
    printf '%s\\n' '${rows}' | while IFS='|' read -r index name memory driver; do
      line=''
      for f in $(printf '%s' "$fields" | tr ',' ' '); do
        case "$f" in
          index) v=$index ;; name) v=$name ;; memory.total) v=$memory ;; driver_version) v=$driver ;; *) v='[N/A]' ;;
        esac
        line="\${line:+$line, }$v"
      done
      printf '%s\\n' "$line"
    done ;;
  -q) printf '\\n==============NVSMI LOG==============\\n\\nDriver Version                            : ${opts.driver}\\nCUDA Version                              : ${opts.cuda}\\n' ;;
  '') printf '+---------------------------------------------------------------------------------------+\\n| NVIDIA-SMI ${opts.driver}              Driver Version: ${opts.driver}   CUDA Version: ${opts.cuda}     |\\n' ;;
  *) echo "fake nvidia-smi: unexpected arguments $*" >&2; exit 2 ;;
esac
`;
  const path = join(dir, 'nvidia-smi');
  writeFileSync(path, script);
  chmodSync(path, 0o755);
  return { dir, path };
}

function hasCompiler(): boolean {
  try {
    execFileSync('cc', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * A folder whose node_modules holds a fake `@tensorflow/tfjs-node-gpu` 4.22.0 whose main loads its native addon
 * (lib/napi-v8/tfjs_binding.node, where the real package keeps it). With a C compiler the addon is a real shared
 * object linked against `libcudart.so.11.0` (built against a stub that is then deleted), so dlopen fails with the
 * real message and `ldd` lists it as not found; without one, main throws the same message.
 */
export function writeFakeTfjsNodeGpu(): { moduleDir: string; realElf: boolean; cleanup(): void } {
  const moduleDir = mkdtempSync(join(tmpdir(), 'normlab-doctor-modules-'));
  const pkgDir = join(moduleDir, 'node_modules', '@tensorflow', 'tfjs-node-gpu');
  const addonDir = join(pkgDir, 'lib', 'napi-v8');
  mkdirSync(addonDir, { recursive: true });
  writeFileSync(join(pkgDir, 'package.json'), JSON.stringify({ name: '@tensorflow/tfjs-node-gpu', version: '4.22.0', main: 'dist/index.js' }));
  mkdirSync(join(pkgDir, 'dist'));
  const realElf = hasCompiler();
  if (realElf) {
    const build = mkdtempSync(join(tmpdir(), 'normlab-doctor-cc-'));
    writeFileSync(join(build, 'cudart.c'), 'int cudaGetDeviceCount(int *n) { *n = 0; return 0; }\n');
    writeFileSync(join(build, 'binding.c'), 'extern int cudaGetDeviceCount(int *);\nint tfjs_probe(void) { int n; return cudaGetDeviceCount(&n); }\n');
    execFileSync('cc', ['-shared', '-fPIC', '-Wl,-soname,libcudart.so.11.0', '-o', join(build, 'libcudart.so.11.0'), join(build, 'cudart.c')]);
    execFileSync('cc', ['-shared', '-fPIC', '-o', join(addonDir, 'tfjs_binding.node'), join(build, 'binding.c'), `-L${build}`, '-l:libcudart.so.11.0']);
    rmSync(build, { recursive: true, force: true });
    writeFileSync(join(pkgDir, 'dist', 'index.js'), "require('../lib/napi-v8/tfjs_binding.node');\n");
  } else {
    writeFileSync(join(addonDir, 'tfjs_binding.node'), '');
    writeFileSync(
      join(pkgDir, 'dist', 'index.js'),
      "const e = new Error('libcudart.so.11.0: cannot open shared object file: No such file or directory'); e.code = 'ERR_DLOPEN_FAILED'; throw e;\n",
    );
  }
  return { moduleDir, realElf, cleanup: () => rmSync(moduleDir, { recursive: true, force: true }) };
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** `normlab <args>` as a user runs it (bin/normlab.mjs), in a real process. */
export function runCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  const started = performance.now();
  return new Promise((done) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('close', (code) => done({ code, stdout, stderr, ms: performance.now() - started }));
  });
}

/** Dawn finds SwiftShader (software Vulkan, shipped with Chromium) through these. */
export const SWIFTSHADER_ENV = { VK_ICD_FILENAMES: '/usr/lib/chromium/vk_swiftshader_icd.json', XDG_RUNTIME_DIR: '/tmp' };
