// @vitest-environment happy-dom
import { flushPromises, mount } from '@vue/test-utils';
import { createPinia, setActivePinia } from 'pinia';
import { describe, expect, it, vi } from 'vitest';
import type { Component } from 'vue';
import { createMemoryHistory, createRouter } from 'vue-router';
import type { QueueState } from '../../src-main/api/types';
import { setClient, type NormLabClient } from '../../src-renderer/api/client';
import { routes } from '../../src-renderer/router';
import { STORE_POLL_MS } from '../../src-renderer/stores/runs';
import RunDetailView from '../../src-renderer/views/RunDetailView.vue';
import RunsView from '../../src-renderer/views/RunsView.vue';
import { populateFixtureStore } from '../e2e/fixture-store';
import { useInProcessClient } from './in-process-client';

/**
 * The runs and run pages when this server does not schedule the store: the banner for each case, the pause
 * controls and a running run's Cancel disabled with the reason, and the page re-read every 2 s (no live events
 * come) only then. The store is real; only queueState is set per case, since an in-process backend has no lease.
 */
let ids: ReturnType<typeof populateFixtureStore>;
const env = useInProcessClient((file) => {
  ids = populateFixtureStore(file);
});

const ELSEWHERE: QueueState = { paused: false, hasScheduler: true, scheduledBy: { pid: 4242, host: 'gpu-box', self: false, heartbeatAgeMs: 300 } };
const HERE: QueueState = { paused: false, hasScheduler: true, scheduledBy: { pid: 77, host: 'gpu-box', self: true, heartbeatAgeMs: 100 } };
const READ_ONLY_NOBODY: QueueState = { paused: null, hasScheduler: false, scheduledBy: null };

/** The real client with queueState answered by `state()`, counting listRuns calls. */
function clientWith(state: () => QueueState): { listRunsCalls: () => number } {
  let calls = 0;
  const client: NormLabClient = {
    ...env.client,
    queueState: async () => state(),
    listRuns: (...args) => {
      calls++;
      return env.client.listRuns(...args);
    },
  };
  setClient(client);
  return { listRunsCalls: () => calls };
}

// Component, not `typeof RunsView | typeof RunDetailView`: lint types .vue imports through the env.d.ts shim, where
// both are one type
async function mountView(path: string, component: Component, props: Record<string, unknown> = {}) {
  setActivePinia(createPinia());
  const router = createRouter({ history: createMemoryHistory(), routes });
  await router.push(path);
  return mount(component, { props, global: { plugins: [router], stubs: { LineChart: true } } });
}

describe('runs page while another process schedules the store', () => {
  it('names that process, disables pause and Cancel of its running run with the reason, shows stored epochs, and re-reads every 2 s', async () => {
    env.store.markRunning(ids.queuedRunId, 'gpu:0');
    env.store.apply(ids.queuedRunId, {
      event: 'epoch', epoch: 1,
      metrics: { train_loss: 2, train_acc: 0.2, test_loss: 2, test_acc: 0.25, test_acc5: 0.7, lr: 0.1, epoch_time_s: 1, images_per_s: 100, num_tensors: 10 },
    });
    env.store.flush();
    const counter = clientWith(() => ELSEWHERE);
    const wrapper = await mountView('/runs', RunsView);
    await vi.waitFor(() => expect(wrapper.find('[data-testid="scheduler-banner"]').exists()).toBe(true));
    const banner = wrapper.find('[data-testid="scheduler-banner"]').text();
    expect(banner).toContain('scheduled by another NormLab process (pid 4242 on host gpu-box)');
    expect(banner).toContain('reading the store every 2 s');
    expect(wrapper.find('[data-testid="queue-control-reason"]').text()).toContain('pid 4242 on gpu-box places the runs');
    expect(wrapper.find('button[disabled]').text()).toBe('Pause queue');
    expect(wrapper.find('[data-testid="devices-note"]').exists()).toBe(true);

    await vi.waitFor(() => expect(wrapper.find('[data-testid="stored-progress"]').exists()).toBe(true));
    expect(wrapper.find('[data-testid="stored-progress"]').text()).toMatch(/^1\/\d+ epochs done · read from the store$/);
    expect(wrapper.find(`button[aria-label="Cancel run ${ids.queuedRunId}"]`).attributes('disabled')).toBeDefined();

    const before = counter.listRunsCalls();
    await new Promise((r) => setTimeout(r, STORE_POLL_MS + 400));
    expect(counter.listRunsCalls()).toBeGreaterThan(before);
    wrapper.unmount();
  });

  it('the run page says so too, and shows the epochs the store has instead of live progress', async () => {
    clientWith(() => ELSEWHERE);
    const wrapper = await mountView(`/runs/${ids.queuedRunId}`, RunDetailView, { id: ids.queuedRunId });
    await vi.waitFor(() => expect(wrapper.find('[data-testid="stored-progress"]').exists()).toBe(true));
    expect(wrapper.find('[data-testid="scheduler-banner"]').text()).toContain('pid 4242');
    expect(wrapper.find('[data-testid="epochs-done"]').text()).toMatch(/^1 \/ \d+$/);
    expect(wrapper.text()).toContain('Another process trains this run: stop it there.');
    expect(wrapper.find('button.danger').attributes('disabled')).toBeDefined();
    wrapper.unmount();
  });

  it('with a stale heartbeat says the process may have stopped', async () => {
    clientWith(() => ({ ...ELSEWHERE, scheduledBy: { ...ELSEWHERE.scheduledBy!, heartbeatAgeMs: 40_000 } }));
    const wrapper = await mountView('/runs', RunsView);
    await vi.waitFor(() => expect(wrapper.find('[data-testid="scheduler-banner"]').exists()).toBe(true));
    expect(wrapper.find('[data-testid="scheduler-banner"]').text()).toContain('Its last heartbeat was 40 s ago: it may have stopped.');
    wrapper.unmount();
  });
});

describe('runs page in the other cases', () => {
  it('read-only with nobody scheduling: says queued runs wait, shows no pause control', async () => {
    clientWith(() => READ_ONLY_NOBODY);
    const wrapper = await mountView('/runs', RunsView);
    await vi.waitFor(() => expect(wrapper.find('[data-testid="scheduler-banner"]').exists()).toBe(true));
    expect(wrapper.find('[data-testid="scheduler-banner"]').text()).toContain('No NormLab process is scheduling runs in this store');
    expect(wrapper.findAll('button').some((b) => b.text().includes('Pause queue'))).toBe(false);
    wrapper.unmount();
  });

  it('this server schedules: no banner, pause enabled, no polling (live events drive the page)', async () => {
    const counter = clientWith(() => HERE);
    const wrapper = await mountView('/runs', RunsView);
    await vi.waitFor(() => expect(wrapper.findAll('button').some((b) => b.text() === 'Pause queue')).toBe(true));
    await flushPromises();
    expect(wrapper.find('[data-testid="scheduler-banner"]').exists()).toBe(false);
    expect(wrapper.findAll('button').find((b) => b.text() === 'Pause queue')!.attributes('disabled')).toBeUndefined();
    const before = counter.listRunsCalls();
    await new Promise((r) => setTimeout(r, STORE_POLL_MS + 400));
    expect(counter.listRunsCalls()).toBe(before);
    wrapper.unmount();
    setClient(env.client);
  });
});
