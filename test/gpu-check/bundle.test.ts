import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildGpuCheck } from '../../bench/gpu-check/build';

// The GPU check as it reaches a GPU box: built, copied to a folder outside the repo (no node_modules above it),
// and run there through gpu-check.sh on SwiftShader with tiny sizes.

const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';
const LIMIT_BYTES = 60 * 2 ** 20;

const dirBytes = (dir: string): number => readdirSync(dir, { withFileTypes: true })
  .reduce((sum, e) => sum + (e.isDirectory() ? dirBytes(join(dir, e.name)) : statSync(join(dir, e.name)).size), 0);

/** The environment of a plain shell: no NODE_OPTIONS (vitest's loaders) or NODE_PATH that could find node_modules. */
function plainEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const k of ['PATH', 'HOME', 'LANG', 'TMPDIR']) if (process.env[k] !== undefined) env[k] = process.env[k];
  return { ...env, ...extra };
}

let root: string;
let box: string;

beforeAll(async () => {
  root = mkdtempSync(join(os.tmpdir(), 'normlab-gpu-check-'));
  const built = join(root, 'built');
  await buildGpuCheck(built);
  box = join(root, 'box', 'gpu-check');
  mkdirSync(join(root, 'box'));
  cpSync(built, box, { recursive: true });
  rmSync(built, { recursive: true }); // nothing may point back at the build folder either
});

afterAll(() => {
  if (root) rmSync(root, { recursive: true, force: true });
});

describe('the gpu-check bundle', () => {
  it('is one script, the bundle, dawn.node where webgpu/index.js looks for it, and under 60 MB', () => {
    const files = readdirSync(box, { recursive: true }).map(String).sort();
    expect(files).toEqual(expect.arrayContaining(['gpu-check.mjs', 'gpu-check.sh', join('dist', 'linux-x64', 'dawn.node'), 'tfjs-backend-wasm.wasm']));
    expect(files.filter((f) => f.endsWith('.js') || f.endsWith('.mjs') || f.endsWith('.cjs'))).toEqual(['gpu-check.mjs']);
    expect(dirBytes(box)).toBeLessThan(LIMIT_BYTES);
  });

  it('runs on SwiftShader from a folder outside the repo: a software adapter, every golden check PASS, img/s printed', { timeout: 240_000 }, () => {
    const result = spawnSync('bash', [join(box, 'gpu-check.sh')], {
      cwd: box, encoding: 'utf8', timeout: 230_000,
      env: plainEnv({
        NODE: process.execPath, VK_ICD_FILENAMES: SWIFTSHADER_ICD, XDG_RUNTIME_DIR: os.tmpdir(),
        WIDTH: '0.125', BATCHES: '2', STEPS: '1', REPS: '1',
      }),
    });
    const out = result.stdout;
    expect(result.status, `${out.slice(-4000)}\n${result.stderr.slice(-2000)}`).toBe(0);
    expect(out).toMatch(/^adapter: .*software=true/m);
    expect(out).toMatch(/^adapter: .*swiftshader/im);
    const golden = out.split('\n').filter((l) => /^ {2}(PASS|FAIL) /.test(l));
    expect(golden.length).toBeGreaterThanOrEqual(11); // op × quantity: out, dx, dweight, dbias, dropoutMask
    for (const op of ['knConv2d out', 'knConv2d dx', 'knConv2d dweight', 'knConv2d dbias', 'kernelNorm2d out', 'kernelNorm2d dx', 'kernelNorm2d1x1 out', 'kernelNorm2d1x1 dx']) {
      expect(golden.some((l) => l.includes(`PASS ${op} `)), op).toBe(true);
    }
    expect(golden.filter((l) => l.startsWith('  FAIL'))).toEqual([]);
    expect(out).toMatch(/^golden: PASS \(\d+\/\d+ checks\)/m);
    expect(out).toMatch(/CPU fallback: 0 of \d+ kernels handed to the CPU, 0 run on another backend/);
    expect(out).toMatch(/KNConv [\d.]+ ms, conv [\d.]+ ms \(fwd\+bwd, 32² 8→8 3×3, batch 2\): KNConv\/conv [\d.]+/);
    expect(out).toMatch(/batch 2: knresnet18 \d+\.\d+ img\/s, resnet18_bn \d+\.\d+ img\/s, KN\/BN \d+\.\d+ \(target ≥ 0\.6/);
    const where = /figures in (\S+\.txt) and (\S+\.json)/.exec(out);
    expect(where, out.slice(-500)).not.toBeNull();
    const report = JSON.parse(readFileSync(where![2], 'utf8')) as { adapter: { software: boolean }; golden: { pass: boolean }; webgpu: { training: { knresnet18?: number }[] } };
    expect(report.adapter.software).toBe(true);
    expect(report.golden.pass).toBe(true);
    expect(report.webgpu.training[0].knresnet18).toBeGreaterThan(0);
    expect(readFileSync(where![1], 'utf8')).toContain('golden: PASS');
  });

  it('gpu-check.sh uses a Node tarball next to it when the node on PATH is older than 20', () => {
    // a "node 18" first on PATH, and a tarball whose node hands over to this one
    const fakeBin = join(root, 'old-node-bin');
    mkdirSync(fakeBin);
    writeFileSync(join(fakeBin, 'node'), '#!/bin/sh\necho 18\n');
    chmodSync(join(fakeBin, 'node'), 0o755);
    const staging = join(root, 'staging', 'node-v20.99.0-linux-x64', 'bin');
    mkdirSync(staging, { recursive: true });
    writeFileSync(join(staging, 'node'), `#!/bin/sh\nexec "${process.execPath}" "$@"\n`);
    chmodSync(join(staging, 'node'), 0o755);
    const tar = spawnSync('tar', ['-cJf', join(box, 'node-v20.99.0-linux-x64.tar.xz'), '-C', join(root, 'staging'), 'node-v20.99.0-linux-x64']);
    expect(tar.status, tar.stderr?.toString()).toBe(0);
    const env = plainEnv({ PATH: `${fakeBin}:${process.env.PATH}` });
    const result = spawnSync('bash', [join(box, 'gpu-check.sh'), '--help'], { cwd: box, encoding: 'utf8', timeout: 60_000, env });
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toContain('unpacking node-v20.99.0-linux-x64.tar.xz');
    expect(result.stdout).toMatch(/--golden-only/);
    rmSync(join(box, 'node-v20.99.0-linux-x64.tar.xz'));
    rmSync(join(box, '.node'), { recursive: true, force: true });
  });
});
