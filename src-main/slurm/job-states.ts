/**
 * Slurm's job states (squeue's %T, sacct's State, scontrol's JobState) as the executor needs them: is the job
 * waiting, training, or over, and if over, how. Unknown words are kept as they are and count as still active,
 * so a state a newer Slurm adds is never mistaken for an ending.
 */

export type JobPhase = 'pending' | 'running' | 'ended';

/** How an ended job ended; `gone` means Slurm no longer knows the job at all (purged, no accounting). */
export type JobEnding =
  | 'completed'
  | 'cancelled'
  | 'failed'
  | 'timeout'
  | 'node_fail'
  | 'preempted'
  | 'out_of_memory'
  | 'boot_fail'
  | 'deadline'
  | 'gone';

export interface JobState {
  jobId: string;
  /** The state word as Slurm printed it (CANCELLED, not "CANCELLED by 0"). */
  state: string;
  phase: JobPhase;
  ending: JobEnding | null;
  /** Why a pending job waits (Resources, Priority, QOSMaxJobsPerUserLimit, …); null when Slurm says None. */
  reason: string | null;
  /** The node(s) it runs or ran on; null while pending. */
  nodes: string | null;
  /** `code:signal` as sacct/scontrol print it; null where the source has none (squeue). */
  exitCode: string | null;
}

const PENDING = new Set(['PENDING', 'CONFIGURING', 'REQUEUED', 'REQUEUE_HOLD', 'REQUEUE_FED', 'RESV_DEL_HOLD']);
const RUNNING = new Set(['RUNNING', 'COMPLETING', 'SIGNALING', 'STAGE_OUT', 'SUSPENDED', 'STOPPED', 'RESIZING']);
const ENDINGS: Record<string, JobEnding> = {
  COMPLETED: 'completed',
  CANCELLED: 'cancelled',
  FAILED: 'failed',
  SPECIAL_EXIT: 'failed',
  REVOKED: 'cancelled',
  TIMEOUT: 'timeout',
  NODE_FAIL: 'node_fail',
  PREEMPTED: 'preempted',
  OUT_OF_MEMORY: 'out_of_memory',
  BOOT_FAIL: 'boot_fail',
  DEADLINE: 'deadline',
};

/** Slurm's abbreviations (squeue %t, some sacct setups) to the full words. */
const SHORT: Record<string, string> = {
  PD: 'PENDING', R: 'RUNNING', CG: 'COMPLETING', CD: 'COMPLETED', CA: 'CANCELLED', F: 'FAILED', TO: 'TIMEOUT',
  NF: 'NODE_FAIL', PR: 'PREEMPTED', OOM: 'OUT_OF_MEMORY', BF: 'BOOT_FAIL', DL: 'DEADLINE', CF: 'CONFIGURING',
  RQ: 'REQUEUED', RH: 'REQUEUE_HOLD', RF: 'REQUEUE_FED', RS: 'RESIZING', RV: 'REVOKED', SI: 'SIGNALING',
  SE: 'SPECIAL_EXIT', SO: 'STAGE_OUT', ST: 'STOPPED', S: 'SUSPENDED', RD: 'RESV_DEL_HOLD',
};

/** "CANCELLED by 1000" → CANCELLED; "cd" → COMPLETED. */
export function normalizeState(word: string): string {
  const first = word.trim().split(/\s+/)[0]?.replace(/\+$/, '').toUpperCase() ?? '';
  return SHORT[first] ?? first;
}

export function jobState(jobId: string, stateWord: string, fields: { reason?: string | null; nodes?: string | null; exitCode?: string | null } = {}): JobState {
  const state = normalizeState(stateWord);
  const ending = ENDINGS[state] ?? null;
  const phase: JobPhase = ending ? 'ended' : PENDING.has(state) ? 'pending' : RUNNING.has(state) ? 'running' : 'pending';
  return {
    jobId,
    state,
    phase,
    ending,
    reason: cleanReason(fields.reason),
    nodes: cleanNodes(fields.nodes),
    exitCode: fields.exitCode?.trim() || null,
  };
}

/** A job Slurm has forgotten: neither squeue nor sacct/scontrol knows it any more. */
export function goneJob(jobId: string): JobState {
  return { jobId, state: 'UNKNOWN', phase: 'ended', ending: 'gone', reason: null, nodes: null, exitCode: null };
}

function cleanReason(reason: string | null | undefined): string | null {
  const r = reason?.trim().replace(/^\(|\)$/g, '');
  return r && r !== 'None' && r !== '(null)' ? r : null;
}

function cleanNodes(nodes: string | null | undefined): string | null {
  const n = nodes?.trim();
  return n && n !== '(null)' && n !== 'None assigned' && !n.startsWith('(') ? n : null;
}

/** For a failure reason: "Slurm job 12 ended TIMEOUT (exit code 0:15) on node gpu03". */
export function describeEnding(s: JobState): string {
  if (s.ending === 'gone') return `Slurm job ${s.jobId} is no longer known to Slurm (purged, and no accounting to ask)`;
  const exit = s.exitCode && s.exitCode !== '0:0' ? ` (exit code ${s.exitCode})` : '';
  const where = s.nodes ? ` on node ${s.nodes}` : '';
  return `Slurm job ${s.jobId} ended ${s.state}${exit}${where}`;
}

/**
 * Whether the job was stopped from outside rather than by a fault of its own: worth another try from its last
 * checkpoint. Out of memory is not: the same request would run out again.
 */
export function endedFromOutside(ending: JobEnding): boolean {
  return ending === 'timeout' || ending === 'node_fail' || ending === 'preempted' || ending === 'boot_fail';
}
