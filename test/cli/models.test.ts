import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { listModels } from '../../src-worker/models';

const BIN = join(__dirname, '..', '..', 'bin', 'normlab.mjs');
const run = (...args: string[]) => spawnSync(process.execPath, [BIN, 'models', ...args], { encoding: 'utf8' });

describe('normlab models', () => {
  it('lists the registry, filtered by a glob, with parameter counts', () => {
    const all = JSON.parse(run('--json').stdout) as { name: string; params: number }[];
    expect(all.map((m) => m.name)).toEqual(listModels().map((m) => m.name));
    const table = run('*18_gn').stdout.trim().split('\n');
    expect(table.slice(1).map((l) => l.split(/\s+/)[0]).sort()).toEqual(['fc_resnet18_gn', 'preact_resnet18_gn', 'resnet18_gn']);
    expect(table.find((l) => l.startsWith('resnet18_gn'))).toMatch(/11,220,132$/);
  });

  it('fails clearly when nothing matches', () => {
    const result = run('nosuchnet*');
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('no model matches "nosuchnet*"');
  });
});
