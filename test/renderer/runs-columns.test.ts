// @vitest-environment happy-dom
import { flushPromises, mount } from '@vue/test-utils';
import { createPinia, setActivePinia } from 'pinia';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { createMemoryHistory, createRouter } from 'vue-router';
import type { RunRecord, RunStatus } from '../../src-main/store/types';
import { COLUMNS_STORAGE_KEY, DEFAULT_COLUMN_IDS, loadColumnChoice, RUN_COLUMNS } from '../../src-renderer/lib/run-columns';
import { sweepProgress } from '../../src-renderer/lib/sweep-progress';
import { routes } from '../../src-renderer/router';
import { useRunsStore } from '../../src-renderer/stores/runs';
import RunsView from '../../src-renderer/views/RunsView.vue';
import { FIXTURE_EPOCHS, populateFixtureStore } from '../e2e/fixture-store';
import { spec } from '../main/store/helpers';
import { useInProcessClient } from './in-process-client';

let ids: ReturnType<typeof populateFixtureStore>;
useInProcessClient((file) => {
  ids = populateFixtureStore(file);
});

async function mountRuns() {
  setActivePinia(createPinia());
  const router = createRouter({ history: createMemoryHistory(), routes });
  await router.push('/runs');
  const wrapper = mount(RunsView, { global: { plugins: [router] }, attachTo: document.body });
  await vi.waitFor(() => expect(wrapper.findAll('tbody tr').length).toBeGreaterThan(0));
  return wrapper;
}

const headers = (w: Awaited<ReturnType<typeof mountRuns>>) => w.findAll('table[aria-label="Runs"] thead th').map((th) => th.text());

describe('runs table columns', () => {
  beforeEach(() => localStorage.clear());

  it('shows sweep, width and duration by default, with each run\'s values', async () => {
    const w = await mountRuns();
    expect(headers(w)).toEqual(['Run', 'Sweep', 'Model', 'Data', 'Width', 'Batch', 'LR', 'Epochs', 'Seed', 'Status', 'Progress / result', 'Duration', 'Device', 'Actions']);
    const first = w.find('table[aria-label="Runs"] tbody tr');
    expect(first.find('td[data-col="sweep"]').text()).toBe('fixture-kn-vs-bn');
    expect(first.find('td[data-col="width"]').text()).toBe('1');
    expect(first.find('td[data-col="epochs"]').text()).toBe(String(FIXTURE_EPOCHS));
    // the fixture's runs start and finish within the same few milliseconds
    expect(first.find('td[data-col="duration"]').text()).toBe('0 s');
    const queued = w.findAll('table[aria-label="Runs"] tbody tr').find((tr) => tr.find('a').text() === String(ids.queuedRunId));
    expect(queued?.find('td[data-col="duration"]').text()).toBe('—');
    // with one sweep picked, its name on every row says nothing
    await useRunsStore().setFilter({ sweepId: ids.sweepId });
    await flushPromises();
    expect(headers(w)).not.toContain('Sweep');
    expect(headers(w)).toContain('Width');
    w.unmount();
  });

  it('adds and removes columns from the picker, keeps table order, and remembers the choice in localStorage', async () => {
    const w = await mountRuns();
    await w.find('[data-testid="column-picker-toggle"]').trigger('click');
    await w.find('input[data-column="config.weightDecay"]').setValue(true);
    await w.find('input[data-column="seed"]').setValue(false);
    await flushPromises();
    expect(headers(w)).toEqual(['Run', 'Sweep', 'Model', 'Data', 'Width', 'Batch', 'LR', 'Epochs', 'Weight decay', 'Status', 'Progress / result', 'Duration', 'Device', 'Actions']);
    expect(w.find('table[aria-label="Runs"] tbody td[data-col="config.weightDecay"]').text()).toBe('0.0005');
    const saved = JSON.parse(localStorage.getItem(COLUMNS_STORAGE_KEY) ?? 'null') as string[];
    expect(saved).toContain('config.weightDecay');
    expect(saved).not.toContain('seed');
    w.unmount();

    // a new visit reads the choice back
    const again = await mountRuns();
    expect(headers(again)).toContain('Weight decay');
    expect(headers(again)).not.toContain('Seed');
    again.unmount();
  });

  it('offers every run-spec field as a column and drops unknown ids from a saved choice', () => {
    for (const key of ['momentum', 'schedule', 'groups', 'knDropout', 'optimizer', 'backend']) {
      expect(RUN_COLUMNS.map((c) => c.id)).toContain(`config.${key}`);
    }
    expect(loadColumnChoice({ getItem: () => JSON.stringify(['model', 'gone', 'config.momentum']) })).toEqual(['model', 'config.momentum']);
    expect(loadColumnChoice({ getItem: () => '{not json' })).toEqual([...DEFAULT_COLUMN_IDS]);
  });
});

