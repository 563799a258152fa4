import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { APP_ROOT, CHILD_ENTRIES, childEntry, RUNNING_BUILT, type ChildEntryName } from '../../src-main/entry-points';
import { nodeExecArgvFor } from '../../src-main/node-runtime';
import { WORKER_ENTRY } from '../../src-main/scheduler/worker-process';
import { ROOT } from './built-folder';

/** From the sources (as here, under vitest) every child starts from its .ts file through tsx; built-app.test.ts covers the build. */
describe('entry points from the sources', () => {
  it('knows it runs from the sources, in this checkout', () => {
    expect(RUNNING_BUILT).toBe(false);
    expect(APP_ROOT).toBe(ROOT);
  });

  it('starts each child from its existing .ts source with tsx loaded', () => {
    for (const name of Object.keys(CHILD_ENTRIES) as ChildEntryName[]) {
      const entry = childEntry(name);
      expect(entry.file).toBe(join(ROOT, CHILD_ENTRIES[name]));
      expect(existsSync(entry.file), entry.file).toBe(true);
      expect(entry.execArgv).toEqual(['--import', expect.stringMatching(/^file:\/\/.*\/node_modules\/tsx\//)]);
    }
    expect(WORKER_ENTRY).toBe(join(ROOT, 'src-worker', 'main.ts'));
  });

  it('gives a built .js entry no loader, so a caller passing its own entry is right in both modes', () => {
    expect(nodeExecArgvFor('/opt/normlab/out/main/worker.js')).toEqual([]);
    expect(nodeExecArgvFor('/x/worker.mts')).toHaveLength(2);
  });
});
