import type { FromCore } from './protocol';

/** The core's side of the channel to its host, whichever kind of process it was started as. */
export interface ParentLink {
  readonly kind: 'utility' | 'node';
  send(message: FromCore): void;
  onMessage(listener: (message: unknown) => void): void;
  /** The host went away (a Node parent died or closed the channel); never fires for a utilityProcess. */
  onDisconnect(listener: () => void): void;
  /** Resolves once every message sent so far has left this process, so exiting next loses none of them. */
  drain(): Promise<void>;
}

/** What this module needs of Electron's `process.parentPort`, checked at run time rather than typed from Electron. */
interface PortLike {
  postMessage(message: unknown): void;
  on(event: 'message', listener: (event: { data: unknown }) => void): unknown;
}

function isPortLike(value: unknown): value is PortLike {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof Reflect.get(value, 'postMessage') === 'function' &&
    typeof Reflect.get(value, 'on') === 'function'
  );
}

function utilityLink(port: PortLike): ParentLink {
  return {
    kind: 'utility',
    send: (message) => port.postMessage(message),
    onMessage: (listener) => {
      port.on('message', (event) => listener(event.data));
    },
    // Electron ends a utility process together with its parent, so there is no orphan to notice
    onDisconnect: () => {},
    // postMessage hands the message to Electron's own channel at once; a turn of the loop lets it go out
    drain: () => new Promise((resolve) => setImmediate(resolve)),
  };
}

function nodeLink(): ParentLink {
  let inFlight = 0;
  let waiting: (() => void)[] = [];
  const settle = () => {
    inFlight--;
    if (inFlight > 0) return;
    for (const resolve of waiting.splice(0)) resolve();
  };
  return {
    kind: 'node',
    send(message) {
      if (!process.connected || !process.send) return;
      inFlight++;
      try {
        process.send(message, settle);
      } catch (error) {
        settle();
        throw error;
      }
    },
    onMessage: (listener) => {
      process.on('message', (message: unknown) => listener(message));
    },
    onDisconnect: (listener) => {
      process.once('disconnect', listener);
    },
    drain: () => (inFlight === 0 ? Promise.resolve() : new Promise((resolve) => (waiting = [...waiting, resolve]))),
  };
}

/**
 * The channel this process was started with: Electron's `process.parentPort` in a utilityProcess, the IPC
 * channel of `child_process.fork` otherwise.
 */
export function connectToParent(): ParentLink {
  const port: unknown = Reflect.get(process, 'parentPort');
  if (isPortLike(port)) return utilityLink(port);
  if (process.send) return nodeLink();
  throw new Error(
    'the NormLab core process has no channel to a host: start it with CoreClient (child_process.fork with an IPC channel) or as an Electron utilityProcess',
  );
}
