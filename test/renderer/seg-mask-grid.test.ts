// @vitest-environment happy-dom
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { flushPromises, mount } from '@vue/test-utils';
import { createPinia, setActivePinia } from 'pinia';
import { beforeAll, describe, expect, it } from 'vitest';
import SegMaskGrid from '../../src-renderer/components/SegMaskGrid.vue';
import { scanCityscapes } from '../../src-worker/data/cityscapes/layout';
import { readPair } from '../../src-worker/data/cityscapes/sample';
import { writeSyntheticCityscapes } from '../../src-worker/data/cityscapes/synthetic';
import { parseRunSpec } from '../../src-worker/run-spec';
import { SegPreviewWriter, type KeptPrediction } from '../../src-worker/train/segmentation/previews';
import { SEG_PREVIEW_FILE } from '../../src-worker/train/segmentation/previews-format';
import { useInProcessClient } from './in-process-client';

const env = useInProcessClient();
let dataDir: string;
let runId: number;
let checkpointDir: string;
let kept: KeptPrediction[];

beforeAll(async () => {
  dataDir = join(env.dir, 'cityscapes');
  await writeSyntheticCityscapes(dataDir, { trainImages: 1, valImages: 4, width: 48, height: 24, seed: 6 });
  const { sweep } = env.store.upsertSweep({ name: 'seg', spec: {} });
  const spec = parseRunSpec({ model: 'fc_knresnet18', dataset: 'cityscapes', dataDir, epochs: 2, batchSize: 2, lr: 0.01 });
  runId = env.store.addRuns(sweep.id, [spec]).runs[0].id;
  checkpointDir = env.store.assignCheckpointDir(runId, join(env.dir, 'run'));
  kept = await Promise.all((await scanCityscapes(dataDir, 'val')).map(async (pair) => {
    const s = await readPair(pair);
    return { width: s.width, height: s.height, labels: Int32Array.from(s.label), predictions: new Int32Array(s.label.length) };
  }));
});

/** Lets the component's fetch through the real in-process API finish. */
async function settled(): Promise<void> {
  for (let i = 0; i < 5; i++) {
    await new Promise((r) => setTimeout(r, 20));
    await flushPromises();
  }
}

describe('SegMaskGrid', () => {
  it('says there are no masks before the first evaluation, then shows each newer epoch the page learns of', async () => {
    setActivePinia(createPinia());
    const wrapper = mount(SegMaskGrid, { props: { runId, epoch: 0 } });
    await settled();
    expect(wrapper.text()).toContain('No masks yet');
    expect(wrapper.find('[data-testid="seg-epoch"]').exists()).toBe(false);

    const writer = await SegPreviewWriter.open(dataDir, checkpointDir);
    await writer.write(1, kept);
    await wrapper.setProps({ epoch: 1 });
    await settled();
    expect(wrapper.get('[data-testid="seg-epoch"]').text()).toBe('after epoch 1');
    const rows = wrapper.findAll('[data-testid="seg-row"]');
    expect(rows).toHaveLength(4);
    for (const row of rows) {
      const imgs = row.findAll('img');
      expect(imgs.map((i) => i.attributes('alt')?.split(': ')[1])).toEqual(['image', 'ground truth', 'prediction']);
      expect(imgs.every((i) => i.attributes('src')?.startsWith('data:image/png;base64,'))).toBe(true);
    }
    const legend = wrapper.findAll('.legend li').map((li) => li.text());
    expect(legend).toEqual(expect.arrayContaining(['road', 'sky', 'ignored (not evaluated)']));
    expect(wrapper.text()).toContain('The first 4 validation images');

    await writer.write(2, kept);
    await wrapper.setProps({ epoch: 2 });
    await settled();
    expect(wrapper.get('[data-testid="seg-epoch"]').text()).toBe('after epoch 2');
    wrapper.unmount();
  });

  it('shows what is wrong with a damaged preview file', async () => {
    setActivePinia(createPinia());
    writeFileSync(join(checkpointDir, SEG_PREVIEW_FILE), '{"format":');
    const wrapper = mount(SegMaskGrid, { props: { runId, epoch: 3 } });
    await settled();
    expect(wrapper.text()).toMatch(/Could not load the masks: .*seg-preview\.json are not JSON/);
    wrapper.unmount();
  });
});
