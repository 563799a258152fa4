import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';
import { IPC, type IpcReply } from './bridge';

/**
 * The whole surface the renderer gets: a method call into the typed API, live event batches, and two native
 * dialogs. No Node, no ipcRenderer, no arbitrary channels. The renderer wraps `call` into the typed client
 * (src-renderer/api/client.ts).
 */
const bridge = {
  kind: 'electron' as const,
  call: (method: string, args: unknown[]): Promise<IpcReply> => ipcRenderer.invoke(IPC.call, method, args),
  onLive(listener: (events: unknown[]) => void): () => void {
    const handler = (_e: IpcRendererEvent, events: unknown[]) => listener(events);
    ipcRenderer.on(IPC.live, handler);
    return () => {
      ipcRenderer.removeListener(IPC.live, handler);
    };
  },
  chooseFolder: (title: string): Promise<string | null> => ipcRenderer.invoke(IPC.chooseFolder, title),
  saveCsv: (what: string, filter: unknown, suggestedName: string): Promise<IpcReply<{ rows: number; path: string } | null>> =>
    ipcRenderer.invoke(IPC.saveCsv, what, filter, suggestedName),
};

export type ElectronBridge = typeof bridge;

contextBridge.exposeInMainWorld('normlab', bridge);
