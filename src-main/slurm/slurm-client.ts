import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { goneJob, type JobState } from './job-states';
import { accountingEnabled, parseSacct, parseSbatch, parseScontrolJobs, parseSqueue, SACCT_FIELDS, SQUEUE_FORMAT } from './slurm-output';

const execFileAsync = promisify(execFile);

/** What a run asks of Slurm; the sweep spec's `executor` block and the CLI flags fill it. */
export interface SlurmJobOptions {
  partition?: string;
  /** e.g. `gpu:1` */
  gres?: string;
  /** sbatch --time, e.g. `04:00:00` */
  time?: string;
  account?: string;
  qos?: string;
  /** More sbatch flags, passed as given: `--constraint=a100`, `--mem=16G`. */
  extra?: string[];
}

export interface SubmitRequest extends SlurmJobOptions {
  jobName: string;
  /** The job script's path (written into the run folder, so a user can read what ran). */
  scriptPath: string;
  /** The job's working directory (the run folder on shared storage). */
  workdir: string;
  /** Slurm's output file (stdout and stderr together). */
  output: string;
  /** Seconds before the time limit at which the batch shell gets SIGTERM, to checkpoint (default 120). */
  signalBeforeLimitS?: number;
}

export class SlurmCommandError extends Error {
  override name = 'SlurmCommandError';
  constructor(readonly command: string, readonly stderr: string, message: string) {
    super(message);
  }
}

export interface SlurmClientOptions {
  /** Environment for the commands (a PATH with fake sbatch/squeue in tests); default process.env. */
  env?: NodeJS.ProcessEnv;
  /** How often a transient sbatch failure (controller busy) is retried (default 3). */
  submitRetries?: number;
  /** First pause between sbatch retries, doubled each time (default 1000 ms). */
  retryDelayMs?: number;
  /** Whether sacct can be asked; default: `scontrol show config` says whether accounting is on. */
  accounting?: boolean;
}

/** What sbatch says when the controller is busy or briefly unreachable, as opposed to refusing the job. */
const TRANSIENT = /socket timed out|resource temporarily unavailable|unable to contact slurm controller|try again|slurm_receive_msg/i;

/** squeue -j with only unknown ids fails with this; it means "none of them is in the queue". */
const INVALID_JOB_ID = /invalid job id/i;

/**
 * The Slurm commands NormLab uses, each run without a shell (arguments are never interpolated). Job states are
 * fetched for all our jobs at once per poll (one squeue, then sacct or scontrol for the few jobs squeue no longer
 * lists) and cached until the next poll, so a sweep of hundreds of jobs costs the controller a few calls a poll.
 */
export class SlurmClient {
  private readonly env: NodeJS.ProcessEnv;
  private accounting: boolean | undefined;
  private cache = new Map<string, JobState>();

  constructor(private readonly opts: SlurmClientOptions = {}) {
    this.env = opts.env ?? process.env;
    this.accounting = opts.accounting;
  }

  /** Submits one batch job; returns its id. Retries while the controller is only busy. */
  async submit(req: SubmitRequest): Promise<string> {
    const args = sbatchArgs(req);
    const retries = this.opts.submitRetries ?? 3;
    let delay = this.opts.retryDelayMs ?? 1000;
    for (let attempt = 0; ; attempt++) {
      try {
        return parseSbatch(await this.exec('sbatch', args));
      } catch (err) {
        if (!(err instanceof SlurmCommandError)) throw err;
        const failure = err;
        if (attempt >= retries || !TRANSIENT.test(failure.stderr)) throw failure;
        await new Promise((r) => setTimeout(r, delay));
        delay *= 2;
      }
    }
  }

  /** Asks Slurm about these jobs now (one batched round); the answer is also kept as `cached`. */
  async poll(jobIds: readonly string[]): Promise<Map<string, JobState>> {
    if (jobIds.length === 0) return (this.cache = new Map());
    const states = await this.squeue(jobIds);
    const missing = jobIds.filter((id) => !states.has(id));
    for (const [id, s] of await this.afterQueue(missing)) states.set(id, s);
    this.cache = states;
    return states;
  }

  /** What the last poll found; undefined for a job it did not ask about. */
  cached(jobId: string): JobState | undefined {
    return this.cache.get(jobId);
  }

