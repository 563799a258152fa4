import { dirname, join, resolve } from 'node:path';
import { z } from 'zod';
import type { SlurmSchedulerOptions } from './slurm-scheduler';

/**
 * Where a sweep's runs train, as a sweep spec says it (`"executor": {"kind": "slurm", …}`) and as the CLI's flags
 * override it (`normlab sweep SPEC --executor slurm --gres gpu:1 --time 04:00:00`). Validated here, at the edge,
 * so the executor gets typed options.
 */

// sbatch's --time formats: minutes, mm:ss, hh:mm:ss, d-hh, d-hh:mm, d-hh:mm:ss
const SLURM_TIME = /^(\d+|\d+:\d{2}|\d+:\d{2}:\d{2}|\d+-\d+|\d+-\d+:\d{2}|\d+-\d+:\d{2}:\d{2})$/;

export const slurmExecutorSpecSchema = z.strictObject({
  kind: z.literal('slurm'),
  partition: z.string().min(1).optional().describe('sbatch --partition'),
  gres: z.string().regex(/^[\w.:,-]+$/, 'a GRES request such as gpu:1 or gpu:a100:2').optional().describe('sbatch --gres, e.g. gpu:1'),
  time: z.string().regex(SLURM_TIME, 'a Slurm time limit: minutes, hh:mm:ss or d-hh:mm:ss').optional().describe('sbatch --time'),
  account: z.string().min(1).optional().describe('sbatch --account'),
  qos: z.string().min(1).optional().describe('sbatch --qos'),
  extra: z.array(z.string().regex(/^-/, 'an sbatch flag, starting with -')).optional().describe('more sbatch flags, e.g. --constraint=a100'),
  maxJobs: z.number().int().positive().optional().describe('at most this many jobs queued or running at once (default 50)'),
  /** The run folders' root on shared storage (default: `runs/` next to the DB). */
  workdir: z.string().min(1).optional().describe('run folders on storage the nodes share (default: next to the DB)'),
  node: z.string().min(1).optional().describe('the node binary on the compute nodes (default: node)'),
  setup: z.array(z.string()).optional().describe('shell lines the job runs first, e.g. module load nodejs/20'),
});

export const executorSpecSchema = z.discriminatedUnion('kind', [z.strictObject({ kind: z.literal('local') }), slurmExecutorSpecSchema]);

export type SlurmExecutorSpec = z.output<typeof slurmExecutorSpecSchema>;
export type ExecutorSpec = z.output<typeof executorSpecSchema>;

/** The CLI's flags for the executor; each one given overrides the spec's field. */
export interface ExecutorFlags {
  executor?: string;
  partition?: string;
  gres?: string;
  time?: string;
  account?: string;
  qos?: string;
  /** repeated `--sbatch-arg FLAG` */
  sbatchArg?: string[];
  maxJobs?: number;
  workdir?: string;
}

export class ExecutorSpecError extends Error {
  override name = 'ExecutorSpecError';
}

/** The executor a sweep asks for: the spec's `executor` block with the flags laid over it. */
export function resolveExecutorSpec(fromSpec: unknown, flags: ExecutorFlags = {}): ExecutorSpec {
  const base: unknown = fromSpec === undefined ? { kind: flags.executor ?? 'local' } : fromSpec;
  const kind = flags.executor ?? (typeof base === 'object' && base !== null && 'kind' in base ? base.kind : undefined);
  const overrides = Object.fromEntries(
    Object.entries({
      partition: flags.partition, gres: flags.gres, time: flags.time, account: flags.account, qos: flags.qos,
      extra: flags.sbatchArg, maxJobs: flags.maxJobs, workdir: flags.workdir,
    }).filter(([, v]) => v !== undefined),
  );
  const merged = kind === 'slurm' ? { ...(typeof base === 'object' && base !== null ? base : {}), kind, ...overrides } : { kind };
  if (kind !== 'slurm' && Object.keys(overrides).length > 0) {
    throw new ExecutorSpecError(`${Object.keys(overrides).map(flagName).join(', ')} only apply to --executor slurm`);
  }
  const parsed = executorSpecSchema.safeParse(merged);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `executor${i.path.length ? `.${i.path.join('.')}` : ''}: ${i.message}`);
    throw new ExecutorSpecError(`invalid executor: ${problems.join('; ')} (kind is "local" or "slurm")`);
  }
  return parsed.data;
}

/** The Slurm scheduler's options for a resolved spec; run folders default to `runs/` next to the DB. */
export function slurmSchedulerOptions(spec: SlurmExecutorSpec, dbPath: string): SlurmSchedulerOptions {
  const { kind: _kind, workdir, ...job } = spec;
  return { ...job, checkpointRoot: resolve(workdir ?? join(dirname(resolve(dbPath)), 'runs')) };
}

function flagName(field: string): string {
  return field === 'extra' ? '--sbatch-arg' : `--${field.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}
