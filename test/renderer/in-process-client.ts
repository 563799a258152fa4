import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dispatchArgs, toErrorBody } from '../../src-main/server/dispatch';
import type { AppBackend } from '../../src-main/server/app-backend';
import { URL as NodeURL } from 'node:url';
import type { LiveEvent } from '../../src-main/server/live-events';
import type { ElectronBridge } from '../../src-main/electron/preload';
import { electronClient, type NormLabClient } from '../../src-renderer/api/client';

/**
 * A renderer client wired to a real backend (store + service + UI extras) on a temp SQLite file, through the
 * same dispatch the Electron IPC handler uses: component tests exercise the real API, not a fake one.
 * Live events are delivered synchronously as one batch per emit, so tests control timing.
 */
export async function openInProcessClient(): Promise<{ client: NormLabClient; backend: AppBackend; dir: string; close(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'normlab-renderer-'));
  // happy-dom replaces the global URL, and scheduler/worker-process.ts builds a file URL at import time with it;
  // Node's own URL is put back while the backend modules load
  const domUrl = Object.getOwnPropertyDescriptor(globalThis, 'URL')!;
  Object.defineProperty(globalThis, 'URL', { value: NodeURL, configurable: true, writable: true });
  let openAppBackend: typeof import('../../src-main/server/app-backend').openAppBackend;
  try {
    ({ openAppBackend } = await import('../../src-main/server/app-backend'));
  } finally {
    Object.defineProperty(globalThis, 'URL', domUrl);
  }
  const backend = await openAppBackend({ dbFile: join(dir, 'normlab.db'), startScheduler: false, devices: { nvidiaSmi: '/nonexistent/nvidia-smi', cpuSlots: 2 } });
  const bridge: ElectronBridge = {
    kind: 'electron',
    async call(method, args) {
      try {
        return { ok: true, value: await dispatchArgs(backend.api, method, args) };
      } catch (error) {
        return { ok: false, error: toErrorBody(error) };
      }
    },
    onLive(listener) {
      return backend.live.subscribe((event: LiveEvent) => listener([event]));
    },
    chooseFolder: async () => null,
    saveCsv: async () => ({ ok: true, value: null }),
  };
  return {
    client: electronClient(bridge),
    backend,
    dir,
    async close() {
      await backend.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
