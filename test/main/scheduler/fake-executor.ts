import type { DoneStatus, EpochMetrics, WorkerEvent } from '../../../src-worker/protocol';
import type {
  CapacityUnit, Executor, ExecutorRun, RunEnd, RunLaunch, RunObserver, UnitView,
} from '../../../src-main/scheduler/executor';

/** A run's worker in the fake: it does nothing by itself; the test says what it reports and how it ends. */
export class FakeJob {
  /** What the policy asked of it, in order. */
  readonly requests: ('cancel' | 'interrupt' | 'kill')[] = [];
  alive = true;
  private resolveEnd: (end: RunEnd) => void = () => {};
  ended: Promise<RunEnd> = new Promise((resolve) => (this.resolveEnd = resolve));

  constructor(
    readonly handle: string,
    readonly launch: RunLaunch,
    public observer: RunObserver,
    /** Whether it checkpoints and stops when asked to, as a real worker does (false: it hangs). */
    readonly obeys: boolean,
  ) {}

  get runId(): number {
    return this.launch.runId;
  }

  emit(event: WorkerEvent): void {
    if (!this.alive) throw new Error(`fake job ${this.handle} (run ${this.runId}) has ended; it cannot emit ${event.event}`);
    this.observer.onEvent(event);
  }

  epoch(epoch: number, testAcc: number): void {
    const metrics: EpochMetrics = {
      train_loss: 1, train_acc: testAcc, test_loss: 1, test_acc: testAcc, test_acc5: testAcc, lr: 0.1,
      epoch_time_s: 1, images_per_s: 100, num_tensors: 10,
    };
    this.emit({ event: 'epoch', epoch, metrics });
  }

  /** Reports `done` with this status and exits cleanly. */
  finish(status: DoneStatus = 'finished'): void {
    const metrics = { test_acc: 0.5, test_acc5: 0.9, test_loss: 1, train_loss: 1, train_acc: 0.5, best_test_acc: 0.5, epochs_completed: 1 };
    this.emit({ event: 'done', status, metrics });
    this.end({ code: 0, signal: null, stderrTail: '', sawDone: true, killed: false, summary: 'worker process exited with code 0' });
  }

  /** Exits with an error of its own (a crash: not worth an automatic retry). */
  crash(code = 1): void {
    this.end({ code, signal: null, stderrTail: 'Error: boom', sawDone: false, killed: false, summary: `worker process exited with code ${code}` });
  }

  /** Killed from outside (the OOM killer, a preempted job). */
  killFromOutside(): void {
    this.end({ code: null, signal: 'SIGKILL', stderrTail: '', sawDone: false, killed: true, summary: 'worker process killed by SIGKILL' });
  }

  request(what: 'cancel' | 'interrupt' | 'kill'): void {
    this.requests.push(what);
    if (!this.alive) return;
    if (what === 'kill') this.killFromOutside();
    else if (this.obeys) this.finish(what === 'cancel' ? 'cancelled' : 'interrupted');
  }

  private end(end: RunEnd): void {
    if (!this.alive) return;
    this.alive = false;
    this.resolveEnd(end);
  }
}

/** Where fake jobs live: shared by two executors it plays a cluster whose jobs outlive their manager. */
export class FakeCluster {
  readonly jobs = new Map<string, FakeJob>();
  /** Every start, in order: a run started twice shows up twice. */
  readonly submissions: number[] = [];
  private nextJob = 1;

  submit(launch: RunLaunch, observer: RunObserver, obeys: boolean): FakeJob {
    const job = new FakeJob(`job-${this.nextJob++}`, launch, observer, obeys);
    this.jobs.set(job.handle, job);
    this.submissions.push(launch.runId);
    return job;
  }

  /** The newest job of a run. */
  jobOf(runId: number): FakeJob {
    const jobs = [...this.jobs.values()].filter((j) => j.runId === runId);
    const job = jobs[jobs.length - 1];
    if (!job) throw new Error(`fake cluster: run ${runId} was never started`);
    return job;
  }
}

