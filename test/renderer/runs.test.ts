// @vitest-environment happy-dom
import { flushPromises, mount } from '@vue/test-utils';
import { createPinia, setActivePinia } from 'pinia';
import { describe, expect, it, vi } from 'vitest';
import { createMemoryHistory, createRouter } from 'vue-router';
import { routes } from '../../src-renderer/router';
import { useLiveStore } from '../../src-renderer/stores/live';
import { useRunsStore } from '../../src-renderer/stores/runs';
import RunDetailView from '../../src-renderer/views/RunDetailView.vue';
import RunsView from '../../src-renderer/views/RunsView.vue';
import { populateFixtureStore } from '../e2e/fixture-store';
import { useInProcessClient } from './in-process-client';

let ids: ReturnType<typeof populateFixtureStore>;
const env = useInProcessClient((file) => {
    ids = populateFixtureStore(file);
  });

function progress(runId: number, batch: number) {
  return { type: 'worker' as const, runId, event: { event: 'progress' as const, epoch: 2, batch, batchesPerEpoch: 16, imagesPerSec: 180 + batch, etaSec: 42, loss: 1.5 } };
}

describe('live store', () => {
  it('applies a batch in one update and keeps only the newest progress per run', () => {
    setActivePinia(createPinia());
    const live = useLiveStore();
    live.apply([progress(7, 1), progress(7, 5), progress(8, 2), { type: 'run_started', runId: 9, device: 'gpu:0' }]);
    expect(live.progress.get(7)).toMatchObject({ batch: 5, imagesPerSec: 185 });
    expect(live.progress.get(8)).toMatchObject({ batch: 2 });
    expect(live.devices.get(9)).toBe('gpu:0');
    live.apply([{ type: 'run_ended', runId: 7 }]);
    expect(live.progress.has(7)).toBe(false);
  });
});

