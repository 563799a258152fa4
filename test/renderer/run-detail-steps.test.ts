// @vitest-environment happy-dom
import { mount } from '@vue/test-utils';
import { createPinia, setActivePinia } from 'pinia';
import { describe, expect, it, vi } from 'vitest';
import { createMemoryHistory, createRouter } from 'vue-router';
import { routes } from '../../src-renderer/router';
import type { StepChartSeries } from '../../src-renderer/lib/step-chart';
import RunDetailView from '../../src-renderer/views/RunDetailView.vue';
import { parseRunSpec } from '../../src-worker/run-spec';
import { epochMetrics } from '../main/store/helpers';
import { settle, useInProcessClient } from './in-process-client';

const env = useInProcessClient();

function chartSeries(wrapper: ReturnType<typeof mount>, title: string): StepChartSeries[] {
  const chart = wrapper.findAllComponents({ name: 'StepCurvesChart' }).find((c) => c.props('title') === title);
  if (!chart) throw new Error(`no chart "${title}"`);
  return chart.props('series') as StepChartSeries[];
}

describe('run detail: step-level curves, stored and live', () => {
  it('draws the stored points, then grows them from a live steps event without counting steps as epochs', async () => {
    const { sweep } = env.store.upsertSweep({ name: 'live-steps', spec: {} });
    const [run] = env.store.addRuns(sweep.id, [parseRunSpec({ model: 'kn_cnn', dataset: 'synthetic', epochs: 3, batchSize: 16, lr: 0.1, seed: 1 })]).runs;
    if (!run) throw new Error('no run added');
    env.store.markRunning(run.id, 'cpu:0');
    // resumed after epoch 1 of a run whose first steps were logged elsewhere: the data starts at step 40
    env.store.apply(run.id, { event: 'steps', epoch: 2, points: [{ step: 40, train_loss: 2, lr: 0.1 }, { step: 50, train_loss: 1, lr: 0.1 }] });
    env.store.apply(run.id, { event: 'epoch', epoch: 2, metrics: epochMetrics() });
    env.store.flush();

    setActivePinia(createPinia());
    const router = createRouter({ history: createMemoryHistory(), routes });
    await router.push(`/runs/${run.id}`);
    // ECharts needs a real canvas, which happy-dom lacks; the charts' inputs are what is checked here
    const wrapper = mount(RunDetailView, { props: { id: run.id }, global: { plugins: [router], stubs: { LineChart: true, StepCurvesChart: true } } });
    await vi.waitFor(() => expect(wrapper.find('[data-testid="step-curves"]').exists()).toBe(true));
    expect(wrapper.find('[data-testid="step-curves"]').text()).toContain('2 points, steps 40–50');
    const chart = wrapper.findAllComponents({ name: 'StepCurvesChart' })[0];
    expect(chart?.props('xMin')).toBe(40);
    const [raw, smooth] = chartSeries(wrapper, 'Train loss per step');
    expect(raw).toMatchObject({ name: 'train loss (raw)', faint: true, points: [[40, 2], [50, 1]] });
    // debiased EMA at α 0.6: (0.6·0.4·2 + 0.4·1) / (1 − 0.36)
    expect(smooth?.name).toBe('train loss (EMA α 0.60)');
    expect(smooth?.points[1]?.[1]).toBeCloseTo((0.48 + 0.4) / 0.64, 12);
    expect(wrapper.find('[data-testid="epochs-done"]').text()).toBe('2 / 3');

    env.live.emit({ type: 'worker', runId: run.id, event: { event: 'steps', runId: run.id, epoch: 3, points: [{ step: 60, train_loss: 0.5, lr: 0.05 }] } });
    await settle(20);
    expect(chartSeries(wrapper, 'Train loss per step')[0]?.points).toEqual([[40, 2], [50, 1], [60, 0.5]]);
    expect(chartSeries(wrapper, 'Learning rate per step')[0]?.points).toEqual([[40, 0.1], [50, 0.1], [60, 0.05]]);
    expect(wrapper.find('[data-testid="step-curves"]').text()).toContain('3 points, steps 40–60');
    // step 60 is not epoch 60
    expect(wrapper.find('[data-testid="epochs-done"]').text()).toBe('2 / 3');

    // the slider's α reaches the smoothed series
    await wrapper.find('input[aria-label="Smoothing of the step-level loss"]').setValue('0');
    expect(chartSeries(wrapper, 'Train loss per step')[1]).toMatchObject({ name: 'train loss (EMA α 0.00)', points: [[40, 2], [50, 1], [60, 0.5]] });
    wrapper.unmount();
  });
});