export interface FakeExecutorOptions {
  units: number;
  cluster?: FakeCluster;
  /** Runs outlive their manager and carry a handle (a cluster); false: child processes (no handle). */
  reattachable?: boolean;
  /** The start of this run throws, with this message. */
  refuse?: (launch: RunLaunch) => string | null;
  /** Whether jobs checkpoint and stop when asked (default true). */
  obeys?: boolean;
}

/** An in-memory executor: deterministic, no processes, each unit `u0`, `u1`, … takes one run. */
export class FakeExecutor implements Executor {
  readonly cluster: FakeCluster;
  private readonly placed = new Map<string, { unit: string; job: FakeJob; run: ExecutorRun }>();
  readonly anticipated: boolean[] = [];
  private readonly labels: string[];
  private severed = false;
  private readonly handlesReported: Promise<void>[] = [];
  /** Present only when runs outlive their manager, as the contract says. */
  readonly detach?: () => Promise<void>;

  constructor(private readonly opts: FakeExecutorOptions) {
    this.cluster = opts.cluster ?? new FakeCluster();
    this.labels = Array.from({ length: opts.units }, (_, i) => `u${i}`);
    if (opts.reattachable) {
      this.detach = async () => {
        await Promise.all(this.handlesReported);
        this.sever();
      };
    }
  }

  units(): UnitView[] {
    return this.labels.map((label) => ({ label, device: null, runId: this.onUnit(label)?.job.runId ?? null }));
  }

  freeUnits(): CapacityUnit[] {
    return this.labels.filter((l) => !this.onUnit(l)).map((label) => ({ label, device: null }));
  }

  start(unit: string, launch: RunLaunch, observer: RunObserver): ExecutorRun {
    if (!this.labels.includes(unit)) throw new Error(`fake executor: no unit ${unit}`);
    if (this.onUnit(unit)) throw new Error(`fake executor: unit ${unit} is busy`);
    const refusal = this.opts.refuse?.(launch);
    if (refusal) throw new Error(refusal);
    const job = this.cluster.submit(launch, observer, this.opts.obeys ?? true);
    // a cluster's job id arrives after the submission returns, as `sbatch` answers
    if (this.opts.reattachable) {
      this.handlesReported.push(new Promise((resolve) => setImmediate(() => resolve(observer.onHandle(job.handle)))));
    }
    return this.track(unit, job);
  }

  reattach(handle: string, unit: string, launch: RunLaunch, observer: RunObserver): ExecutorRun | null {
    if (!this.opts.reattachable) return null;
    const job = this.cluster.jobs.get(handle);
    if (!job?.alive || job.runId !== launch.runId) return null;
    job.observer = observer;
    return this.track(unit, job);
  }

  running(): ExecutorRun[] {
    return [...this.placed.values()].map((p) => p.run);
  }

  anticipate(moreQueued: boolean): void {
    this.anticipated.push(moreQueued);
  }

  /** The manager process died: nothing of it hears from its jobs again, while the jobs keep going. */
  sever(): void {
    this.severed = true;
  }

  private onUnit(unit: string) {
    return [...this.placed.values()].find((p) => p.unit === unit);
  }

  private track(unit: string, job: FakeJob): ExecutorRun {
    const run: ExecutorRun = {
      runId: job.runId,
      unit,
      phase: 'running',
      pid: null,
      cancel: () => job.request('cancel'),
      interrupt: () => job.request('interrupt'),
      kill: () => job.request('kill'),
      ended: new Promise<RunEnd>((resolve) => {
        void job.ended.then((end) => {
          if (this.severed) return;
          this.placed.delete(job.handle);
          resolve(end);
        });
      }),
    };
    this.placed.set(job.handle, { unit, job, run });
    return run;
  }
}
