// @vitest-environment happy-dom
import { flushPromises, mount } from '@vue/test-utils';
import { createPinia, setActivePinia } from 'pinia';
import { describe, expect, it } from 'vitest';
import RunConfigTable from '../../src-renderer/components/RunConfigTable.vue';
import { parseRunSpec } from '../../src-worker/run-spec';
import { useInProcessClient } from './in-process-client';

useInProcessClient();

describe('RunConfigTable on a page opened directly (nothing has loaded the model registry yet)', () => {
  it('loads the registry itself, so a KernelNorm run shows no GroupNorm groups', async () => {
    setActivePinia(createPinia());
    const spec = parseRunSpec({ model: 'knresnet18', dataset: 'synthetic', epochs: 2, batchSize: 16, lr: 0.1 });
    const wrapper = mount(RunConfigTable, { props: { spec } });
    for (let i = 0; i < 20 && wrapper.find('[data-field="groups"]').exists(); i++) {
      await new Promise((r) => setTimeout(r, 50));
      await flushPromises();
    }
    expect(wrapper.find('[data-field="groups"]').exists()).toBe(false);
    expect(wrapper.find('[data-field="knDropout"]').exists()).toBe(true);
  });
});
