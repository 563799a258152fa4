import { app, BrowserWindow, dialog, session, shell } from 'electron';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openAppBackend, type AppBackend } from '../server/app-backend';
import { CONTENT_SECURITY_POLICY } from '../server/static-files';
import { registerIpc } from './ipc';

/**
 * The desktop shell: one window, one backend (store + scheduler + service) in this process, workers as plain
 * Node child processes (ELECTRON_RUN_AS_NODE, started by the scheduler). Nothing here that the CLI lacks.
 */
const here = fileURLToPath(new URL('.', import.meta.url));
let mainWindow: BrowserWindow | null = null;
let backend: AppBackend | null = null;
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
    backend = await openAppBackend({
      dbFile: join(home, 'normlab.db'),
      checkpointRoot: join(home, 'checkpoints'),
      dataDir: join(home, 'data'),
    });
    removeIpc = registerIpc(backend.api, backend.live, () => mainWindow);
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
    if (quitting || !backend) return;
    // running workers checkpoint before the app goes, so their runs resume on the next start
    event.preventDefault();
    quitting = true;
    removeIpc?.();
    void backend.close({ interruptRunning: true }).finally(() => app.quit());
  });
}
