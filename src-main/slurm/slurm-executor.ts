import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DoneStatus, EpochMetrics, FinalMetrics, WorkerEvent } from '../../src-worker/protocol';
import type { JournaledEvent } from '../../src-worker/train/journal';
import type { CapacityUnit, Executor, ExecutorRun, RunEnd, RunLaunch, RunObserver, UnitView } from '../scheduler/executor';
import { describeEnding, endedFromOutside, type JobState } from './job-states';
import { JOB_OUTPUT_PATTERN, JOB_RECORD_FILE, JOB_SCRIPT_FILE, jobOutputPath, jobScript, RUN_INPUT_FILE } from './job-script';
import { JournalTailer } from './journal-tailer';
import { SlurmClient, type SlurmJobOptions } from './slurm-client';

/** progress.json, as src-worker/batch-main.ts writes it (kept here too: src-main does not import worker entries). */
export const PROGRESS_FILE = 'progress.json';

export interface SlurmExecutorOptions extends SlurmJobOptions {
  /** At most this many of our jobs queued or running at once (default 50), so a big sweep does not flood Slurm. */
  maxJobs?: number;
  /** How often squeue is asked and the journals read (default 2000 ms). */
  pollMs?: number;
  client?: SlurmClient;
  /** The node binary on the compute nodes (default `node`). */
  node?: string;
  workerEntry?: string;
  /** Shell lines the job script runs before the worker (`module load nodejs/20`). */
  setup?: string[];
  signalBeforeLimitS?: number;
  /**
   * How long a job that ended without a `done` in its journal is given for the last lines to show up (a shared
   * file system's attribute cache can lag the node that wrote them); default 3000 ms.
   */
  settleMs?: number;
  /**
   * How long a PREEMPTED or NODE_FAIL job is watched for Slurm's own requeue (`--requeue`) before the run is given
   * up on and resubmitted; default 30 000 ms. Resubmitting sooner would train the run twice once Slurm requeues.
   */
  requeueGraceMs?: number;
  /** Told once per submission (or adoption of a queued job), for `--json`'s `{"event": "submitted", "jobId": …}`. */
  onSubmitted?: (runId: number, jobId: string) => void;
  /** Told when a run's job starts on a node (again after a requeue), so the node becomes the run's device. */
  onNode?: (runId: number, node: string) => void;
  /** Told when a run's job waits with a new reason (Resources, Priority, QOSMaxJobs…), for progress output. */
  onPending?: (runId: number, jobId: string, reason: string) => void;
}

/** What the UI and CLI show for a run in Slurm: its job, the state, why it waits, where it runs. */
export interface SlurmRunStatus {
  runId: number;
  jobId: string | null;
  state: string;
  reason: string | null;
  nodes: string | null;
}

const NO_METRICS: FinalMetrics = { test_acc: 0, test_acc5: 0, test_loss: 0, train_loss: 0, train_acc: 0, best_test_acc: 0, epochs_completed: 0 };
const OUTPUT_TAIL_CHARS = 4000;

/**
 * Runs each run as one Slurm batch job (submitit's SlurmExecutor, behind NormLab's Executor contract). The job's
 * worker writes its journal on shared storage; this executor tails it and forwards the events in order, so the
 * manager needs no connection to the nodes, and a restarted manager re-attaches by job id and loses nothing.
 *
 * How Slurm's endings become run outcomes (the policy records them):
 * - the journal's own `done` (finished, diverged, failed, cancelled) is forwarded as soon as it is read;
 * - a journaled `interrupted` (the worker got SIGTERM: the time limit is near, a preemption) is held until the
 *   job is over: a job Slurm requeues (`--requeue`, after a node failure or preemption) comes back pending and
 *   continues the same run, so the held event is dropped; a job that ended is reported interrupted, which the
 *   policy resumes by submitting it again;
 * - a CANCELLED job (scancel, by us or by hand) ends the run `cancelled`, with the metrics it reached;
 * - a job that ended with no `done` (a bad module load, the OOM killer) settles without one: `killed` when it was
 *   stopped from outside (TIMEOUT, NODE_FAIL, PREEMPTED) so it is retried from its checkpoint, and the tail of
 *   its Slurm output file as the reason.
 */
