import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dispatchArgs, toErrorBody } from '../../src-main/server/dispatch';
import { NormLabService } from '../../src-main/api/service';
import { bindAppApi } from '../../src-main/server/app-api';
import { LiveHub } from '../../src-main/server/live-events';
import { ExperimentStore } from '../../src-main/store';
import type { LiveEvent } from '../../src-main/server/live-events';
import type { ElectronBridge } from '../../src-main/electron/preload';
import { electronClient, setClient, type NormLabClient } from '../../src-renderer/api/client';
import { flushPromises } from '@vue/test-utils';
import { afterAll, beforeAll } from 'vitest';

/**
 * A renderer client wired to a real backend (store + service, no scheduler) on a temp SQLite file,
 * through the same dispatch the Electron IPC handler uses: component tests exercise the real API, not a fake.
 * Live events are delivered synchronously as one batch per emit, so tests control timing.
 */
export interface InProcessEnv {
  client: NormLabClient;
  store: ExperimentStore;
  live: LiveHub;
  dir: string;
  close(): Promise<void>;
}

/**
 * Opens an in-process client before the file's tests and installs it as the renderer's API client; closes it
 * after them. The returned object is filled in by the time the tests run.
 */
export function useInProcessClient(populate?: (dbFile: string) => void): InProcessEnv {
  const env = {} as InProcessEnv;
  beforeAll(async () => {
    Object.assign(env, await openInProcessClient(populate));
    setClient(env.client);
  });
  afterAll(async () => {
    setClient(null);
    await env.close();
  });
  return env;
}

/** Waits out the sweep preview's 250 ms debounce and the API call behind it. */
export async function settle(ms = 320): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
  await flushPromises();
}

export async function openInProcessClient(populate?: (dbFile: string) => void): Promise<InProcessEnv> {
  const dir = mkdtempSync(join(tmpdir(), 'normlab-renderer-'));
  populate?.(join(dir, 'normlab.db'));
  const store = ExperimentStore.open(join(dir, 'normlab.db'));
  const live = new LiveHub();
  const service = new NormLabService(store, null, { dataDir: join(dir, 'data'), onDownload: (e) => live.emit({ type: 'download', ...e }) });
  const api = bindAppApi(service, live);
  const bridge: ElectronBridge = {
    kind: 'electron',
    async call(method, args) {
      try {
        return { ok: true, value: await dispatchArgs(api, method, args) };
      } catch (error) {
        return { ok: false, error: toErrorBody(error) };
      }
    },
    onLive(listener) {
      return live.subscribe((event: LiveEvent) => listener([event]));
    },
    chooseFolder: async () => null,
    saveCsv: async () => ({ ok: true, value: null }),
  };
  return {
    client: electronClient(bridge),
    store,
    live,
    dir,
    async close() {
      store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
