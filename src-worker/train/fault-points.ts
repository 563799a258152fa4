import { writeFileSync } from 'node:fs';
import { pidAlive } from '../pid-alive';

/**
 * Fault injection for crash tests: with NORMLAB_FAULT_AT=<phase>:<epoch> a worker stops at that point of that epoch
 * (the first time it gets there), writes NORMLAB_FAULT_MARKER so a test knows it is there, and holds until its
 * parent process is gone (or NORMLAB_FAULT_HOLD_MS passes), so the test can kill the parent, or the whole process
 * group, at exactly that moment. Unset (always, outside tests) it costs one comparison.
 *
 *   train       after the first training batch of the epoch
 *   eval        after the first evaluation batch
 *   report      after the epoch's metrics are in the journal, before they are sent to the parent
 *   checkpoint  after a checkpoint's temporary file is written and fsynced, before it is renamed into place
 */
export type FaultPhase = 'train' | 'eval' | 'report' | 'checkpoint';

const wanted = process.env.NORMLAB_FAULT_AT;
let fired = false;

/** Synchronous on purpose: the checkpoint writer is synchronous, and a held point must not let anything else run. */
export function faultPoint(phase: FaultPhase, epoch: number): void {
  if (wanted === undefined || fired || wanted !== `${phase}:${epoch}`) return;
  fired = true;
  const marker = process.env.NORMLAB_FAULT_MARKER;
  if (marker) writeFileSync(marker, `${process.pid} ${phase}:${epoch}\n`);
  const holdMs = Number(process.env.NORMLAB_FAULT_HOLD_MS ?? 20_000);
  const ppid = process.ppid;
  const deadline = Date.now() + holdMs;
  const sleeper = new Int32Array(new SharedArrayBuffer(4));
  while (Date.now() < deadline && pidAlive(ppid)) Atomics.wait(sleeper, 0, 0, 20);
}
