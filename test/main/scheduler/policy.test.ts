import { afterEach, describe, expect, it } from 'vitest';
import { runSpecSchema, type RunSpec } from '../../../src-worker/run-spec';
import { SchedulingPolicy, type PolicyOptions } from '../../../src-main/scheduler/policy';
import type { WorkerExit } from '../../../src-main/scheduler/worker-process';
import type { SchedulerStore } from '../../../src-main/scheduler/scheduler-store';
import { FakeCluster, FakeExecutor, type FakeExecutorOptions } from './fake-executor';
import { MemorySchedulerStore } from './memory-store';
import { tempDir, waitFor } from './helpers';
import { join } from 'node:path';
import { ExperimentStore } from '../../../src-main/store/experiment-store';
import { schedulerStoreFor } from '../../../src-main/scheduler/store-adapter';

const spec = (seed: number): RunSpec => runSpecSchema.parse({ model: 'cnn', dataset: 'synthetic', epochs: 3, batchSize: 32, lr: 0.1, seed });
/** Lets every promise reaction run: the policy learns of an end through the executor's `ended` promise. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

const policies: SchedulingPolicy[] = [];

afterEach(async () => {
  for (const policy of policies.splice(0)) await policy.stop({ interruptRunning: true });
});

function setup(
  exec: FakeExecutorOptions,
  opts: Partial<PolicyOptions> = {},
  store = new MemorySchedulerStore(),
  /** Another store for the policy to use instead of `store` (the SQLite one). */
  policyStore: SchedulerStore = store,
) {
  const executor = new FakeExecutor(exec);
  const policy = new SchedulingPolicy(policyStore, executor, { checkpointRoot: '/ckpt', pollMs: 60_000, ...opts });
  policies.push(policy);
  const started: [number, string][] = [];
  const ended: [number, WorkerExit][] = [];
  policy.on('runStarted', (id, unit) => started.push([id, unit]));
  policy.on('runEnded', (id, exit) => ended.push([id, exit]));
  return { store, executor, cluster: executor.cluster, policy, started, ended };
}