export class SlurmExecutor implements Executor {
  private readonly client: SlurmClient;
  private readonly labels: string[];
  private readonly runs = new Map<string, SlurmRun>();
  private timer: NodeJS.Timeout | null = null;
  private polling = false;
  /** The last poll's failure (squeue unreachable), cleared by the next good poll. */
  lastPollError: string | null = null;

  constructor(private readonly opts: SlurmExecutorOptions = {}) {
    this.client = opts.client ?? new SlurmClient();
    const maxJobs = opts.maxJobs ?? 50;
    if (!Number.isInteger(maxJobs) || maxJobs < 1) throw new Error(`SlurmExecutor: maxJobs must be a positive integer, got ${maxJobs}`);
    this.labels = Array.from({ length: maxJobs }, (_, i) => `slurm#${i + 1}`);
  }

  units(): UnitView[] {
    const extra = [...this.runs.keys()].filter((l) => !this.labels.includes(l));
    return [...this.labels, ...extra].map((label) => ({ label, device: null, runId: this.runs.get(label)?.runId ?? null }));
  }

  freeUnits(): CapacityUnit[] {
    return this.labels.filter((l) => !this.runs.has(l)).map((label) => ({ label, device: null }));
  }

  start(unit: string, launch: RunLaunch, observer: RunObserver): ExecutorRun {
    if (this.runs.has(unit)) throw new Error(`SlurmExecutor: unit ${unit} already holds run ${this.runs.get(unit)?.runId}`);
    const run = this.track(new SlurmRun(unit, launch, observer, this.client, this.opts, null));
    run.submit();
    return run;
  }

  /**
   * The job behind `handle` (a job id), watched again from the store's acknowledgement. It is returned even when
   * Slurm has forgotten the job: its journal may hold an outcome the store lacks, and the first poll settles it.
   */
  reattach(handle: string, unit: string, launch: RunLaunch, observer: RunObserver): ExecutorRun | null {
    if (!/^\d+(_\d+)?$/.test(handle)) return null;
    // the recorded unit may be the node the job ran on (its device): the run takes one of our places again, so
    // re-attached runs count against maxJobs like the ones submitted now
    const ours = this.labels.includes(unit) && !this.runs.has(unit);
    const label = ours ? unit : (this.freeUnits()[0]?.label ?? `slurm#re-${launch.runId}`);
    const run = this.track(new SlurmRun(label, launch, observer, this.client, this.opts, handle));
    // events only after reattach returns (executor.ts): the policy adopts the run first, or kills it
    setImmediate(() => run.sayReattached());
    return run;
  }

  running(): ExecutorRun[] {
    return [...this.runs.values()];
  }

  anticipate(): void {
    // nothing to prepare: Slurm starts the processes
  }

  /** Each run's job as the last poll saw it. */
  statuses(): SlurmRunStatus[] {
    return [...this.runs.values()].map((r) => r.status());
  }

  /** One poll now (tests, and callers that want fresh states without waiting for the timer). */
  async pollNow(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      const ids = [...this.runs.values()].flatMap((r) => (r.jobId ? [r.jobId] : []));
      let states = new Map<string, JobState>();
      try {
        states = await this.client.poll(ids);
        this.lastPollError = null;
      } catch (err) {
        // the controller may be restarting: keep the runs, read their journals, and ask again next poll
        this.lastPollError = err instanceof Error ? err.message : String(err);
      }
      for (const run of [...this.runs.values()]) run.observe(run.jobId ? states.get(run.jobId) : undefined);
    } finally {
      this.polling = false;
    }
  }

  private track(run: SlurmRun): SlurmRun {
    this.runs.set(run.unit, run);
    void run.ended.then(() => {
      if (this.runs.get(run.unit) === run) this.runs.delete(run.unit);
      if (this.runs.size === 0 && this.timer) {
        clearInterval(this.timer);
        this.timer = null;
      }
    });
    // a live job keeps the manager's event loop alive, as a child process would
    this.timer ??= setInterval(() => void this.pollNow(), this.opts.pollMs ?? 2000);
    return run;
  }
}

