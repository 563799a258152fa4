/**
 * `npm run bench`: every benchmark in its own process (a clean tfjs engine and wasm heap each), one after
 * another so they do not compete for the two cores. `npm run bench -- kn-ops store` runs a subset.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { arch, cpus, totalmem } from 'node:os';

const BENCHES = ['kn-ops', 'conv-grads', 'models', 'paper-models', 'data', 'train', 'dp', 'store', 'scheduler', 'integrity', 'backends'];

const here = dirname(fileURLToPath(import.meta.url));
const wanted = process.argv.slice(2);
const selected = wanted.length ? BENCHES.filter((b) => wanted.includes(b)) : BENCHES;
const unknown = wanted.filter((w) => !BENCHES.includes(w));
if (unknown.length) {
  console.error(`unknown benchmark(s): ${unknown.join(', ')}; available: ${BENCHES.join(', ')}`);
  process.exit(2);
}

console.log(`machine: ${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'} (${arch()}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`);
let failed = 0;
for (const name of selected) {
  const file = join(here, `${name}.bench.ts`);
  if (!existsSync(file)) {
    console.log(`\n== ${name}: missing (${file})`);
    failed++;
    continue;
  }
  console.log(`\n== ${name}`);
  const started = Date.now();
  const result = spawnSync(process.execPath, ['--import', 'tsx', file], { stdio: 'inherit', env: process.env });
  console.log(`(${name}: ${((Date.now() - started) / 1000).toFixed(0)} s${result.status === 0 ? '' : `, exit ${result.status}`})`);
  if (result.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
