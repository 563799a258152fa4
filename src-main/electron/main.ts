import { app, BrowserWindow, dialog, session, shell } from 'electron';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CORE_ENTRY } from '../core/core-channel';
import { CoreClient, type CoreEnd } from '../core/core-client';
import { CONTENT_SECURITY_POLICY } from '../server/static-files';
import { registerIpc } from './ipc';
import { forkUtilityCore } from './utility-core';

/**
 * The desktop shell: one window, its dialogs and IPC forwarding, nothing else. The core (store + scheduler +
 * service, synchronous SQLite included) runs in a utilityProcess (src-main/core/core-process.ts), which forks the
 * training workers itself; so a long export or a burst of metric writes never freezes the window.
 */
const here = fileURLToPath(new URL('.', import.meta.url));
let mainWindow: BrowserWindow | null = null;
let core: CoreClient | null = null;
let removeIpc: (() => void) | null = null;

/** NORMLAB_HOME overrides where the DB, checkpoints and downloaded data live (userData by default). */
function homeDir(): string {
  return process.env.NORMLAB_HOME ?? app.getPath('userData');
}

function createWindow(): BrowserWindow {
  const win = new BrowserWindow({
    width: 1400,
    height: 900,
    minWidth: 900,
    minHeight: 600,
    title: 'NormLab',
    show: false,
    icon: join(here, '../../resources/icon.png'),
    webPreferences: {
      preload: join(here, '../preload/index.cjs'),
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      webSecurity: true,
      spellcheck: false,
    },
  });
  win.once('ready-to-show', () => win.show());
  // links to papers or docs open in the system browser; the window itself never navigates away
  win.webContents.setWindowOpenHandler(({ url }) => {
    if (/^https?:\/\//.test(url)) void shell.openExternal(url);
    return { action: 'deny' };
  });
  win.webContents.on('will-navigate', (event, url) => {
    if (url !== win.webContents.getURL()) event.preventDefault();
  });
  const devUrl = process.env.ELECTRON_RENDERER_URL; // set by `electron-vite dev`
  if (devUrl) void win.loadURL(devUrl);
  else void win.loadFile(join(here, '../renderer/index.html'));
  return win;
}

/**
 * The core died on its own. The window's calls already fail with the reason (the IPC handlers stay, so they are
 * rejected rather than left unanswered); this says so once, and offers a fresh start, which recovers the runs
 * it was training (their workers stop when their parent is gone; the next scheduler resumes them).
 */
async function reportDeadCore(end: CoreEnd): Promise<void> {
  const options = {
    type: 'error' as const,
    title: 'NormLab stopped working',
    message: 'The NormLab core process (store and scheduler) stopped unexpectedly.',
    detail: `${end.message}\n\nRuns it was training resume when NormLab starts again.`,
    buttons: ['Restart NormLab', 'Quit'],
    defaultId: 0,
    cancelId: 1,
  };
  const win = mainWindow && !mainWindow.isDestroyed() ? mainWindow : null;
  const { response } = win ? await dialog.showMessageBox(win, options) : await dialog.showMessageBox(options);
  if (response === 0) app.relaunch();
  app.exit(1);
}

if (!app.requestSingleInstanceLock()) {
  // a second NormLab would run its own scheduler on the same store; hand over to the first one instead
  app.quit();
} else {
  app.on('second-instance', () => {
    if (!mainWindow) return;
    if (mainWindow.isMinimized()) mainWindow.restore();
    mainWindow.focus();
  });

  app.whenReady().then(async () => {
    // the strict policy as a header too, so it also holds for anything not covered by the page's meta tag
    // (in dev the Vite server needs its inline HMR client, so the header is only set for the built app)
    if (!process.env.ELECTRON_RENDERER_URL) {
      session.defaultSession.webRequest.onHeadersReceived((details, callback) => {
        callback({ responseHeaders: { ...details.responseHeaders, 'Content-Security-Policy': [CONTENT_SECURITY_POLICY] } });
      });
    }
    session.defaultSession.setPermissionRequestHandler((_wc, _permission, callback) => callback(false));

    const home = homeDir();
    // out/main/core-process.js: built beside this file by electron-vite, in `npm start` as in the packaged app
    core = new CoreClient(forkUtilityCore(CORE_ENTRY));
    await core.open({
      dbFile: join(home, 'normlab.db'),
      checkpointRoot: join(home, 'checkpoints'),
      dataDir: join(home, 'data'),
    });
    // from here on a dead core is a dialog; one that dies while opening is the start-up error below
    core.onEnd((end) => {
      if (!end.expected) void reportDeadCore(end);
    });
    removeIpc = registerIpc(core, () => mainWindow);
    mainWindow = createWindow();
    mainWindow.on('closed', () => {
      mainWindow = null;
    });
  }).catch((err: unknown) => {
    dialog.showErrorBox('NormLab could not start', err instanceof Error ? err.message : String(err));
    app.exit(1);
  });

  app.on('window-all-closed', () => app.quit());

  let quitting = false;
  app.on('before-quit', (event) => {
    if (quitting || !core) return;
    // running workers checkpoint before the app goes, so their runs resume on the next start
    event.preventDefault();
    quitting = true;
    removeIpc?.();
    void core.shutdown({ interruptRunning: true }).finally(() => app.quit());
  });
}
