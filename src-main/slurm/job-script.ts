import { join } from 'node:path';
import { childEntry, type NodeEntry } from '../entry-points';
import { nodeExecArgvFor } from '../node-runtime';

/** The files a Slurm run keeps in its run folder, next to its checkpoints and `events.jsonl`. */
export const RUN_INPUT_FILE = 'slurm-run.json';
export const JOB_SCRIPT_FILE = 'slurm-job.sh';
export const JOB_RECORD_FILE = 'slurm-job.json';
/** Slurm's output file; `%j` is the job id, so a resubmitted run keeps the earlier job's output. */
export const JOB_OUTPUT_PATTERN = 'slurm-%j.out';

export function jobOutputPath(runDir: string, jobId: string): string {
  return join(runDir, JOB_OUTPUT_PATTERN.replace('%j', jobId));
}

export interface JobScriptOptions {
  runId: number;
  /** The run folder on shared storage: the worker's checkpoints and journal, and the job's working directory. */
  runDir: string;
  /** The node binary on the compute node (default `node` from the job's PATH). */
  node?: string;
  /**
   * The batch worker to start: default the build's out/main/batch-worker.js when this code runs built, else
   * src-worker/batch-main.ts through tsx. Either way the project must be on storage the nodes share.
   */
  workerEntry?: string;
  /** Shell lines run before the worker, e.g. `module load nodejs/20`. */
  setup?: string[];
}

/** Quotes one word for bash: everything inside single quotes is literal. */
export function shellQuote(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/**
 * The batch script of one run. The worker runs in the background so the shell can pass on the SIGTERM Slurm sends
 * it (`--signal=B:TERM@…` before the time limit, or a preemption): the worker then checkpoints at its next batch
 * and ends `interrupted`, and the manager decides whether to resubmit. `wait` returns early when a trapped signal
 * arrives, so the shell waits again until the worker has really left.
 */
export function jobScript(opts: JobScriptOptions): string {
  const worker: NodeEntry = opts.workerEntry ? { file: opts.workerEntry, execArgv: nodeExecArgvFor(opts.workerEntry) } : childEntry('batch-worker');
  const command = [opts.node ?? 'node', ...worker.execArgv, worker.file, '--run', join(opts.runDir, RUN_INPUT_FILE)];
  return [
    '#!/usr/bin/env bash',
    `# NormLab run ${opts.runId}: written by the Slurm executor (src-main/slurm/job-script.ts)`,
    'set -u',
    ...(opts.setup ?? []),
    `cd ${shellQuote(opts.runDir)}`,
    // bash expands these on the node, not JavaScript here
    `echo "normlab: run ${opts.runId} as Slurm job \${SLURM_JOB_ID:-?} on $(hostname) (restart \${SLURM_RESTART_COUNT:-0}), CUDA_VISIBLE_DEVICES=\${CUDA_VISIBLE_DEVICES:-}"`,
    `${command.map(shellQuote).join(' ')} &`,
    'worker=$!',
    `trap 'kill -TERM "$worker" 2>/dev/null' TERM INT`,
    'while kill -0 "$worker" 2>/dev/null; do wait "$worker"; done',
    'wait "$worker"',
    'code=$?',
    'echo "normlab: worker exited with code $code"',
    'exit "$code"',
    '',
  ].join('\n');
}
