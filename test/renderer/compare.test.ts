// @vitest-environment happy-dom
import { flushPromises, mount } from '@vue/test-utils';
import { createPinia, setActivePinia } from 'pinia';
import { describe, expect, it } from 'vitest';
import CompareTable from '../../src-renderer/components/CompareTable.vue';
import { fieldGroups, nextSort, paperTable, sortRows, type CompareRow, type SortKey, type SortState } from '../../src-renderer/lib/compare';
import { compareFields } from '../../src-renderer/lib/compare-fields';
import { computed, defineComponent, ref } from 'vue';
import { meanSd } from '../../src-renderer/lib/format';
import { toMarkdown } from '../../src-renderer/lib/paper-table';
import { useCompareStore } from '../../src-renderer/stores/compare';
import { FIXTURE_BATCHES, FIXTURE_MODELS, FIXTURE_SEEDS, fixtureFinalAcc, populateFixtureStore } from '../e2e/fixture-store';
import { useInProcessClient } from './in-process-client';

useInProcessClient((file) => populateFixtureStore(file));

async function loadedStore() {
  setActivePinia(createPinia());
  const store = useCompareStore();
  await store.load();
  return store;
}

describe('compare store on a real store', () => {
  it('builds one row per config group with mean ± SD over the seeds', async () => {
    const store = await loadedStore();
    const finished = store.rows.filter((r) => r.n > 0);
    expect(finished).toHaveLength(FIXTURE_MODELS.length * FIXTURE_BATCHES.length);
    for (const row of finished) {
      const expected = meanSd(FIXTURE_SEEDS.map((s) => fixtureFinalAcc(row.model, row.batchSize, s)));
      expect(row.n).toBe(FIXTURE_SEEDS.length);
      expect(row.final.mean).toBeCloseTo(expected.mean!, 10);
      expect(row.final.sd).toBeCloseTo(expected.sd!, 10);
    }
    const kn = finished.find((r) => r.model === 'knresnet18' && r.batchSize === 32)!;
    expect(kn).toMatchObject({ family: 'knresnet', norm: 'kn', depth: 18 });
    // the failed and the queued BN runs are groups of their own, with nothing finished
    expect(store.rows.filter((r) => r.n === 0).map((r) => r.excluded)).toEqual([1, 1]);
  });

  it('makes the paper table from the aggregates: KN wins both batch sizes in the fixture', async () => {
    const store = await loadedStore();
    const md = toMarkdown(paperTable(store.rows, 'final', 'synthetic'));
    expect(md).toContain('| Model | B=32 | B=128 |');
    expect(md).toContain('| KNResNet-18 (KN) | **81.00 ± 0.50** | **79.00 ± 0.50** |');
    expect(md).toContain('| ResNet-18 (LN) | 73.00 ± 0.50 | 71.00 ± 0.50 |');
    // rows in the paper's order: KN, BN, GN, LN
    expect(md.indexOf('(KN)')).toBeLessThan(md.indexOf('(BN)'));
    expect(md.indexOf('(GN)')).toBeLessThan(md.indexOf('(LN)'));
  });

  it('loads ±SD curves of the selected groups', async () => {
    const store = await loadedStore();
    expect(store.selected.length).toBeGreaterThan(0);
    expect(store.curves).toHaveLength(store.selected.length);
    const curve = store.curves[0];
    expect(curve.points.map((p) => p.epoch)).toEqual([1, 2, 3]);
    expect(curve.points.every((p) => p.n === 3 && p.sd !== null)).toBe(true);
  });
});

describe('CompareTable', () => {
  function row(model: string, norm: string, batchSize: number, values: number[]): CompareRow {
    return {
      groupKey: `${model}-${batchSize}`, model, family: 'resnet', norm, depth: 18, task: 'classification', dataset: 'synthetic', batchSize, lr: 0.1, epochs: 3, width: 1,
      config: { model, dataset: 'synthetic', batchSize, lr: 0.1, epochs: 3 }, sweeps: [],
      n: values.length, final: meanSd(values), best: meanSd(values.map((v) => v + 0.01)), pixelAcc: null, excluded: 0,
    };
  }
  const varying = (list: readonly CompareRow[]) => compareFields(fieldGroups(list, new Map())).varying;
  const rows = [row('a_bn', 'bn', 32, [0.7, 0.72]), row('b_kn', 'kn', 32, [0.8, 0.82, 0.81]), row('c_gn', 'gn', 128, []), row('d_ln', 'ln', 64, [0.6])];

  it('sorts by a column and flips on a second click, with empty results last', async () => {
    setActivePinia(createPinia());
    const Host = defineComponent({
      components: { CompareTable },
      setup() {
        const sort = ref<SortState>({ key: 'final', dir: 'desc' });
        const sorted = computed(() => sortRows(rows, sort.value));
        return { sort, sorted, varying: varying(rows), onSort: (key: SortKey) => (sort.value = nextSort(sort.value, key)) };
      },
      template: '<CompareTable :rows="sorted" :sort="sort" :selected="[]" :varying="varying" @sort="onSort" @toggle="() => {}" />',
    });
    const wrapper = mount(Host);
    const models = () => wrapper.findAll('tbody tr td.mono').map((td) => td.text());
    expect(models()).toEqual(['b_kn', 'a_bn', 'd_ln', 'c_gn']);
    expect(wrapper.find('th[aria-sort="descending"]').text()).toContain('Final test top-1');
    await wrapper.find('button[data-sort="final"]').trigger('click');
    await flushPromises();
    expect(models()).toEqual(['d_ln', 'a_bn', 'b_kn', 'c_gn']);
    expect(wrapper.find('th[aria-sort="ascending"]').exists()).toBe(true);
    await wrapper.find('button[data-sort="batchSize"]').trigger('click');
    await flushPromises();
    expect(wrapper.findAll('tbody tr td.num:nth-child(5)').map((td) => td.text())).toEqual(['32', '32', '64', '128']);
  });

  it('formats mean ± SD in percent, a lone run without spread, and no run as a dash', () => {
    const wrapper = mount(CompareTable, { props: { rows, sort: { key: 'model', dir: 'asc' }, selected: [] } });
    const finals = wrapper.findAll('td[data-col="final"]').map((td) => td.text());
    expect(finals).toEqual(['71.00 ± 1.41', '81.00 ± 1.00', '—', '60.00']);
  });
});
