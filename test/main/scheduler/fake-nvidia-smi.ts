import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Writes an executable `nvidia-smi` that reports `count` GPUs, for a test to put first on PATH. */
export function writeFakeNvidiaSmi(count: number): { dir: string; path: string } {
  const dir = mkdtempSync(join(tmpdir(), 'normlab-fake-smi-'));
  const lines = Array.from({ length: count }, (_, i) => `${i}, NVIDIA A40, 46068, ${1000 + i * 10}, ${i * 7}`);
  const path = join(dir, 'nvidia-smi');
  writeFileSync(path, `#!/bin/sh\ncat <<'CSV'\n${lines.join('\n')}\nCSV\n`);
  chmodSync(path, 0o755);
  return { dir, path };
}
