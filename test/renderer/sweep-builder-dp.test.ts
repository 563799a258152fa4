// @vitest-environment happy-dom
import { mount } from '@vue/test-utils';
import { createPinia, setActivePinia } from 'pinia';
import { describe, expect, it, vi } from 'vitest';
import { createMemoryHistory, createRouter } from 'vue-router';
import { routes } from '../../src-renderer/router';
import { useSweepsStore } from '../../src-renderer/stores/sweeps';
import RunDetailView from '../../src-renderer/views/RunDetailView.vue';
import SweepBuilderView from '../../src-renderer/views/SweepBuilderView.vue';
import { epochMetrics } from '../main/store/helpers';
import { useInProcessClient, settle } from './in-process-client';

const env = useInProcessClient();

async function mountAt(path: string, component: object, props: Record<string, unknown> = {}) {
  setActivePinia(createPinia());
  const router = createRouter({ history: createMemoryHistory(), routes });
  await router.push(path);
  // ECharts needs a real canvas, which happy-dom lacks; the chart's inputs are what is checked here
  const wrapper = mount(component, { props, global: { plugins: [router], stubs: { LineChart: true } }, attachTo: document.body });
  await settle(50);
  return { wrapper, router };
}

const box = (wrapper: ReturnType<typeof mount>, model: string) => wrapper.find(`fieldset.models input[value="${model}"]`);

describe('sweep builder: Differential privacy (DP-SGD)', () => {
  let sweepId = 0;

  it('greys out BatchNorm models, sets Mish, grids the clipping bounds and queues DP runs', async () => {
    const { wrapper } = await mountAt('/sweeps/new', SweepBuilderView);
    const store = useSweepsStore();
    // the model list comes from the registry through the API: the first load imports it, slow on a busy CI machine
    await vi.waitFor(() => expect(box(wrapper, 'resnet18_bn').exists()).toBe(true), { timeout: 30_000 });
    await wrapper.find('input[placeholder="kn-vs-bn-cifar10"]').setValue('ui-dp');
    for (const m of ['kn_cnn', 'resnet18_bn', 'resnet18_gn']) await box(wrapper, m).setValue(true);
    expect(box(wrapper, 'resnet18_bn').attributes('disabled')).toBeUndefined();
    expect(wrapper.find('[data-testid="dp-epsilon"]').exists()).toBe(false);

    await wrapper.find('[data-testid="dp-enabled"]').setValue(true);
    // the BN model is dropped from the selection and can no longer be picked, with the reason shown
    expect(store.form.models).toEqual(['kn_cnn', 'resnet18_gn']);
    expect(box(wrapper, 'resnet18_bn').attributes('disabled')).toBeDefined();
    expect((box(wrapper, 'resnet18_bn').element as HTMLInputElement).checked).toBe(false);
    expect(box(wrapper, 'resnet18_bn').element.closest('label')!.getAttribute('title')).toBe(
      'DP-SGD cannot train resnet18_bn: BatchNorm mixes examples in a batch; use a KN, GN or LN model',
    );
    expect(box(wrapper, 'resnet18_gn').attributes('disabled')).toBeUndefined();
    expect(wrapper.find('[data-testid="blocked-note"]').text()).toMatch(/models greyed out: DP-SGD is on, and BatchNorm mixes examples/);
    // the paper's defaults, and Mish shown as set
    expect((wrapper.find('[data-testid="dp-epsilon"]').element as HTMLInputElement).value).toBe('8');
    expect((wrapper.find('[data-testid="dp-delta"]').element as HTMLInputElement).value).toBe('8e-7');
    expect(wrapper.find('[data-testid="dp-notes"]').text()).toContain('Activation: Mish');

    await wrapper.find('[data-testid="dp-clips"]').setValue('1, 2');
    await wrapper.find('input[placeholder="0.1, 0.05"]').setValue('2');
    await settle();
    // 2 models × 2 clipping bounds × 3 repeats
    expect(wrapper.find('[data-testid="run-count"]').text()).toMatch(/^12 runs/);
    // the first DP preview loads the model registry on the server side to check the models
    await vi.waitFor(() => expect(store.preview).toMatchObject({ ok: true, runs: 12, groups: 4 }), { timeout: 10_000 });
    expect(store.local.spec).toMatchObject({
      base: { activation: 'mish', dp: { targetEpsilon: 8, delta: 8e-7, logicalBatch: 256 } },
      grid: { model: ['kn_cnn', 'resnet18_gn'], 'dp.maxGradNorm': [1, 2] },
    });

    await wrapper.find('[data-testid="dp-clips"]').setValue('1, -1');
    await settle(50);
    expect(wrapper.text()).toContain('"-1" must be greater than 0');
    await wrapper.find('[data-testid="dp-clips"]').setValue('1, 2');
    await settle();

    await wrapper.find('form').trigger('submit');
    await settle(100);
    expect(store.submitted).toMatchObject({ name: 'ui-dp', runs: { total: 12, created: 12 } });
    sweepId = store.submitted!.sweepId;
    const runs = await env.client.listRuns({ sweepId });
    expect(runs.every((r) => r.spec.activation === 'mish' && r.spec.dp?.targetEpsilon === 8)).toBe(true);
    expect(new Set(runs.map((r) => r.spec.dp!.maxGradNorm))).toEqual(new Set([1, 2]));
    wrapper.unmount();
  });

  it('the server refuses a BN model under DP even if the form is bypassed', async () => {
    const { wrapper } = await mountAt('/sweeps/new', SweepBuilderView);
    const store = useSweepsStore();
    store.form.name = 'ui-dp-bn';
    store.form.models = ['resnet18_bn'];
    store.form.dp.enabled = true;
    await settle(50);
    store.form.models = ['resnet18_bn']; // past the picker, straight into the form
    await settle();
    expect(store.local.errors.models).toBe('DP-SGD cannot train resnet18_bn: BatchNorm mixes examples in a batch; use a KN, GN or LN model');
    const rejected = await env.client.previewSweep({ name: 'x', base: { dataset: 'synthetic', epochs: 1, batchSize: 8, lr: 1, model: 'resnet18_bn', dp: { targetEpsilon: 8, logicalBatch: 64 } } });
    expect(rejected).toEqual({ ok: false, problems: ['base.model: DP-SGD cannot train resnet18_bn: BatchNorm mixes examples in a batch; use a KN, GN or LN model'] });
    wrapper.unmount();
  });

  it('run detail shows the privacy spent from the epoch metrics', async () => {
    const [run] = await env.client.listRuns({ sweepId, limit: 1 });
    env.store.markRunning(run.id, 'cpu:0');
    env.store.apply(run.id, { event: 'epoch', epoch: 1, metrics: epochMetrics({ train_acc: NaN, epsilon: 4.8789 }) });
    env.store.apply(run.id, { event: 'epoch', epoch: 2, metrics: epochMetrics({ train_acc: NaN, epsilon: 7.9997 }) });
    env.store.flush();
    const { wrapper } = await mountAt(`/runs/${run.id}`, RunDetailView, { id: run.id });
    await vi.waitFor(() => expect(wrapper.find('[data-testid="privacy"]').exists()).toBe(true));
    expect(wrapper.find('[data-testid="privacy"]').text()).toBe('Privacy spent (DP-SGD)ε 8.000 of 8 at δ 8e-7');
    const chart = wrapper.findAll('line-chart-stub').find((c) => c.attributes('title') === 'Privacy spent');
    expect(chart).toBeDefined();
    wrapper.unmount();
  });
});