function run(id: number, status: RunStatus, extra: Partial<RunRecord> = {}): RunRecord {
  return {
    id, sweepId: 1, groupKey: 'g', model: 'knresnet18', dataset: 'synthetic', seed: id, lr: 0.1, batchSize: 32, epochs: 4,
    status, priority: 0, device: null, attempts: 1, errorReason: null, stderrTail: null, spec: spec({ epochs: 4 }),
    finalTestAcc: null, bestTestAcc: null, finalTestLoss: null, epochsCompleted: null, createdAt: 0, startedAt: null,
    finishedAt: null, owner: null, checkpointDir: null, journalAck: { journal: null, seq: 0 }, autoRetries: 0, jobId: null, ...extra,
  };
}

describe('sweep progress', () => {
  it('counts runs and epochs, and takes the ETA from the measured epoch time over the parallel slots', () => {
    const runs = [
      // 4 epochs in 40 s: 10 s per epoch
      run(1, 'finished', { startedAt: 0, finishedAt: 40_000, epochsCompleted: 4 }),
      // half-way through epoch 3 at 25 s: 2.5 epochs
      run(2, 'running', { startedAt: 0 }),
      run(3, 'queued'),
      run(4, 'failed', { startedAt: 0, finishedAt: 5_000, epochsCompleted: 1 }),
    ];
    const p = sweepProgress({ runs, live: new Map([[2, { epoch: 3, batch: 8, batchesPerEpoch: 16 }]]), slots: 2, now: 25_000 });
    expect([p.runsTotal, p.runsEnded, p.runsRunning, p.runsFinished]).toEqual([4, 2, 1, 1]);
    // the failed run counts the one epoch it trained, not the four it would have
    expect([p.epochsDone, p.epochsTotal]).toEqual([4 + 2.5 + 0 + 1, 4 + 4 + 4 + 1]);
    // (40 + 25) s over (4 + 2.5) epochs = 10 s per epoch; 1.5 + 4 epochs left on 2 slots
    expect(p.secPerEpoch).toBeCloseTo(10, 9);
    expect(p.etaSec).toBeCloseTo((5.5 * 10) / 2, 9);
    expect(p.borrowed).toBe(0);
  });

  it('has no ETA before anything is timed, and none left when every run has ended', () => {
    expect(sweepProgress({ runs: [run(1, 'queued'), run(2, 'queued')], live: new Map(), slots: 2, now: 0 }).etaSec).toBeNull();
    const ended = sweepProgress({ runs: [run(1, 'finished', { startedAt: 0, finishedAt: 1000 }), run(2, 'cancelled', { epochsCompleted: 0 })], live: new Map(), slots: 1, now: 0 });
    expect([ended.etaSec, ended.epochsDone, ended.epochsTotal]).toEqual([0, 4, 4]);
  });

  it('says which runs borrow another configuration\'s epoch time', () => {
    const wide = run(3, 'queued', { spec: spec({ epochs: 4, width: 2 }) });
    const p = sweepProgress({ runs: [run(1, 'finished', { startedAt: 0, finishedAt: 8_000 }), wide], live: new Map(), slots: 1, now: 0 });
    expect(p.borrowed).toBe(1);
    expect(p.etaSec).toBeCloseTo(8, 9);
  });

  it('is shown in the runs view for an active sweep, with runs, epochs and the ETA state', async () => {
    const w = await mountRuns();
    await vi.waitFor(() => expect(w.find('[data-testid="sweep-progress"]').exists()).toBe(true));
    const panel = w.find('[data-testid="sweep-progress"]');
    const total = ids.runIds.length + 2;
    // the failed run ended, the queued one is left
    expect(panel.find('[data-testid="sweep-runs"]').text()).toBe(`${total - 1}/${total} runs ended`);
    expect(panel.find('[data-testid="sweep-epochs"]').text()).toBe(`${ids.runIds.length * FIXTURE_EPOCHS}/${(ids.runIds.length + 1) * FIXTURE_EPOCHS} epochs`);
    expect(panel.find('[data-testid="sweep-eta"]').text()).toMatch(/^ETA /);
    w.unmount();
  });
});