  /** `scancel`; with `signal`, only that signal is sent (to the batch shell when `batchOnly`), the job is not ended. */
  async cancel(jobId: string, opts: { signal?: string; batchOnly?: boolean } = {}): Promise<void> {
    const args = [...(opts.signal ? [`--signal=${opts.signal}`] : []), ...(opts.batchOnly ? ['--batch'] : []), jobId];
    await this.exec('scancel', args);
  }

  /** Our jobs still in the queue under this name, with their working directories (to adopt instead of resubmitting). */
  async queuedByName(jobName: string): Promise<{ jobId: string; workdir: string }[]> {
    const out = await this.exec('squeue', ['-h', '-n', jobName, '-o', '%i|%Z']);
    return out.split('\n').filter(Boolean).map((line) => {
      const [jobId = '', workdir = ''] = line.trim().split('|');
      return { jobId, workdir };
    });
  }

  private async squeue(jobIds: readonly string[]): Promise<Map<string, JobState>> {
    try {
      return parseSqueue(await this.exec('squeue', ['-h', '-j', jobIds.join(','), '-o', SQUEUE_FORMAT]));
    } catch (err) {
      if (err instanceof SlurmCommandError && INVALID_JOB_ID.test(err.stderr)) return new Map();
      throw err;
    }
  }

  /** Jobs squeue no longer lists: sacct where accounting exists, else scontrol (which remembers for MinJobAge). */
  private async afterQueue(jobIds: readonly string[]): Promise<Map<string, JobState>> {
    const states = new Map<string, JobState>();
    if (jobIds.length === 0) return states;
    if (this.accounting === undefined) this.accounting = accountingEnabled(await this.exec('scontrol', ['show', 'config']));
    if (this.accounting) {
      for (const [id, s] of parseSacct(await this.exec('sacct', ['-P', '-n', '-X', '-j', jobIds.join(','), '-o', SACCT_FIELDS]))) states.set(id, s);
    } else {
      // scontrol takes one job id at a time; only jobs that just left the queue get here, each once
      for (const id of jobIds) {
        try {
          for (const [jid, s] of parseScontrolJobs(await this.exec('scontrol', ['-o', 'show', 'job', id]))) states.set(jid, s);
        } catch (err) {
          if (!(err instanceof SlurmCommandError && INVALID_JOB_ID.test(err.stderr))) throw err;
        }
      }
    }
    for (const id of jobIds) if (!states.has(id)) states.set(id, goneJob(id));
    return states;
  }

  private async exec(cmd: string, args: string[]): Promise<string> {
    try {
      const { stdout } = await execFileAsync(cmd, args, { env: this.env, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
      return stdout;
    } catch (err) {
      throw commandFailure(cmd, err);
    }
  }
}

function commandFailure(cmd: string, err: unknown): SlurmCommandError {
  const e = err as { stderr?: string | Buffer; code?: string | number; message?: string };
  if (e.code === 'ENOENT') return new SlurmCommandError(cmd, '', `${cmd} not found on PATH: is this a Slurm submit host?`);
  const stderr = String(e.stderr ?? '').trim();
  const exit = typeof e.code === 'number' ? ` (exit ${e.code})` : '';
  return new SlurmCommandError(cmd, stderr, `${cmd} failed${exit}: ${stderr || (e.message ?? String(err))}`);
}

/** The sbatch command line for one run. */
export function sbatchArgs(req: SubmitRequest): string[] {
  const args = [
    '--parsable',
    `--job-name=${req.jobName}`,
    `--chdir=${req.workdir}`,
    `--output=${req.output}`,
    // a requeued job (node failure, preemption) continues the same output file
    '--open-mode=append',
    '--requeue',
    `--signal=B:TERM@${req.signalBeforeLimitS ?? 120}`,
  ];
  if (req.partition) args.push(`--partition=${req.partition}`);
  if (req.gres) args.push(`--gres=${req.gres}`);
  if (req.time) args.push(`--time=${req.time}`);
  if (req.account) args.push(`--account=${req.account}`);
  if (req.qos) args.push(`--qos=${req.qos}`);
  args.push(...(req.extra ?? []), req.scriptPath);
  return args;
}
