import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dispatchArgs, toErrorBody } from '../../src-main/server/dispatch';
import { NormLabService } from '../../src-main/api/service';
import { bindAppApi } from '../../src-main/server/app-api';
import { LiveHub } from '../../src-main/server/live-events';
import { createUiExtras } from '../../src-main/server/ui-extras';
import { ExperimentStore } from '../../src-main/store';
import type { LiveEvent } from '../../src-main/server/live-events';
import type { ElectronBridge } from '../../src-main/electron/preload';
import { electronClient, type NormLabClient } from '../../src-renderer/api/client';

/**
 * A renderer client wired to a real backend (store + service + UI extras, no scheduler) on a temp SQLite file,
 * through the same dispatch the Electron IPC handler uses: component tests exercise the real API, not a fake.
 * Live events are delivered synchronously as one batch per emit, so tests control timing.
 */
export async function openInProcessClient(populate?: (dbFile: string) => void): Promise<{ client: NormLabClient; store: ExperimentStore; live: LiveHub; dir: string; close(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'normlab-renderer-'));
  populate?.(join(dir, 'normlab.db'));
  const store = ExperimentStore.open(join(dir, 'normlab.db'));
  const service = new NormLabService(store);
  const live = new LiveHub();
  const api = bindAppApi(service, createUiExtras({ store, service, live, dataDir: join(dir, 'data') }), live);
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
