import { checkDataDir, DATASET_NAMES, datasetEntry } from '../../src-worker/data/registry';
import type { DatasetSummary, ModelSummary } from './types';

/** What a sweep can be built from: the model registry, the presets and the data-set registry, as plain data. */

export async function modelSummaries(): Promise<ModelSummary[]> {
  // imported on first use: the registry pulls in tfjs, which a store-only CLI command should not load
  const { listModels } = await import('../../src-worker/models');
  return listModels().map((m) => ({ name: m.name, family: m.family, norm: m.norm, depth: m.depth, description: m.description,
    ...(m.task === undefined ? {} : { task: m.task }) }));
}

export async function presetSummaries(): Promise<{ name: string; description: string }[]> {
  const { listPresets } = await import('../../src-worker/train/presets');
  return listPresets().map((p) => ({ name: p.name, description: p.description }));
}

/** Each data set, and whether `dataDir` (where downloads go) holds a complete copy of it. */
export async function datasetSummaries(dataDir: string | null): Promise<DatasetSummary[]> {
  return Promise.all(
    DATASET_NAMES.map(async (name) => {
      const entry = datasetEntry(name);
      // only a set that downloads go to can be looked for in the download folder
      const lookable = !entry.needsData || (entry.downloadable && dataDir !== null);
      return {
        name,
        trainSize: entry.trainSize ?? entry.publishedTrainSize,
        needsData: entry.needsData,
        downloadable: entry.downloadable,
        present: lookable ? (await checkDataDir(name, dataDir ?? undefined)).complete : null,
        downloadDir: entry.downloadable ? dataDir : null,
      };
    }),
  );
}
