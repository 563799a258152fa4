// @vitest-environment happy-dom
import { mount } from '@vue/test-utils';
import { createPinia, setActivePinia } from 'pinia';
import { describe, expect, it } from 'vitest';
import RunConfigTable from '../../src-renderer/components/RunConfigTable.vue';
import { useCatalogStore } from '../../src-renderer/stores/catalog';
import { parseRunSpec } from '../../src-worker/run-spec';

function mountFor(spec: Record<string, unknown>) {
  setActivePinia(createPinia());
  // two registry entries as the catalog reads them through the API
  useCatalogStore().models = [
    { name: 'knresnet18', family: 'knresnet', norm: 'kn', depth: 18, description: 'KNResNet-18' },
    { name: 'resnet18_gn', family: 'resnet', norm: 'gn', depth: 18, description: 'ResNet-18 with GroupNorm' },
  ];
  return mount(RunConfigTable, { props: { spec } });
}

describe('RunConfigTable', () => {
  const base = { dataset: 'synthetic', epochs: 2, batchSize: 16, lr: 0.1 };

  it('shows a KernelNorm run its KN dropout and no GroupNorm groups, defaults marked', () => {
    const wrapper = mountFor(parseRunSpec({ ...base, model: 'knresnet18', momentum: 0.5 }));
    expect(wrapper.find('[data-field="groups"]').exists()).toBe(false);
    expect(wrapper.find('[data-field="knDropout"]').text()).toBe('KN dropout0.05 (default)');
    expect(wrapper.find('[data-field="momentum"]').text()).toBe('Momentum0.5');
    expect(wrapper.find('[data-field="dataDir"]').exists()).toBe(false);
  });

  it('shows a GroupNorm run its groups and no KN dropout', () => {
    const wrapper = mountFor(parseRunSpec({ ...base, model: 'resnet18_gn', groups: 16 }));
    expect(wrapper.find('[data-field="groups"]').text()).toBe('GroupNorm groups16');
    expect(wrapper.find('[data-field="knDropout"]').exists()).toBe(false);
    expect(wrapper.find('[data-field="lowResolution"]').text()).toBe('Low-resolution stemauto');
  });
});