class SlurmRun implements ExecutorRun {
  readonly runId: number;
  readonly ended: Promise<RunEnd>;
  readonly pid = null;
  private settle!: (end: RunEnd) => void;
  private settled = false;
  private readonly runDir: string;
  private readonly tailer: JournalTailer;
  private state: JobState | null = null;
  private submitting = false;
  private stopWanted: 'cancel' | 'kill' | 'interrupt' | null = null;
  private heldInterrupted: JournaledEvent | null = null;
  private lastEpoch: { epoch: number; metrics: EpochMetrics } | null = null;
  private bestTestAcc = 0;
  private lastProgressAt = 0;
  private endedSince: number | null = null;
  private toldNode: string | null = null;
  private toldReason: string | null = null;

  constructor(
    readonly unit: string,
    private readonly launch: RunLaunch,
    private readonly observer: RunObserver,
    private readonly client: SlurmClient,
    private readonly opts: SlurmExecutorOptions,
    public jobId: string | null,
  ) {
    this.runId = launch.runId;
    const dir = launch.spec.checkpointDir;
    if (!dir) throw new Error(`SlurmExecutor: run ${launch.runId} has no checkpoint folder; the policy fixes one before it starts a run`);
    this.runDir = dir;
    this.tailer = new JournalTailer(dir, launch.journalAck);
    this.ended = new Promise((resolve) => (this.settle = resolve));
  }

  get phase(): 'pending' | 'running' {
    return this.state?.phase === 'running' ? 'running' : 'pending';
  }

  status(): SlurmRunStatus {
    return { runId: this.runId, jobId: this.jobId, state: this.state?.state ?? (this.jobId ? 'UNKNOWN' : 'SUBMITTING'), reason: this.state?.reason ?? null, nodes: this.state?.nodes ?? null };
  }

  /** Writes the run file and job script into the run folder, then adopts a job already queued for it or submits one. */
  submit(): void {
    this.submitting = true;
    const jobName = `normlab-run${this.runId}`;
    const scriptPath = join(this.runDir, JOB_SCRIPT_FILE);
    void (async () => {
      try {
        mkdirSync(this.runDir, { recursive: true });
        // an earlier attempt's record names a job that is over; until sbatch answers, the job is found by name
        rmSync(join(this.runDir, JOB_RECORD_FILE), { force: true });
        writeFileSync(join(this.runDir, RUN_INPUT_FILE), JSON.stringify({ spec: this.launch.spec, journalAck: this.launch.journalAck }));
        writeFileSync(scriptPath, jobScript({ runId: this.runId, runDir: this.runDir, node: this.opts.node, workerEntry: this.opts.workerEntry, setup: this.opts.setup }), { mode: 0o755 });
        // a manager killed between sbatch and recording the job id left the job queued: adopt it, submit nothing twice
        const queued = (await this.client.queuedByName(jobName).catch(() => [])).find((j) => j.workdir === this.runDir);
        this.jobId = queued?.jobId ?? (await this.client.submit({
          jobName, scriptPath, workdir: this.runDir, output: join(this.runDir, JOB_OUTPUT_PATTERN),
          partition: this.opts.partition, gres: this.opts.gres, time: this.opts.time, account: this.opts.account, qos: this.opts.qos,
          extra: this.opts.extra, signalBeforeLimitS: this.opts.signalBeforeLimitS,
        }));
        writeFileSync(join(this.runDir, JOB_RECORD_FILE), JSON.stringify({ runId: this.runId, jobId: this.jobId, submittedAt: new Date().toISOString() }));
        this.observer.onHandle(this.jobId);
        this.opts.onSubmitted?.(this.runId, this.jobId);
        this.forward({ event: 'log', level: 'info', message: queued ? `re-attached to Slurm job ${this.jobId}, already queued for this run` : `submitted as Slurm job ${this.jobId}` });
        if (this.stopWanted) await this.client.cancel(this.jobId).catch(() => undefined);
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        const stderr = (err as { stderr?: unknown }).stderr;
        this.finish({ sawDone: false, killed: false, summary: `could not submit run ${this.runId} to Slurm: ${message}`, stderrTail: typeof stderr === 'string' ? stderr : '' });
      } finally {
        this.submitting = false;
      }
    })();
  }

