// @vitest-environment happy-dom
import { mount } from '@vue/test-utils';
import { createPinia, setActivePinia } from 'pinia';
import { describe, expect, it, vi } from 'vitest';
import { createMemoryHistory, createRouter } from 'vue-router';
import { listModels } from '../../src-worker/models';
import { routes } from '../../src-renderer/router';
import SweepBuilderView from '../../src-renderer/views/SweepBuilderView.vue';
import { useSweepsStore } from '../../src-renderer/stores/sweeps';
import { useInProcessClient, settle } from './in-process-client';

const env = useInProcessClient();

async function mountBuilder() {
  setActivePinia(createPinia());
  const router = createRouter({ history: createMemoryHistory(), routes });
  await router.push('/sweeps/new');
  const wrapper = mount(SweepBuilderView, { global: { plugins: [router] }, attachTo: document.body });
  await settle(50);
  return { wrapper, router };
}

describe('SweepBuilderView', () => {
  it('lists every model of the registry, read through the API', async () => {
    const { wrapper } = await mountBuilder();
    const boxes = wrapper.findAll('fieldset.models input[type="checkbox"]');
    const byName = (a?: string, b?: string) => String(a).localeCompare(String(b));
    expect(boxes.map((b) => b.attributes('value')).sort(byName)).toEqual(listModels().map((m) => m.name).sort(byName));
    wrapper.unmount();
  });

  it('counts runs as you type, validates fields, and queues the sweep', async () => {
    const { wrapper, router } = await mountBuilder();
    const store = useSweepsStore();
    // a fresh form shows no errors yet, and does not ask to fix red fields that are not there
    expect(wrapper.findAll('[role="alert"]')).toHaveLength(0);
    expect(wrapper.findAll('[aria-invalid="true"]')).toHaveLength(0);
    expect(wrapper.text()).not.toContain('Fix the fields marked in red');
    expect(wrapper.find('[data-testid="to-do"]').text()).toContain('pick at least one model');

    await wrapper.find('input[placeholder="kn-vs-bn-cifar10"]').setValue('ui-kn-vs-norms');
    await wrapper.findAll('button').find((b) => b.text() === 'KN vs BN/GN/LN, depth 18')!.trigger('click');
    await wrapper.find('input[placeholder="32, 256"]').setValue('32, x');
    await settle();
    expect(wrapper.text()).toContain('"x" is not a number');
    expect(store.local.spec).toBeNull();

    await wrapper.find('input[placeholder="32, 256"]').setValue('32, 128');
    await settle();
    // 4 models (KN, BN, GN, LN at depth 18) × 2 batch sizes × 1 lr × 3 repeats
    expect(wrapper.find('[data-testid="run-count"]').text()).toMatch(/^24 runs/);
    expect(store.preview).toMatchObject({ ok: true, runs: 24, groups: 8 });
    expect(wrapper.text()).not.toContain('is not a number');

    await wrapper.find('form').trigger('submit');
    await settle(100);
    expect(store.submitted).toMatchObject({ name: 'ui-kn-vs-norms', runs: { total: 24, created: 24 } });
    // the runs page is a lazily loaded route
    await vi.waitFor(() => expect(router.currentRoute.value.fullPath).toBe(`/runs?sweep=${store.submitted!.sweepId}`), { timeout: 10_000 });
    const runs = await env.client.listRuns({ sweepId: store.submitted!.sweepId });
    expect(new Set(runs.map((r) => r.model))).toEqual(new Set(['knresnet18', 'resnet18_bn', 'resnet18_gn', 'resnet18_ln']));
    expect(runs.every((r) => r.status === 'queued')).toBe(true);
    wrapper.unmount();
  });

  it('groups the fields with their defaults shown, and folds the execution options away', async () => {
    const { wrapper } = await mountBuilder();
    for (const id of ['model-data', 'optimisation', 'schedule', 'normalization', 'execution']) expect(wrapper.find(`[data-testid="group-${id}"]`).exists(), id).toBe(true);
    const optimisation = wrapper.find('[data-testid="group-optimisation"]');
    expect(optimisation.find('[data-field="momentum"] input').attributes('placeholder')).toBe('0.9 (default)');
    expect(optimisation.find('[data-field="weightDecay"] input').attributes('placeholder')).toBe('0.0005 (default)');
    expect(wrapper.find('[data-testid="group-normalization"] [data-field="knDropout"]').exists()).toBe(true);
    expect(wrapper.find('[data-testid="group-schedule"] [data-field="schedule"]').exists()).toBe(true);
    expect(wrapper.find('[data-field="backend"]').exists()).toBe(false);
    expect(wrapper.find('[data-testid="execution-toggle"]').text()).toContain('backend: auto (default)');
    await wrapper.find('[data-testid="execution-toggle"]').trigger('click');
    expect(wrapper.find('[data-testid="group-execution"] [data-field="backend"] select').exists()).toBe(true);
    wrapper.unmount();
  });

  it('shows the server\'s data-folder refusal at the data-folder field, and queues nothing', async () => {
    const { wrapper } = await mountBuilder();
    const store = useSweepsStore();
    store.form.name = 'missing-folder';
    store.form.models = ['kn_cnn'];
    store.form.dataset = 'cifar10';
    store.form.dataDir = '/nonexistent/normlab-cifar';
    // the debounced preview asks the server, whose submit checks look at the disk
    await vi.waitFor(() => expect(store.serverDataDirError).toMatch(/\/nonexistent\/normlab-cifar does not exist/), { timeout: 10_000 });
    await settle();
    const atField = wrapper.find('.dataset .error-text');
    expect(atField.text()).toMatch(/data folder \/nonexistent\/normlab-cifar does not exist/);
    await wrapper.find('form').trigger('submit');
    await settle(100);
    expect(store.submitted).toBeNull();
    expect(await env.client.listSweeps()).not.toContainEqual(expect.objectContaining({ name: 'missing-folder' }));
    wrapper.unmount();
  });

  it('shows the spec problems the server finds (the real schema), not only local ones', async () => {
    const { wrapper } = await mountBuilder();
    const store = useSweepsStore();
    store.form.name = 'lr-search-seeds';
    store.form.models = ['kn_cnn'];
    store.form.lrMode = 'search';
    store.form.seedMode = 'seeds';
    store.form.seeds = '1';
    await settle();
    // lrSearch.repeats is 3 but only one seed is listed: only the real schema knows that rule
    expect(store.local.spec).not.toBeNull();
    expect(store.preview).toMatchObject({ ok: false });
    expect(wrapper.text()).toContain('lists 1 seeds but lrSearch.repeats is 3');
    wrapper.unmount();
  });
});
