import { z } from 'zod';
import type { openAppBackend } from '../server/app-backend';
import type { ApiErrorBody } from '../server/dispatch';
import type { LiveEvent } from '../server/live-events';

/**
 * The messages between a host (Electron's main process, or any Node parent) and the core process, which owns
 * the store, the scheduler and the service. Plain data only: they cross a utilityProcess port or a Node IPC
 * channel with `serialization: 'advanced'`, both structured clone, so a reply arrives as the service built it.
 *
 * A host opens the core once, then calls API methods by name (validated in the core by the same dispatch HTTP
 * uses), hears batched live events, and finally asks it to shut down, which interrupts running workers so they
 * checkpoint and resume on the next start.
 */

const devicesSchema = z.strictObject({
  nvidiaSmi: z.string().min(1).optional(),
  slotsPerGpu: z.number().int().positive().optional(),
  cpuSlots: z.number().int().positive().optional(),
  timeoutMs: z.number().int().positive().optional(),
});

export const coreOpenOptionsSchema = z.strictObject({
  dbFile: z.string().min(1),
  checkpointRoot: z.string().min(1).optional(),
  dataDir: z.string().min(1).optional(),
  devices: devicesSchema.optional(),
  workerEntry: z.string().min(1).optional(),
  startScheduler: z.boolean().optional(),
  /** How long the core collects live events before sending one batch (250 ms by default). */
  liveIntervalMs: z.number().int().min(0).optional(),
});

export type CoreOpenOptions = z.output<typeof coreOpenOptionsSchema>;

// the core hands these options to openAppBackend as they are: a change there that they no longer fit fails here
type BackendOptions = Parameters<typeof openAppBackend>[0];
const _optionsFitBackend = (o: Omit<CoreOpenOptions, 'liveIntervalMs'>): BackendOptions => o;
void _optionsFitBackend;

const callId = z.number().int().nonnegative();

export const toCoreSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('open'), options: coreOpenOptionsSchema }),
  // method and args stay unchecked here: dispatchArgs checks them, with the same messages HTTP clients get
  z.strictObject({ type: z.literal('call'), id: callId, method: z.unknown(), args: z.unknown() }),
  // not an API method on purpose: only the host may name a path on disk (the renderer's calls cannot reach it)
  z.strictObject({ type: z.literal('exportCsvToFile'), id: callId, what: z.string(), filter: z.unknown(), outPath: z.string().min(1) }),
  z.strictObject({ type: z.literal('shutdown'), interruptRunning: z.boolean() }),
]);

export type ToCore = z.output<typeof toCoreSchema>;

export type CoreOpened = { type: 'opened'; pid: number; readOnly: boolean; dataDir: string };

export type FromCore =
  | CoreOpened
  | { type: 'open_failed'; error: ApiErrorBody }
  | { type: 'reply'; id: number; ok: true; value: unknown }
  | { type: 'reply'; id: number; ok: false; error: ApiErrorBody }
  | { type: 'live'; events: LiveEvent[] };

const FROM_CORE_TYPES: ReadonlySet<string> = new Set<FromCore['type']>(['opened', 'open_failed', 'reply', 'live']);

/**
 * A message the host may act on. Only the envelope is checked: the sender is our own core process, which built
 * the payload from typed values; a message failing this is a bug worth naming, not input to sanitise.
 */
export function isFromCore(message: unknown): message is FromCore {
  if (typeof message !== 'object' || message === null) return false;
  const type: unknown = Reflect.get(message, 'type');
  if (typeof type !== 'string' || !FROM_CORE_TYPES.has(type)) return false;
  return type !== 'reply' || typeof Reflect.get(message, 'id') === 'number';
}
