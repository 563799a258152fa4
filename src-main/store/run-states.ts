import type { RunStatus } from '../../src-worker/protocol';

/**
 * The one state machine of a run: its statuses, the transitions the store accepts, and what a user may do in
 * each status. The store's transition methods take their `from` lists from here, and the renderer derives its
 * buttons from `allowedActions`, so the rule is written once. Pure data and functions (no Node imports): the
 * renderer bundles this file.
 */

export type { RunStatus };

/** Every status, in the order the UI lists them (the same set as the CHECK on runs.status in migrations.ts). */
export const RUN_STATUSES: readonly RunStatus[] = Object.freeze([
  'queued', 'running', 'finished', 'failed', 'diverged', 'cancelled', 'interrupted',
] as const);

/** For each target status, the statuses a run may come from. */
export const TRANSITION_SOURCES: Readonly<Record<RunStatus, readonly RunStatus[]>> = Object.freeze({
  /** requeue: a retry by the user, an automatic retry after a kill, a resume after an interruption */
  queued: Object.freeze(['interrupted', 'failed', 'cancelled', 'diverged'] as RunStatus[]),
  /** claimed by a scheduler or started as a one-off run */
  running: Object.freeze(['queued'] as RunStatus[]),
  finished: Object.freeze(['running'] as RunStatus[]),
  /** a crashed worker, or a spec that fails before it starts */
  failed: Object.freeze(['running', 'queued'] as RunStatus[]),
  diverged: Object.freeze(['running'] as RunStatus[]),
  cancelled: Object.freeze(['queued', 'running', 'interrupted'] as RunStatus[]),
  interrupted: Object.freeze(['running'] as RunStatus[]),
});

/** What a user may ask for: `retry` puts the run back in the queue, `cancel` stops or drops it. */
export type RunAction = 'retry' | 'cancel';

/** The status each action moves a run to; an action is allowed exactly when that transition is. */
export const ACTION_TARGETS: Readonly<Record<RunAction, RunStatus>> = Object.freeze({ retry: 'queued', cancel: 'cancelled' });

const ACTIONS: readonly RunAction[] = ['retry', 'cancel'];

export function isRunStatus(value: unknown): value is RunStatus {
  return typeof value === 'string' && (RUN_STATUSES as readonly string[]).includes(value);
}

/** The statuses a run may move to `to` from. */
export function transitionSources(to: RunStatus): readonly RunStatus[] {
  return TRANSITION_SOURCES[to];
}

export function canTransition(from: RunStatus, to: RunStatus): boolean {
  return TRANSITION_SOURCES[to].includes(from);
}

/** The actions a user may take on a run in `status`, in a fixed order (retry, cancel). */
export function allowedActions(status: RunStatus): RunAction[] {
  return ACTIONS.filter((a) => canTransition(status, ACTION_TARGETS[a]));
}

export function canDo(status: RunStatus, action: RunAction): boolean {
  return canTransition(status, ACTION_TARGETS[action]);
}

/** The retry button's label: a stopped run resumes from its checkpoint, a failed or diverged one is retried. */
export function retryLabel(status: RunStatus): 'Retry' | 'Resume' {
  return status === 'failed' || status === 'diverged' ? 'Retry' : 'Resume';
}
