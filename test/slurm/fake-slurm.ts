import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A PATH directory of small shell scripts standing in for sbatch, squeue, sacct, scontrol and scancel, for the
 * states a one-node cluster cannot produce (preemption, NODE_FAIL, OUT_OF_MEMORY, TIMEOUT). The test says what
 * Slurm "knows" by writing files; the scripts log every call so the test can check what was asked.
 *
 *   queue          squeue's lines (`id|STATE|reason|nodes|name`), printed for the ids asked (-j)
 *   job-<id>       scontrol -o show job <id>'s line; absent: "Invalid job id specified", exit 1
 *   named          squeue -n NAME's lines (id|workdir): jobs already queued under a run's name
 *   sacct          sacct's lines; `config` the output of `scontrol show config`
 *   sbatch-fail    sbatch prints it to stderr and exits 1, as many times as sbatch-fail-times says
 */
export interface FakeSlurm {
  dir: string;
  env: NodeJS.ProcessEnv;
  setQueue(lines: string[]): void;
  setJob(jobId: string, line: string | null): void;
  setSacct(lines: string[]): void;
  setNamed(lines: string[]): void;
  setAccounting(on: boolean): void;
  /** sbatch fails with this stderr `times` times, then works again. */
  failSbatch(stderr: string, times: number): void;
  calls(command: string): string[][];
}

const SCRIPTS: Record<string, string> = {
  sbatch: `
n=$(cat "$FAKE_SLURM/next-id" 2>/dev/null || echo 100)
if [ -f "$FAKE_SLURM/sbatch-fail" ] && [ "$(cat "$FAKE_SLURM/sbatch-fail-times")" -gt 0 ]; then
  echo "$(( $(cat "$FAKE_SLURM/sbatch-fail-times") - 1 ))" > "$FAKE_SLURM/sbatch-fail-times"
  cat "$FAKE_SLURM/sbatch-fail" >&2
  exit 1
fi
echo $((n + 1)) > "$FAKE_SLURM/next-id"
echo "$n"`,
  squeue: `
if [ "$2" = -n ]; then cat "$FAKE_SLURM/named" 2>/dev/null; exit 0; fi
ids=""
prev=""
for a in "$@"; do [ "$prev" = "-j" ] && ids="$a"; prev="$a"; done
found=0
for id in $(echo "$ids" | tr ',' ' '); do
  line=$(grep "^$id|" "$FAKE_SLURM/queue" 2>/dev/null) && { echo "$line"; found=1; }
done
if [ -n "$ids" ] && [ $found = 0 ] && [ "$(echo "$ids" | tr ',' ' ' | wc -w)" = 1 ]; then
  echo "slurm_load_jobs error: Invalid job id specified" >&2; exit 1
fi
exit 0`,
  scontrol: `
if [ "$1" = show ] && [ "$2" = config ]; then cat "$FAKE_SLURM/config"; exit 0; fi
id="$4"
if [ -f "$FAKE_SLURM/job-$id" ]; then cat "$FAKE_SLURM/job-$id"; exit 0; fi
echo "slurm_load_jobs error: Invalid job id specified" >&2
exit 1`,
  sacct: `cat "$FAKE_SLURM/sacct" 2>/dev/null; exit 0`,
  scancel: `exit 0`,
};

export function fakeSlurm(): FakeSlurm {
  const dir = mkdtempSync(join(tmpdir(), 'normlab-fake-slurm-'));
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  writeFileSync(join(dir, 'config'), 'AccountingStorageType   = accounting_storage/none\n');
  for (const [name, body] of Object.entries(SCRIPTS)) {
    const path = join(bin, name);
    // each call is logged (one line, arguments NUL-free and separated by \x1f) before the command's own work
    writeFileSync(path, `#!/usr/bin/env bash\nprintf '%s\\x1f' "$@" >> "$FAKE_SLURM/${name}.log"; echo >> "$FAKE_SLURM/${name}.log"\n${body}\n`);
    chmodSync(path, 0o755);
  }
  const env = { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}`, FAKE_SLURM: dir };
  return {
    dir,
    env,
    setQueue: (lines) => writeFileSync(join(dir, 'queue'), lines.map((l) => `${l}\n`).join('')),
    setJob(jobId, line) {
      const path = join(dir, `job-${jobId}`);
      if (line === null) rmSync(path, { force: true });
      else writeFileSync(path, `${line}\n`);
    },
    setNamed: (lines) => writeFileSync(join(dir, 'named'), lines.map((l) => `${l}\n`).join('')),
    setSacct: (lines) => writeFileSync(join(dir, 'sacct'), lines.map((l) => `${l}\n`).join('')),
    setAccounting: (on) => writeFileSync(join(dir, 'config'), `AccountingStorageType   = ${on ? 'accounting_storage/slurmdbd' : 'accounting_storage/none'}\n`),
    failSbatch(stderr, times) {
      writeFileSync(join(dir, 'sbatch-fail'), `${stderr}\n`);
      writeFileSync(join(dir, 'sbatch-fail-times'), `${times}\n`);
    },
    calls(command) {
      const log = join(dir, `${command}.log`);
      if (!existsSync(log)) return [];
      return readFileSync(log, 'utf8').split('\n').filter(Boolean).map((l) => l.split('\x1f').filter((a, i, all) => i < all.length - 1 || a !== ''));
    },
  };
}

/** `scontrol -o show job` as Slurm 22.05 prints it, with the fields the client reads. */
export function scontrolLine(jobId: string, state: string, opts: { reason?: string; nodes?: string; exitCode?: string } = {}): string {
  return `JobId=${jobId} JobName=normlab-run1 UserId=root(0) JobState=${state} Reason=${opts.reason ?? 'None'} Dependency=(null) ` +
    `Requeue=1 Restarts=0 BatchFlag=1 ExitCode=${opts.exitCode ?? '0:0'} RunTime=00:00:05 NodeList=${opts.nodes ?? 'node01'} BatchHost=node01`;
}