describe('scheduling policy on a fake executor', () => {
  it('places runs FIFO within a priority, higher priority first, one per free unit', async () => {
    const { store, cluster, policy, started } = setup({ units: 2 });
    const ids = [0, 5, 0, 5, 1].map((priority, i) => store.addRun(spec(i + 1), priority));
    policy.start();
    expect(started).toEqual([[ids[1], 'u0'], [ids[3], 'u1']]);
    cluster.jobOf(ids[3]).finish();
    await settle();
    expect(started.slice(2)).toEqual([[ids[4], 'u1']]);
    cluster.jobOf(ids[1]).finish();
    await settle();
    cluster.jobOf(ids[4]).finish();
    await settle();
    expect(cluster.submissions).toEqual([ids[1], ids[3], ids[4], ids[0], ids[2]]);
    expect(store.run(ids[1])).toMatchObject({ status: 'finished', device: 'u0', checkpointDir: `/ckpt/run-${ids[1]}` });
    expect(cluster.jobOf(ids[0]).launch.spec).toMatchObject({ runId: ids[0], resume: true, checkpointDir: `/ckpt/run-${ids[0]}` });
  });

  it('places nothing while paused, lets running runs finish, and fills the units again on resume', async () => {
    const { store, cluster, policy, started } = setup({ units: 1 });
    const [a, b, c] = [1, 2, 3].map((s) => store.addRun(spec(s)));
    policy.start();
    expect(started.map(([id]) => id)).toEqual([a]);
    policy.pause();
    expect(policy.isPaused()).toBe(true);
    cluster.jobOf(a).finish();
    await settle();
    policy.notify();
    expect(started.map(([id]) => id)).toEqual([a]);
    expect(store.status(b)).toBe('queued');
    expect(policy.isIdle()).toBe(true);
    policy.resume();
    expect(started.map(([id]) => id)).toEqual([a, b]);
    expect(store.status(c)).toBe('queued');
    expect(policy.isIdle()).toBe(false);
  });

  it('retries a run killed from outside until its budget is spent, then records it failed; a crash is not retried', async () => {
    const { store, cluster, policy, ended } = setup({ units: 1 }, { maxAutoRetries: 2 });
    const killed = store.addRun(spec(1));
    const crashed = store.addRun(spec(2));
    policy.start();
    for (let attempt = 1; attempt <= 3; attempt++) {
      expect(store.run(killed)).toMatchObject({ status: 'running', attempts: attempt, autoRetries: attempt - 1 });
      cluster.jobOf(killed).killFromOutside();
      await settle();
    }
    expect(store.run(killed)).toMatchObject({ status: 'failed', attempts: 3, autoRetries: 2, errorReason: 'worker process killed by SIGKILL before finishing' });
    expect(cluster.submissions).toEqual([killed, killed, killed, crashed]);
    cluster.jobOf(crashed).crash(3);
    await settle();
    expect(store.run(crashed)).toMatchObject({ status: 'failed', attempts: 1, autoRetries: 0, errorReason: 'worker process exited with code 3 before finishing' });
    expect(ended.map(([id, exit]) => [id, exit.signal])).toEqual([[killed, 'SIGKILL'], [killed, 'SIGKILL'], [killed, 'SIGKILL'], [crashed, null]]);
  });

  it('does not retry a killed run that reported an error first, and keeps the error as its reason', async () => {
    const { store, cluster, policy } = setup({ units: 1 });
    const id = store.addRun(spec(1));
    policy.start();
    cluster.jobOf(id).emit({ event: 'error', reason: 'out of memory on the GPU' });
    cluster.jobOf(id).killFromOutside();
    await settle();
    expect(store.run(id)).toMatchObject({ status: 'failed', attempts: 1, errorReason: 'out of memory on the GPU' });
  });

  it('cancels a running run with a checkpoint, kills one that ignores it after the grace period, and cancels a queued run at once', async () => {
    const { store, cluster, policy } = setup({ units: 1 });
    const [running, queued] = [1, 2].map((s) => store.addRun(spec(s)));
    policy.start();
    expect(policy.cancel(queued)).toBe(true);
    expect(store.status(queued)).toBe('cancelled');
    expect(policy.cancel(running)).toBe(true);
    await settle();
    expect(cluster.jobOf(running).requests).toEqual(['cancel']);
    expect(store.status(running)).toBe('cancelled');
    expect(cluster.submissions).toEqual([running]);

    const stubborn = setup({ units: 1, obeys: false }, { cancelGraceMs: 20 });
    const id = stubborn.store.addRun(spec(3));
    stubborn.policy.start();
    stubborn.policy.cancel(id);
    await settle();
    expect(stubborn.store.status(id)).toBe('running');
    await waitFor(() => stubborn.store.status(id) === 'cancelled', 2000, 'the grace period to end in a kill');
    expect(stubborn.cluster.jobOf(id).requests).toEqual(['cancel', 'kill']);
  });

  it('interrupts every run when another process takes the lease, and waits for it', async () => {
    const { store, cluster, policy } = setup({ units: 2 }, { pollMs: 10 });
    const [a, b, c] = [1, 2, 3].map((s) => store.addRun(spec(s)));
    const leases: string[] = [];
    policy.on('lease', (state) => leases.push(state.state));
    policy.start();
    store.stealLease('someone-else');
    await waitFor(() => policy.lease().state === 'waiting', 2000, 'the lease loss to be noticed');
    await settle();
    expect(cluster.jobOf(a).requests).toEqual(['interrupt']);
    expect(cluster.jobOf(b).requests).toEqual(['interrupt']);
    expect([store.status(a), store.status(b), store.status(c)]).toEqual(['interrupted', 'interrupted', 'queued']);
    expect(policy.runningRunIds()).toEqual([]);
    expect(cluster.submissions).toEqual([a, b]);
    expect(leases).toEqual(['held', 'stopped', 'waiting']);
  });

  it('fails a run the executor refuses to start, says why, and offers the unit to the next run', async () => {
    const { store, cluster, policy, started, ended } = setup({
      units: 1,
      refuse: (launch) => (launch.spec.seed === 2 ? 'sbatch: error: invalid partition specified: gpu-big' : null),
    });
    const [a, b, c] = [1, 2, 3].map((s) => store.addRun(spec(s)));
    policy.start();
    cluster.jobOf(a).finish();
    await settle();
    expect(store.run(b)).toMatchObject({
      status: 'failed',
      errorReason: `could not start run ${b} on u0: sbatch: error: invalid partition specified: gpu-big`,
    });
    expect(started.map(([id]) => id)).toEqual([a, c]);
    expect(ended.map(([id]) => id)).toEqual([a, b]);
    expect(store.status(c)).toBe('running');
  });

  it('re-attaches after a manager restart to the runs still alive, starts only the dead ones again, and nothing twice', async () => {
    const cluster = new FakeCluster();
    const store = new MemorySchedulerStore();
    const first = setup({ units: 2, cluster, reattachable: true }, {}, store);
    const [alive, dead, queued] = [1, 2, 3].map((s) => store.addRun(spec(s)));
    first.policy.start();
    await settle();
    expect(store.run(alive).handle).toBe(cluster.jobOf(alive).handle);
    cluster.jobOf(alive).epoch(1, 0.3);
    // the manager dies: it stops renewing its lease; one job dies with its node, the other keeps training
    policies.splice(policies.indexOf(first.policy), 1);
    first.executor.sever();
    cluster.jobOf(dead).killFromOutside();
    store.expireLease();

    const second = setup({ units: 2, cluster, reattachable: true }, {}, store);
    const recovered = second.policy.start();
    expect(recovered).toBe(1);
    expect(second.started).toEqual([[dead, 'u1']]);
    expect(cluster.submissions).toEqual([alive, dead, dead]);
    expect(second.policy.runningRunIds().sort((x, y) => x - y)).toEqual([alive, dead]);
    expect(store.status(queued)).toBe('queued');
    expect(store.run(alive)).toMatchObject({ status: 'running', attempts: 1, owner: store.leaseOwner() });

    // the re-attached run's events and end now reach the second manager, which fills its unit
    cluster.jobOf(alive).epoch(2, 0.4);
    cluster.jobOf(alive).finish();
    await settle();
    expect(store.run(alive).events.map((e) => e.event)).toEqual(['epoch', 'epoch', 'done']);
    expect(store.status(alive)).toBe('finished');
    expect(second.ended.map(([id]) => id)).toEqual([alive]);
    expect(second.started).toEqual([[dead, 'u1'], [queued, 'u0']]);
    expect(cluster.submissions).toEqual([alive, dead, dead, queued]);
  });

  it('leaves cluster jobs training when it stops, once their handles are recorded, and the next manager adopts them all', async () => {
    const cluster = new FakeCluster();
    const store = new MemorySchedulerStore();
    const first = setup({ units: 2, cluster, reattachable: true }, {}, store);
    const [a, b, c] = [1, 2, 3].map((s) => store.addRun(spec(s)));
    const handlesAtRelease: (string | null)[] = [];
    const release = store.releaseLease.bind(store);
    store.releaseLease = (owner) => {
      handlesAtRelease.push(...[a, b].map((id) => store.run(id).handle));
      release(owner);
    };
    first.policy.start();
    // stopped before `sbatch` answered: the handles must be recorded before the lease is let go
    await first.policy.stop();
    policies.splice(policies.indexOf(first.policy), 1);
    expect(store.leaseOwner()).toBeNull();
    expect(handlesAtRelease).toEqual([cluster.jobOf(a).handle, cluster.jobOf(b).handle]);
    expect([a, b].map((id) => cluster.jobOf(id).requests)).toEqual([[], []]);
    expect([store.status(a), store.status(b), store.status(c)]).toEqual(['running', 'running', 'queued']);

    const second = setup({ units: 2, cluster, reattachable: true }, {}, store);
    expect(second.policy.start()).toBe(0);
    expect(second.policy.runningRunIds()).toEqual([a, b]);
    expect(cluster.submissions).toEqual([a, b]);
    cluster.jobOf(b).finish();
    await settle();
    expect(second.started).toEqual([[c, 'u1']]);
    // asked to interrupt, it does not detach: the jobs checkpoint and stop
    await second.policy.stop({ interruptRunning: true });
    expect([store.status(a), store.status(c)]).toEqual(['interrupted', 'interrupted']);
  });

  it('kills a re-attached job whose run left running before it could be adopted', async () => {
    const cluster = new FakeCluster();
    const store = new MemorySchedulerStore();
    const first = setup({ units: 1, cluster, reattachable: true }, {}, store);
    const id = store.addRun(spec(1));
    first.policy.start();
    await settle();
    policies.splice(policies.indexOf(first.policy), 1);
    first.executor.sever();
    store.expireLease();
    // another process cancelled the run between the listing of attachable runs and the adoption
    store.adoptRun = (runId) => {
      store.run(runId).status = 'cancelled';
      return false;
    };

    const second = setup({ units: 1, cluster, reattachable: true }, {}, store);
    second.policy.start();
    await settle();
    expect(cluster.jobOf(id).requests).toEqual(['kill']);
    expect(second.policy.runningRunIds()).toEqual([]);
    expect(store.status(id)).toBe('cancelled');
  });

  it('stops a run early when the early-stopping hook says so, after the epoch it judged', async () => {
    const judged: [number, number, number][] = [];
    const { store, cluster, policy } = setup(
      { units: 1 },
      {
        earlyStopping: {
          onEpoch(runId, epoch, metrics) {
            judged.push([runId, epoch, metrics.test_acc]);
            return epoch >= 2 && metrics.test_acc < 0.2 ? 'stop' : 'continue';
          },
        },
      },
    );
    const [poor, next] = [1, 2].map((s) => store.addRun(spec(s)));
    policy.start();
    cluster.jobOf(poor).epoch(1, 0.1);
    expect(cluster.jobOf(poor).requests).toEqual([]);
    cluster.jobOf(poor).epoch(2, 0.15);
    await settle();
    expect(cluster.jobOf(poor).requests).toEqual(['cancel']);
    expect(store.status(poor)).toBe('cancelled');
    expect(judged).toEqual([[poor, 1, 0.1], [poor, 2, 0.15]]);
    expect(store.status(next)).toBe('running');
  });

  it('calls the searcher after a run ends and places what it queued without being told', async () => {
    const store = new MemorySchedulerStore();
    const seen: number[] = [];
    const { cluster, policy, started } = setup(
      { units: 1 },
      {
        afterRunEnded: async (runId) => {
          seen.push(runId);
          // the lr search proposes its next run only once this one has a result
          if (seen.length === 1) store.addRun(spec(10));
        },
      },
      store,
    );
    const first = store.addRun(spec(1));
    policy.start();
    cluster.jobOf(first).finish();
    await waitFor(() => started.length === 2, 2000, 'the proposed run to start');
    expect(seen).toEqual([first]);
    expect(store.run(started[1][0]).spec.seed).toBe(10);
    // a run interrupted by the manager shutting down is no result: the searcher is not asked
    await policy.stop({ interruptRunning: true });
    expect(store.status(started[1][0])).toBe('interrupted');
    expect(seen).toEqual([first]);
  });

  it('reports a failing searcher step and keeps scheduling', async () => {
    const errors: [number, string][] = [];
    const { store, cluster, policy, started } = setup(
      { units: 1 },
      {
        afterRunEnded: () => {
          throw new Error('sweep 4 does not exist');
        },
        onHookError: (runId, err) => errors.push([runId, err instanceof Error ? err.message : String(err)]),
      },
    );
    const [a, b] = [1, 2].map((s) => store.addRun(spec(s)));
    policy.start();
    cluster.jobOf(a).finish();
    await settle();
    expect(errors).toEqual([[a, 'sweep 4 does not exist']]);
    expect(started.map(([id]) => id)).toEqual([a, b]);
  });

  it('tells the executor whether more runs wait, so it can start workers ahead or let them go', async () => {
    const { store, executor, cluster, policy } = setup({ units: 1 });
    const [a] = [1, 2].map((s) => store.addRun(spec(s)));
    policy.start();
    expect(executor.anticipated).toEqual([true]);
    cluster.jobOf(a).finish();
    await settle();
    expect(executor.anticipated.at(-1)).toBe(false);
  });

  it('waits for the lease while another live process holds it, placing nothing', () => {
    const store = new MemorySchedulerStore();
    store.stealLease('the-other-manager');
    const { cluster, policy } = setup({ units: 1 }, {}, store);
    store.addRun(spec(1));
    expect(policy.start()).toBe(0);
    expect(policy.lease()).toMatchObject({ state: 'waiting', holder: { owner: 'the-other-manager' } });
    expect(cluster.submissions).toEqual([]);
  });
});