  /** The run's log says a new manager watches the job now (the store needs nothing else: the job id is recorded). */
  sayReattached(): void {
    if (this.stopWanted) return;
    this.forward({ event: 'log', level: 'info', message: 'a restarted manager re-attached to its Slurm job' });
  }

  cancel(): void {
    this.stop('cancel');
  }

  /**
   * A running job: SIGTERM to the batch shell only, so the worker checkpoints and ends interrupted and the job
   * completes. A job that has not started has nothing to checkpoint: it leaves the queue and the run stays
   * interrupted, to be submitted again on the next start (Ctrl-C must not cancel queued runs).
   */
  interrupt(): void {
    if (this.settled) return;
    if (this.state?.phase === 'running' && this.jobId) {
      void this.client.cancel(this.jobId, { signal: 'TERM', batchOnly: true }).catch(() => undefined);
      return;
    }
    this.stop('interrupt');
  }

  kill(): void {
    this.stop('kill');
  }

  private stop(how: 'cancel' | 'kill' | 'interrupt'): void {
    if (this.settled) return;
    if (this.stopWanted === null || this.stopWanted === 'interrupt') this.stopWanted = how;
    // scancel sends SIGTERM first (the worker checkpoints), SIGKILL after the cluster's KillWait
    if (this.jobId) void this.client.cancel(this.jobId).catch(() => undefined);
    else if (!this.submitting) this.finish({ sawDone: false, killed: false, summary: `run ${this.runId} was stopped before it was submitted`, stderrTail: '' });
  }

  /** One poll's look at the job (undefined: not asked, or the poll failed) and at the journal. */
  observe(state: JobState | undefined): void {
    if (this.settled) return;
    this.readJournal();
    if (this.settled || !state) return;
    const wasEnded = this.state?.phase === 'ended';
    this.state = state;
    if (state.phase !== 'ended') {
      // back in the queue after it had stopped: Slurm requeued it (node failure, preemption), the run goes on
      if (this.heldInterrupted && state.phase === 'pending') {
        this.heldInterrupted = null;
        this.forward({ event: 'log', level: 'warn', message: `Slurm requeued job ${state.jobId} (${state.reason ?? 'requeue'}); it resumes from its last checkpoint` });
      }
      this.endedSince = null;
      this.tell(state);
      if (state.phase === 'running') this.readProgress();
      return;
    }
    if (!wasEnded) this.endedSince = Date.now();
    this.onJobEnded(state);
  }

  private onJobEnded(state: JobState): void {
    if (state.ending === 'cancelled' && this.stopWanted === 'interrupt') {
      // taken out of the queue (or stopped as it started) to be resumed later, not cancelled
      if (this.heldInterrupted) this.forward(this.heldInterrupted);
      return this.finish({ sawDone: this.heldInterrupted !== null, killed: false, summary: describeEnding(state), stderrTail: '' });
    }
    if (state.ending === 'cancelled') {
      // a cancel by scancel, ours or a user's: the run ends cancelled with what it reached
      const metrics = this.heldInterrupted?.event === 'done' ? this.heldInterrupted.metrics : this.metricsSoFar();
      this.forward({ event: 'done', runId: this.runId, status: 'cancelled', metrics });
      return this.finish({ sawDone: true, killed: false, summary: describeEnding(state), stderrTail: '' });
    }
    const requeueable = state.ending === 'preempted' || state.ending === 'node_fail';
    if (requeueable && Date.now() - (this.endedSince ?? 0) < (this.opts.requeueGraceMs ?? 30_000)) return;
    if (this.heldInterrupted) {
      this.forward(this.heldInterrupted);
      return this.finish({ sawDone: true, killed: false, summary: describeEnding(state), stderrTail: '' });
    }
    // the journal may lag the job's end on a shared file system: wait a little for its last lines
    if (Date.now() - (this.endedSince ?? 0) < (this.opts.settleMs ?? 3000)) return;
    this.finish({
      sawDone: false,
      killed: state.ending !== null && (endedFromOutside(state.ending) || state.ending === 'gone'),
      summary: describeEnding(state),
      stderrTail: this.outputTail(state.jobId),
    });
  }

