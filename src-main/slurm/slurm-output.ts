import { jobState, type JobState } from './job-states';

/**
 * Parsers for what sbatch, squeue, sacct and scontrol print, in the formats slurm-client.ts asks for. Each takes
 * the command's stdout and returns typed values, and refuses output it cannot read with a message that shows it.
 */

export class SlurmOutputError extends Error {
  override name = 'SlurmOutputError';
}

/** `sbatch --parsable` prints `jobid` or `jobid;cluster`. */
export function parseSbatch(stdout: string): string {
  const line = stdout.trim().split('\n').at(-1)?.trim() ?? '';
  const jobId = line.split(';')[0] ?? '';
  if (!/^\d+(_\d+)?$/.test(jobId)) throw new SlurmOutputError(`sbatch --parsable printed no job id: ${JSON.stringify(stdout.slice(0, 200))}`);
  return jobId;
}

/** The squeue format slurm-client.ts passes: job id, state, reason, nodes, name. */
export const SQUEUE_FORMAT = '%i|%T|%r|%N|%j';

export function parseSqueue(stdout: string): Map<string, JobState> {
  const states = new Map<string, JobState>();
  for (const line of lines(stdout)) {
    const [jobId, state, reason, nodes] = line.split('|');
    if (!jobId || !state) throw new SlurmOutputError(`squeue line not in the format ${SQUEUE_FORMAT}: ${JSON.stringify(line)}`);
    states.set(jobId, jobState(jobId, state, { reason, nodes }));
  }
  return states;
}

/** The sacct fields slurm-client.ts asks for, with `-P -n -X` (parsable, no header, allocations only). */
export const SACCT_FIELDS = 'JobIDRaw,State,ExitCode,NodeList,Reason';

export function parseSacct(stdout: string): Map<string, JobState> {
  const states = new Map<string, JobState>();
  for (const line of lines(stdout)) {
    const [jobId, state, exitCode, nodes, reason] = line.split('|');
    if (!jobId || !state) throw new SlurmOutputError(`sacct line not in the format ${SACCT_FIELDS}: ${JSON.stringify(line)}`);
    // a requeued job has one allocation row per start; the last one is the current truth
    states.set(jobId, jobState(jobId, state, { reason, nodes, exitCode }));
  }
  return states;
}

/** `scontrol -o show job ID`: one line of Key=Value pairs per job. */
export function parseScontrolJobs(stdout: string): Map<string, JobState> {
  const states = new Map<string, JobState>();
  for (const line of lines(stdout)) {
    const field = (key: string) => new RegExp(`(?:^|\\s)${key}=(\\S*)`).exec(line)?.[1] ?? null;
    const jobId = field('JobId');
    const state = field('JobState');
    if (!jobId || !state) throw new SlurmOutputError(`scontrol show job line without JobId/JobState: ${JSON.stringify(line.slice(0, 200))}`);
    states.set(jobId, jobState(jobId, state, { reason: field('Reason'), nodes: field('NodeList'), exitCode: field('ExitCode') }));
  }
  return states;
}

/** Whether the cluster keeps accounting (sacct works) per `scontrol show config`. */
export function accountingEnabled(configText: string): boolean {
  const type = /^AccountingStorageType\s*=\s*(\S+)/m.exec(configText)?.[1];
  return type !== undefined && type !== 'accounting_storage/none';
}

function lines(text: string): string[] {
  return text.split('\n').map((l) => l.trim()).filter(Boolean);
}
