import { dialog, ipcMain, type BrowserWindow, type WebContents } from 'electron';
import { dispatchArgs, toErrorBody } from '../server/dispatch';
import { LiveBatcher } from '../server/live-batcher';
import { liveCoalesceKey, type LiveEvent, type LiveSource } from '../server/live-events';
import type { AppApi } from '../server/ui-extras';
import { IPC, type IpcReply } from './bridge';

async function reply<T>(work: () => Promise<T>): Promise<IpcReply<T>> {
  try {
    return { ok: true, value: await work() };
  } catch (error) {
    return { ok: false, error: toErrorBody(error) };
  }
}

/** Only our own window's main frame may call in; a stray frame or webview gets nothing. */
function fromTrustedFrame(sender: WebContents, window: () => BrowserWindow | null, frameUrl: string | undefined): boolean {
  const win = window();
  if (!win || sender !== win.webContents) return false;
  return frameUrl === undefined || frameUrl === win.webContents.getURL();
}

/**
 * IPC handlers: thin, delegating to the same dispatch (and edge validation) `normlab serve` uses, plus the
 * two native dialogs. Returns a function that removes them.
 */
export function registerIpc(api: AppApi, live: LiveSource, window: () => BrowserWindow | null): () => void {
  ipcMain.handle(IPC.call, (event, method: unknown, args: unknown) => {
    if (!fromTrustedFrame(event.sender, window, event.senderFrame?.url)) return { ok: false, error: { code: 'unauthorized', message: 'untrusted frame', problems: [] } };
    return reply(() => dispatchArgs(api, method, args));
  });

  ipcMain.handle(IPC.chooseFolder, async (event, title: unknown) => {
    const win = window();
    if (!win || event.sender !== win.webContents) return null;
    const result = await dialog.showOpenDialog(win, {
      title: typeof title === 'string' ? title : 'Choose a folder',
      properties: ['openDirectory', 'createDirectory'],
    });
    return result.canceled ? null : (result.filePaths[0] ?? null);
  });

  ipcMain.handle(IPC.saveCsv, async (event, what: unknown, filter: unknown, suggestedName: unknown) => {
    const win = window();
    if (!win || event.sender !== win.webContents) return { ok: false, error: { code: 'unauthorized', message: 'untrusted frame', problems: [] } };
    const result = await dialog.showSaveDialog(win, {
      title: 'Export CSV',
      defaultPath: typeof suggestedName === 'string' ? suggestedName : 'normlab.csv',
      filters: [{ name: 'CSV', extensions: ['csv'] }],
    });
    if (result.canceled || !result.filePath) return { ok: true, value: null };
    // the main process writes the file, streamed from the store: a large metric history never crosses IPC
    const outPath = result.filePath;
    return reply(() => api.exportCsv(String(what), filter, outPath));
  });

  const batcher = new LiveBatcher<LiveEvent>({
    intervalMs: 250,
    coalesceKey: liveCoalesceKey,
    flush: (events) => {
      const win = window();
      if (win && !win.isDestroyed()) win.webContents.send(IPC.live, events);
    },
  });
  const unsubscribe = live.subscribe((e) => batcher.push(e));

  return () => {
    unsubscribe();
    batcher.close();
    for (const channel of [IPC.call, IPC.chooseFolder, IPC.saveCsv]) ipcMain.removeHandler(channel);
  };
}