  private readJournal(): void {
    let events: JournaledEvent[];
    try {
      events = this.tailer.read();
    } catch (err) {
      this.forward({ event: 'log', level: 'error', message: `cannot read the journal of run ${this.runId}: ${err instanceof Error ? err.message : String(err)}` });
      return;
    }
    for (const event of events) {
      if (event.event === 'epoch') {
        this.lastEpoch = { epoch: event.epoch, metrics: event.metrics };
        this.bestTestAcc = Math.max(this.bestTestAcc, event.metrics.test_acc);
      }
      if (event.event === 'done') {
        if (event.status === 'interrupted') {
          this.heldInterrupted = event;
          continue;
        }
        this.heldInterrupted = null;
        this.forward(event);
        // the outcome is in: nothing the job does afterwards changes it
        this.finish({ sawDone: true, killed: false, summary: `Slurm job ${this.jobId ?? '?'} reported ${event.status satisfies DoneStatus}`, stderrTail: '' });
        return;
      }
      if (this.heldInterrupted) this.heldInterrupted = null;
      this.forward(event);
    }
  }

  private readProgress(): void {
    let progress: Extract<WorkerEvent, { event: 'progress' }> & { at?: number };
    try {
      progress = JSON.parse(readFileSync(join(this.runDir, PROGRESS_FILE), 'utf8')) as typeof progress;
    } catch {
      return; // not written yet, or being replaced right now
    }
    if (progress.event !== 'progress' || (progress.at ?? 0) <= this.lastProgressAt) return;
    this.lastProgressAt = progress.at ?? 0;
    const { at: _at, ...event } = progress;
    this.forward(event);
  }

  /** Logs the job's pending reason and node when they change, so the run's log says why it waits and where it ran. */
  private tell(state: JobState): void {
    if (state.phase === 'pending' && state.reason !== this.toldReason) {
      this.toldReason = state.reason;
      if (state.reason) {
        this.forward({ event: 'log', level: 'info', message: `Slurm job ${state.jobId} pending: ${state.reason}` });
        this.opts.onPending?.(this.runId, state.jobId, state.reason);
      }
    }
    if (state.phase === 'running' && state.nodes && state.nodes !== this.toldNode) {
      this.toldNode = state.nodes;
      this.toldReason = null;
      this.forward({ event: 'log', level: 'info', message: `Slurm job ${state.jobId} running on node ${state.nodes}` });
      this.opts.onNode?.(this.runId, state.nodes);
    }
  }

  private metricsSoFar(): FinalMetrics {
    if (!this.lastEpoch) return NO_METRICS;
    const m = this.lastEpoch.metrics;
    return {
      test_acc: m.test_acc, test_acc5: m.test_acc5, test_loss: m.test_loss, train_loss: m.train_loss, train_acc: m.train_acc,
      best_test_acc: this.bestTestAcc, epochs_completed: this.lastEpoch.epoch,
    };
  }

  private outputTail(jobId: string): string {
    try {
      return readFileSync(jobOutputPath(this.runDir, jobId), 'utf8').slice(-OUTPUT_TAIL_CHARS).trimEnd();
    } catch {
      return `(no Slurm output file ${jobOutputPath(this.runDir, jobId)})`;
    }
  }

  private forward(event: WorkerEvent): void {
    if (this.settled) return;
    this.observer.onEvent(event);
  }

  private finish(end: Omit<RunEnd, 'code' | 'signal'>): void {
    if (this.settled) return;
    this.settled = true;
    this.settle({ code: null, signal: null, ...end });
  }
}
