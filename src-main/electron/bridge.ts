/**
 * The names shared by the preload and the main process. Kept free of imports so the sandboxed preload
 * bundle stays tiny.
 */
export const IPC = {
  call: 'normlab:call',
  live: 'normlab:live',
  chooseFolder: 'normlab:choose-folder',
  saveCsv: 'normlab:save-csv',
} as const;

/** Every IPC reply: errors travel as data, since Electron flattens thrown errors into a message string. */
export type IpcReply<T = unknown> = { ok: true; value: T } | { ok: false; error: { code: string; message: string; problems: string[] } };
