import type { RunStatus, RunSpec, WorkerEvent } from '../../../src-worker/protocol';
import type { LeaseHolder, LeaseRecord, LeaseResult } from '../../../src-main/store/lease';
import type { AttachableRun, ClaimedRun, SchedulerStore } from '../../../src-main/scheduler/scheduler-store';

export interface MemoryRun {
  id: number;
  spec: RunSpec;
  priority: number;
  status: RunStatus;
  owner: string | null;
  device: string | null;
  attempts: number;
  autoRetries: number;
  errorReason: string | null;
  checkpointDir: string | null;
  handle: string | null;
  events: WorkerEvent[];
}

/**
 * The experiment store as the scheduler sees it, in memory: the queue order (priority, then oldest), the
 * status changes, the lease and the optional executor-handle members the SQLite store does not have yet.
 * One instance shared by two policies plays one database file opened by two processes.
 */
export class MemorySchedulerStore implements SchedulerStore {
  readonly runs = new Map<number, MemoryRun>();
  private lease: LeaseRecord | null = null;
  private nextId = 1;
  flushes = 0;

  addRun(spec: RunSpec, priority = 0): number {
    const id = this.nextId++;
    this.runs.set(id, {
      id, spec, priority, status: 'queued', owner: null, device: null, attempts: 0, autoRetries: 0,
      errorReason: null, checkpointDir: null, handle: null, events: [],
    });
    return id;
  }

  run(id: number): MemoryRun {
    const run = this.runs.get(id);
    if (!run) throw new Error(`memory store: no run ${id}`);
    return run;
  }

  status(id: number): RunStatus {
    return this.run(id).status;
  }

  /** Another process took the lease (it judged this one dead). */
  stealLease(owner: string): void {
    this.lease = { owner, pid: 1, host: 'elsewhere', acquiredAt: Date.now(), heartbeatAt: Date.now() };
  }

  /** The holder stopped renewing long ago: it is dead to anyone who looks. */
  expireLease(): void {
    if (this.lease) this.lease = { ...this.lease, heartbeatAt: 0 };
  }

  leaseOwner(): string | null {
    return this.lease?.owner ?? null;
  }

  acquireLease(me: LeaseHolder, isDead: (holder: LeaseRecord) => boolean): LeaseResult {
    const now = Date.now();
    if (this.lease && this.lease.owner !== me.owner && !isDead(this.lease)) return { acquired: false, holder: this.lease };
    const acquiredAt = this.lease?.owner === me.owner ? this.lease.acquiredAt : now;
    this.lease = { ...me, acquiredAt, heartbeatAt: now };
    return { acquired: true, lease: this.lease };
  }

  renewLease(owner: string): boolean {
    if (this.lease?.owner !== owner) return false;
    this.lease = { ...this.lease, heartbeatAt: Date.now() };
    return true;
  }

  releaseLease(owner: string): void {
    if (this.lease?.owner === owner) this.lease = null;
  }

  claimNextRun(deviceId: string, owner: string): ClaimedRun | null {
    const next = [...this.runs.values()]
      .filter((r) => r.status === 'queued')
      .sort((a, b) => b.priority - a.priority || a.id - b.id)[0];
    if (!next) return null;
    Object.assign(next, { status: 'running', device: deviceId, owner, attempts: next.attempts + 1, errorReason: null });
    return { id: next.id, spec: next.spec, journalAck: { journal: null, seq: next.events.length } };
  }

  checkpointDirFor(runId: number, proposed: string): string {
    const run = this.run(runId);
    run.checkpointDir ??= proposed;
    return run.checkpointDir;
  }

  ingestEvent(runId: number, event: WorkerEvent): void {
    const run = this.run(runId);
    run.events.push(event);
    if (event.event === 'done' && run.status === 'running') this.leaveRunning(run, event.status);
  }

  flush(): void {
    this.flushes++;
  }

  markFailed(runId: number, reason: string): void {
    this.leaveRunning(this.run(runId), 'failed', reason);
  }

  failOrRetry(runId: number, reason: string, _stderrTail: string, maxRetries: number): boolean {
    const run = this.run(runId);
    this.leaveRunning(run, 'failed', reason);
    if (run.autoRetries >= maxRetries) return false;
    run.autoRetries++;
    return this.requeue(runId);
  }

  markCancelled(runId: number): void {
    this.leaveRunning(this.run(runId), 'cancelled');
  }

  markInterrupted(runId: number): void {
    this.leaveRunning(this.run(runId), 'interrupted');
  }

  cancelQueued(runId: number): boolean {
    const run = this.runs.get(runId);
    if (!run || (run.status !== 'queued' && run.status !== 'interrupted')) return false;
    run.status = 'cancelled';
    return true;
  }

  requeue(runId: number): boolean {
    const run = this.runs.get(runId);
    if (!run || run.status === 'queued' || run.status === 'running' || run.status === 'finished') return false;
    Object.assign(run, { status: 'queued', device: null, owner: null, handle: null, errorReason: null });
    return true;
  }

  isInterrupted(runId: number): boolean {
    return this.runs.get(runId)?.status === 'interrupted';
  }

  recoverInterrupted(owner: string): number {
    const runs = [...this.runs.values()];
    for (const run of runs) if (run.status === 'running' && run.owner !== owner) this.leaveRunning(run, 'interrupted');
    const interrupted = runs.filter((r) => r.status === 'interrupted');
    for (const run of interrupted) this.requeue(run.id);
    return interrupted.length;
  }

  hasQueued(): boolean {
    return [...this.runs.values()].some((r) => r.status === 'queued');
  }

  recordExecutorHandle(runId: number, handle: string): void {
    const run = this.run(runId);
    if (run.status === 'running') run.handle = handle;
  }

  attachableRuns(): AttachableRun[] {
    return [...this.runs.values()].flatMap((r) =>
      r.status === 'running' && r.handle !== null && r.device !== null
        ? [{ id: r.id, spec: r.spec, journalAck: { journal: null, seq: r.events.length }, unit: r.device, handle: r.handle }]
        : [],
    );
  }

  adoptRun(runId: number, owner: string): boolean {
    const run = this.runs.get(runId);
    if (run?.status !== 'running') return false;
    run.owner = owner;
    return true;
  }

  /** A status change that lost a race (the run already left `running`) is ignored, as the SQLite adapter does. */
  private leaveRunning(run: MemoryRun, status: RunStatus, reason: string | null = null): void {
    if (run.status !== 'running') return;
    Object.assign(run, { status, handle: null, errorReason: reason });
  }
}
