import { dialog, ipcMain, type BrowserWindow, type WebContents } from 'electron';
import { CoreCallError, type CoreClient } from '../core/core-client';
import { toErrorBody } from '../server/dispatch';
import { IPC, type IpcReply } from './bridge';

/** What the IPC handlers need of the core: forwarded calls, the host-only CSV export, live batches. */
export type CoreForIpc = Pick<CoreClient, 'request' | 'exportCsvToFile' | 'onLive'>;

async function reply<T>(work: () => Promise<T>): Promise<IpcReply<T>> {
  try {
    return { ok: true, value: await work() };
  } catch (error) {
    // the core's own error body when it answered; otherwise (a bug here) the same shape, as `internal`
    return { ok: false, error: error instanceof CoreCallError ? error.body : toErrorBody(error) };
  }
}

const UNTRUSTED: IpcReply<never> = { ok: false, error: { code: 'unauthorized', message: 'untrusted frame', problems: [] } };

/** Only our own window's main frame may call in; a stray frame or webview gets nothing. */
function fromTrustedFrame(sender: WebContents, window: () => BrowserWindow | null, frameUrl: string | undefined): boolean {
  const win = window();
  if (!win || sender !== win.webContents) return false;
  return frameUrl === undefined || frameUrl === win.webContents.getURL();
}

/**
 * IPC handlers: thin. Calls go to the core process unchanged, where the same dispatch (and edge validation)
 * `normlab serve` uses answers them; the main process keeps only the two native dialogs. Returns a function
 * that removes them.
 */
export function registerIpc(core: CoreForIpc, window: () => BrowserWindow | null): () => void {
  ipcMain.handle(IPC.call, (event, method: unknown, args: unknown) => {
    if (!fromTrustedFrame(event.sender, window, event.senderFrame?.url)) return UNTRUSTED;
    return reply(() => core.request(method, args));
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
    if (!win || event.sender !== win.webContents) return UNTRUSTED;
    const result = await dialog.showSaveDialog(win, {
      title: 'Export CSV',
      defaultPath: typeof suggestedName === 'string' ? suggestedName : 'normlab.csv',
      filters: [{ name: 'CSV', extensions: ['csv'] }],
    });
    if (result.canceled || !result.filePath) return { ok: true, value: null };
    // the core writes the file, streamed from the store: a large metric history crosses no process boundary
    const outPath = result.filePath;
    return reply(() => core.exportCsvToFile(String(what), filter, outPath));
  });

  // the core already batches and coalesces (as the WebSocket does), so each batch goes on as it is
  const unsubscribe = core.onLive((events) => {
    const win = window();
    if (win && !win.isDestroyed()) win.webContents.send(IPC.live, events);
  });

  return () => {
    unsubscribe();
    for (const channel of [IPC.call, IPC.chooseFolder, IPC.saveCsv]) ipcMain.removeHandler(channel);
  };
}
