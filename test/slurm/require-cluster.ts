import { spawnSync } from 'node:child_process';

/**
 * The Slurm tests run against the real one-node cluster of test/slurm/start-cluster.sh (CI starts it in .ci/run).
 * They do not skip: without the cluster they fail, saying how to start it.
 */
export function requireCluster(): void {
  const sinfo = spawnSync('sinfo', ['-h', '-N', '-o', '%T'], { encoding: 'utf8' });
  const state = sinfo.stdout?.trim() ?? '';
  if (sinfo.error || sinfo.status !== 0 || !/^(idle|mixed|allocated)/.test(state)) {
    const why = sinfo.error ? sinfo.error.message : `sinfo said ${JSON.stringify(state || sinfo.stderr?.trim())}`;
    throw new Error(`the Slurm test cluster is not up (${why}): run test/slurm/start-cluster.sh as root first (.ci/run does)`);
  }
}
