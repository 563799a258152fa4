// @vitest-environment happy-dom
import { mount } from '@vue/test-utils';
import { createPinia, setActivePinia } from 'pinia';
import { describe, expect, it, vi } from 'vitest';
import { createMemoryHistory, createRouter } from 'vue-router';
import { routes } from '../../src-renderer/router';
import KernelStatsView from '../../src-renderer/views/KernelStatsView.vue';
import { populateFixtureStore } from '../e2e/fixture-store';
import { useInProcessClient } from './in-process-client';

/**
 * The view over the fixture study through the real API: its statistics were written without the near-constant
 * share (as stores from before it existed hold them), so this is also the old-rows case.
 */
let ids: ReturnType<typeof populateFixtureStore>;
const env = useInProcessClient((file) => {
  ids = populateFixtureStore(file);
});

async function mountView(query = '') {
  setActivePinia(createPinia());
  const router = createRouter({ history: createMemoryHistory(), routes });
  await router.push(`/kernel-stats${query}`);
  // the canvas charts (echarts) cannot draw in happy-dom; the Chromium E2E draws them for real
  const wrapper = mount(KernelStatsView, { global: { plugins: [router], stubs: { LineChart: true, HistogramHeatmap: true } }, attachTo: document.body });
  await vi.waitFor(() => expect(wrapper.findAll('[data-testid="layer-panel"]').length).toBe(4));
  return wrapper;
}

describe('kernel statistics view', () => {
  it('puts the BN run of the same sweep and seed next to the KN run, every layer as a panel, old rows without shares', async () => {
    const w = await mountView();
    const runs = ids.runIds.map((id) => env.store.getRun(id));
    const kn = runs.find((r) => r?.model === 'knresnet18' && r.seed === 1 && r.batchSize === 32);
    const bn = runs.find((r) => r?.model === 'resnet18_bn' && r.seed === 1 && r.batchSize === 32);
    expect(kn && bn).toBeTruthy();
    const columns = w.findAll('[data-testid^="overview-run-"]').map((c) => c.attributes('data-testid'));
    expect(columns).toEqual([`overview-run-${kn?.id}`, `overview-run-${bn?.id}`]);
    for (const c of w.findAll('[data-testid^="overview-run-"]')) {
      expect(c.findAll('[data-testid="layer-panel"]').map((p) => p.attributes('data-layer'))).toEqual(['layer1.0.conv1', 'layer2.0.conv1']);
      expect(c.text()).toContain('near-constant share not recorded');
    }
    expect(w.find('[data-testid="no-near-constant"]').text()).toContain('recorded before NormLab counted near-constant windows / channels');
    // every strip has numbers under it
    for (const strip of w.findAll('svg.strips')) expect(strip.findAll('text.tick').length).toBeGreaterThanOrEqual(4);
    w.unmount();
  });

  it('clicking a layer of the right-hand run shows it next to the left run’s layer at the same depth', async () => {
    const w = await mountView();
    const right = w.findAll('[data-testid^="overview-run-"]')[1];
    await right.findAll('[data-testid="layer-panel"]')[1].trigger('click');
    await vi.waitFor(() => expect(w.findAll('section.evolution').map((s) => s.attributes('aria-label')?.split(' in run')[0]))
      .toEqual(['evolution of layer2.0.conv1', 'evolution of layer2.0.conv1']));
    expect(right.findAll('[data-testid="layer-panel"]')[1].attributes('aria-pressed')).toBe('true');
    w.unmount();
  });

  it('a chosen step shows every panel at that step', async () => {
    const w = await mountView();
    await w.find('input[type="range"]').setValue('0');
    await vi.waitFor(() => expect(w.find('[data-testid="chosen-step"]').text()).toBe('16'));
    expect(new Set(w.findAll('[data-testid="layer-panel"] header .step').map((s) => s.text()))).toEqual(new Set(['step 16']));
    await w.find('button').trigger('click');
    await vi.waitFor(() => expect(w.find('[data-testid="chosen-step"]').text()).toBe('latest (48)'));
    w.unmount();
  });
});