describe('RunsView on a real store', () => {
  async function mountRuns() {
    setActivePinia(createPinia());
    const router = createRouter({ history: createMemoryHistory(), routes });
    await router.push('/runs');
    const wrapper = mount(RunsView, { global: { plugins: [router] } });
    await vi.waitFor(() => expect(wrapper.findAll('tbody tr').length).toBeGreaterThan(0));
    return wrapper;
  }

  it('lists runs with status and result, filters by status, and pages', async () => {
    const wrapper = await mountRuns();
    const runs = useRunsStore();
    expect(runs.total).toBe(ids.runIds.length + 2);
    expect(wrapper.text()).toContain('test top-1 80.50 %');
    expect(wrapper.text()).toContain('worker process exited with code 1');
    await wrapper.findAll('button.chip').find((b) => b.text() === 'failed')!.trigger('click');
    await flushPromises();
    await vi.waitFor(() => expect(wrapper.findAll('table[aria-label="Runs"] tbody tr')).toHaveLength(1));
    expect(runs.total).toBe(1);
    expect(wrapper.find('button[aria-pressed="true"]').text()).toBe('failed');
    wrapper.unmount();
  });

  it('shows live progress of a running run and re-reads the page when runs start or end', async () => {
    const wrapper = await mountRuns();
    const runs = useRunsStore();
    const live = useLiveStore();
    env.store.markRunning(ids.queuedRunId, 'cpu:1');
    env.live.emit({ type: 'run_started', runId: ids.queuedRunId, device: 'cpu:1' });
    // a start marks the page stale; it is re-read after at most a second
    await vi.waitFor(() => expect(runs.runs.find((r) => r.id === ids.queuedRunId)?.status).toBe('running'), { timeout: 3000 });
    env.live.emit(progress(ids.queuedRunId, 4));
    env.live.emit(progress(ids.queuedRunId, 8));
    await flushPromises();
    expect(live.progress.get(ids.queuedRunId)?.batch).toBe(8);
    const row = wrapper.findAll('tbody tr').find((tr) => tr.find('td a').text() === String(ids.queuedRunId))!;
    expect(row.text()).toContain('epoch 2/3 · batch 8/16 · 188 img/s · ETA 42 s');
    expect(row.find('[role="progressbar"]').attributes('aria-valuenow')).toBe(String(Math.round(((1 + 8 / 16) / 3) * 100)));
    wrapper.unmount();
  });

  it('retries a failed run and cancels a queued one through the API', async () => {
    const wrapper = await mountRuns();
    const runs = useRunsStore();
    await wrapper.find(`button[aria-label="Retry run ${ids.failedRunId}"]`).trigger('click');
    await vi.waitFor(() => expect(runs.runs.find((r) => r.id === ids.failedRunId)?.status).toBe('queued'));
    await wrapper.find(`button[aria-label="Cancel run ${ids.failedRunId}"]`).trigger('click');
    await vi.waitFor(() => expect(runs.runs.find((r) => r.id === ids.failedRunId)?.status).toBe('cancelled'));
    expect(env.store.getRun(ids.failedRunId)?.status).toBe('cancelled');
    expect(runs.actionError).toBeNull();
    wrapper.unmount();
  });

  it('retries a run with changes from the row\'s dialog: a new run in the same sweep, the original kept', async () => {
    const wrapper = await mountRuns();
    const runs = useRunsStore();
    const original = env.store.getRun(ids.failedRunId)!;
    expect(original.status).toBe('cancelled'); // from the test before
    await wrapper.find(`button[aria-label="Clone and edit run ${original.id}"]`).trigger('click');
    const dialog = wrapper.find('[role="dialog"]');
    expect(dialog.find('h2').text()).toBe(`Retry run ${original.id} with changes`);
    expect((dialog.find('input[name="lr"]').element as HTMLInputElement).value).toBe(String(original.lr));
    expect(dialog.find('[data-testid="retry-summary"]').text()).toBe('Nothing changed: the run itself is queued again.');
    await dialog.find('input[name="lr"]').setValue('0');
    expect(dialog.find('button[type="submit"]').attributes('disabled')).toBeDefined();
    expect(dialog.text()).toContain('a number > 0');
    await dialog.find('input[name="lr"]').setValue('0.02');
    await dialog.find('input[name="epochs"]').setValue('5');
    expect(dialog.find('[data-testid="retry-summary"]').text()).toBe(`New run with lr ${original.lr} → 0.02, epochs ${original.epochs} → 5.`);
    expect(dialog.find('button[type="submit"]').text()).toBe('Queue new run');
    await dialog.find('form').trigger('submit');
    await vi.waitFor(() => expect(wrapper.find('[role="dialog"]').exists()).toBe(false));
    const clone = env.store.listRuns({ sweepId: original.sweepId }).find((r) => r.lr === 0.02 && r.epochs === 5);
    expect(clone).toMatchObject({ status: 'queued', seed: original.seed, model: original.model });
    expect(env.store.getRun(original.id)).toEqual(original);
    await vi.waitFor(() => expect(runs.total).toBe(ids.runIds.length + 3));

    // the same edit again would duplicate the clone: the server's refusal shows in the dialog, which stays open
    await wrapper.find(`button[aria-label="Clone and edit run ${original.id}"]`).trigger('click');
    await wrapper.find('[role="dialog"] input[name="lr"]').setValue('0.02');
    await wrapper.find('[role="dialog"] input[name="epochs"]').setValue('5');
    await wrapper.find('[role="dialog"] form').trigger('submit');
    await vi.waitFor(() => expect(wrapper.find('[role="dialog"] [role="alert"]').exists()).toBe(true));
    expect(wrapper.find('[role="dialog"] [role="alert"]').text()).toBe(
      `retry run ${original.id}: sweep ${original.sweepId} already has this config and seed: run ${clone!.id} (queued); retry that run instead`,
    );
    // the refusal belongs to the dialog, not to the page's banner
    expect(runs.actionError).toBeNull();
    await wrapper.find('[role="dialog"] button[type="button"]').trigger('click');
    expect(wrapper.find('[role="dialog"]').exists()).toBe(false);
    wrapper.unmount();
  });

  it('the run page\'s Clone and edit… queues the clone and opens it', async () => {
    setActivePinia(createPinia());
    const router = createRouter({ history: createMemoryHistory(), routes });
    const id = ids.failedRunId;
    await router.push(`/runs/${id}`);
    const wrapper = mount(RunDetailView, { props: { id }, global: { plugins: [router], stubs: { LineChart: true } } });
    await vi.waitFor(() => expect(wrapper.find('h1').text()).toContain(`Run ${id}`));
    const edit = wrapper.findAll('button').find((b) => b.text() === 'Clone and edit…');
    expect(edit).toBeDefined();
    await edit!.trigger('click');
    await wrapper.find('[role="dialog"] input[name="seed"]').setValue('9');
    await wrapper.find('[role="dialog"] form').trigger('submit');
    await vi.waitFor(() => expect(router.currentRoute.value.path).not.toBe(`/runs/${id}`));
    const clone = env.store.listRuns().find((r) => r.seed === 9);
    expect(router.currentRoute.value.path).toBe(`/runs/${clone!.id}`);
    expect(env.store.getLogs(clone!.id).map((l) => l.message)).toEqual([expect.stringMatching(new RegExp(`^cloned from run ${id} \\(cancelled\\) with seed \\d+ → 9$`))]);
    wrapper.unmount();
  });
});
