import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NormLabService } from '../../../src-main/api/service';
import { ExperimentStore } from '../../../src-main/store';
import { readSegPreviews } from '../../../src-main/store/seg-previews';
import { writeSyntheticCityscapes } from '../../../src-worker/data/cityscapes/synthetic';
import type { WorkerEvent } from '../../../src-worker/protocol';
import type { RunSpecInput } from '../../../src-worker/run-spec';
import { readJournal } from '../../../src-worker/train/journal';
import { executeRun } from '../../../src-worker/train/run';
import { SEG_PREVIEW_FILE } from '../../../src-worker/train/segmentation/previews-format';
import { spec, tempDir } from './helpers';

const tmp = tempDir('store-seg-previews');
let dataDir: string;

beforeAll(async () => {
  dataDir = join(tmp.dir, 'cityscapes');
  await writeSyntheticCityscapes(dataDir, { trainImages: 4, valImages: 4, width: 64, height: 32, seed: 9 });
});
afterAll(() => tmp.cleanup());

const segSpec = (): Partial<RunSpecInput> => ({
  model: 'fc_resnet18_bn', dataset: 'cityscapes', dataDir, epochs: 2, batchSize: 2, lr: 0.05, width: 0.125, cropSize: [32, 16],
  lowResolution: true, schedule: { kind: 'poly', power: 0.9 }, seed: 2, backend: 'wasm',
});

/** A real store file with one segmentation run whose folder is fixed as the scheduler fixes it at its first claim. */
function storeWithRun(name: string, folder = join(tmp.dir, `${name}-run`)) {
  const store = ExperimentStore.open(join(tmp.dir, `${name}.db`), { flushRows: 1000, flushMs: 60_000 });
  const { sweep } = store.upsertSweep({ name, spec: {} });
  const runId = store.addRuns(sweep.id, [spec(segSpec())]).runs[0].id;
  const checkpointDir = store.assignCheckpointDir(runId, folder);
  return { store, runId, checkpointDir, service: new NormLabService(store) };
}

const metricRows = (store: ExperimentStore, runId: number) => Object.values(store.getMetrics(runId)).reduce((n, points) => n + points.length, 0);

describe('segmentation mask previews through the store', () => {
  it('keep only the latest epoch, are the same after the journal is replayed, and never enter the database or the journal', async () => {
    const { store, runId, checkpointDir, service } = storeWithRun('live');
    const seenAtEpoch: (number | undefined)[] = [];
    const result = await executeRun({ ...segSpec(), runId, checkpointDir }, {
      emit: (e: WorkerEvent) => {
        store.apply(runId, e);
        if (e.event === 'epoch') seenAtEpoch.push(readSegPreviews(store.getRun(runId)?.checkpointDir ?? null)?.epoch);
      },
      isCancelled: () => false,
    });
    expect(result.status).toBe('finished');
    expect(seenAtEpoch).toEqual([1, 2]);

    const previews = await service.getSegPreviews(runId);
    expect(previews?.epoch).toBe(2);
    expect(previews?.images).toHaveLength(4);
    expect(previews?.images[0]?.prediction).toMatch(/^data:image\/png;base64,iVBORw0KGgo/);
    expect(previews?.classes.map((c) => c.name)).toEqual(expect.arrayContaining(['road', 'sky']));
    expect(readdirSync(checkpointDir).filter((f) => f.includes('seg-preview'))).toEqual([SEG_PREVIEW_FILE]);

    // the store's crash recovery: the worker journal replayed into the store that already has it (skipped)…
    const rows = metricRows(store, runId);
    const journal = readJournal(checkpointDir);
    for (const event of journal) store.apply(runId, event);
    store.flush();
    expect(metricRows(store, runId)).toBe(rows);
    expect((await service.getSegPreviews(runId))?.epoch).toBe(2);
    // …and into a store that lost all of it: the replay of epoch 1 does not bring epoch 1's masks back
    const fresh = storeWithRun('fresh', checkpointDir);
    const replay = await executeRun({ ...segSpec(), runId: fresh.runId, checkpointDir }, {
      emit: (e: WorkerEvent) => fresh.store.apply(fresh.runId, e), isCancelled: () => false, journalAck: { journal: null, seq: 0 },
    });
    expect(replay.status).toBe('finished');
    fresh.store.flush();
    expect(metricRows(fresh.store, fresh.runId)).toBe(rows);
    expect((await fresh.service.getSegPreviews(fresh.runId))?.epoch).toBe(2);
    expect(readJournal(checkpointDir)).toHaveLength(journal.length);

    // nothing of the pictures is in the store file or the journal
    expect(JSON.stringify(journal)).not.toMatch(/iVBORw0KGgo/);
    const db = ExperimentStore.open(join(tmp.dir, 'live.db'), { readonly: true });
    expect(JSON.stringify(db.getMetrics(runId)) + JSON.stringify(db.getLogs(runId, {}))).not.toMatch(/iVBORw0KGgo/);
    db.close();
    fresh.store.close();
    store.close();
  }, 120_000);

  it('are null for a run without previews, and a damaged file is an error naming it', async () => {
    const { store, runId, checkpointDir, service } = storeWithRun('none');
    expect(await service.getSegPreviews(runId)).toBeNull();
    const { sweep } = store.upsertSweep({ name: 'classification', spec: {} });
    const other = store.addRuns(sweep.id, [spec()]).runs[0].id;
    expect(await service.getSegPreviews(other)).toBeNull();
    await expect(service.getSegPreviews(9999)).rejects.toMatchObject({ code: 'not_found' });

    mkdirSync(checkpointDir, { recursive: true });
    writeFileSync(join(checkpointDir, SEG_PREVIEW_FILE), '{"format":"normlab-seg-preview","version":1,"epoch":0}');
    await expect(service.getSegPreviews(runId)).rejects.toThrow(new RegExp(`${SEG_PREVIEW_FILE} are not a NormLab preview file: epoch`));
    writeFileSync(join(checkpointDir, SEG_PREVIEW_FILE), '{"format":"normlab-seg-preview","version":7}');
    await expect(service.getSegPreviews(runId)).rejects.toThrow(/version 7, newer than this NormLab reads \(1\); update NormLab/);
    writeFileSync(join(checkpointDir, SEG_PREVIEW_FILE), '{"format":');
    await expect(service.getSegPreviews(runId)).rejects.toThrow(/are not JSON/);
    store.close();
  });
});
