/** Exit status after an interrupt, as shells report a process killed by SIGINT (128 + 2). */
export const EXIT_INTERRUPTED = 130;

export interface StopSignals {
  /** Whether a first signal has come. */
  stopping(): boolean;
  dispose(): void;
}

/**
 * Ctrl-C (SIGINT) or SIGTERM means "stop for now": the first calls `onFirst`, which starts a graceful stop
 * (workers checkpoint, the server closes); a second exits at once with `exitCode`. The one way the long-running
 * commands treat signals, so a user's second Ctrl-C always works.
 */
export function handleStopSignals(onFirst: () => void, exitCode = EXIT_INTERRUPTED): StopSignals {
  let stopping = false;
  const handler = () => {
    if (stopping) process.exit(exitCode);
    stopping = true;
    onFirst();
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return {
    stopping: () => stopping,
    dispose() {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    },
  };
}