describe('scheduling policy on the SQLite store', () => {
  const stores: ExperimentStore[] = [];
  // the policies release their lease into the store, so they stop before it closes
  afterEach(async () => {
    for (const policy of policies.splice(0)) await policy.stop({ interruptRunning: true });
    for (const store of stores.splice(0)) store.close();
  });

  function sqlite() {
    const store = ExperimentStore.open(join(tempDir(), 'normlab.db'));
    stores.push(store);
    const addRuns = (name: string, seeds: number[], priority: number) => {
      const { sweep } = store.upsertSweep({ name, spec: { name }, priority });
      return store.addRuns(sweep.id, seeds.map(spec), { priority }).runs.map((r) => r.id);
    };
    return { store, addRuns };
  }

  it('takes runs in the order the store queues them: priority first, then oldest', async () => {
    const { store, addRuns } = sqlite();
    const low = addRuns('low', [1, 2], 0);
    const high = addRuns('high', [3], 5);
    const { cluster, policy } = setup({ units: 1 }, {}, undefined, schedulerStoreFor(store));
    policy.start();
    for (let i = 0; i < 3; i++) {
      cluster.jobOf(cluster.submissions.at(-1) ?? 0).finish();
      await settle();
    }
    expect(cluster.submissions).toEqual([...high, ...low]);
    expect([...high, ...low].map((id) => store.getRun(id)?.status)).toEqual(['finished', 'finished', 'finished']);
    expect(store.getRun(high[0] ?? 0)).toMatchObject({ device: 'u0', checkpointDir: `/ckpt/run-${high[0]}` });
  });

  it('spends the automatic retry budget of a killed run, then leaves it failed with the reason', async () => {
    const { store, addRuns } = sqlite();
    const [id = 0] = addRuns('dies', [1], 0);
    const { cluster, policy } = setup({ units: 1 }, { maxAutoRetries: 1 }, undefined, schedulerStoreFor(store));
    policy.start();
    cluster.jobOf(id).killFromOutside();
    await settle();
    expect(store.getRun(id)).toMatchObject({ status: 'running', attempts: 2, autoRetries: 1 });
    cluster.jobOf(id).killFromOutside();
    await settle();
    expect(store.getRun(id)).toMatchObject({ status: 'failed', attempts: 2, autoRetries: 1, errorReason: 'worker process killed by SIGKILL before finishing' });
    expect(cluster.submissions).toEqual([id, id]);
  });
});
