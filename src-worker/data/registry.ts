import { readdir, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { datasetNameSchema, type DatasetName } from '../run-spec';
import { CIFAR_LAYOUTS, missingCifarFiles, type CifarName } from './cifar-binary';
import { IMAGENET32_LAYOUT } from './imagenet32';
import { knownTrainSize } from './train-size';

/**
 * The one list of data sets and what NormLab knows about each without opening it: its training-set size, the
 * folder it lives in under a data dir, whether `normlab download` can fetch it, and whether a data dir holds a
 * complete copy. The service refuses a sweep on missing data with these checks, and the UI's data-set picker
 * shows what they say, so neither keeps its own copy of sizes or folder names. No tfjs, no sharp: cheap to load.
 */
export interface DatasetEntry {
  name: DatasetName;
  title: string;
  /** Training images when fixed by the published files (CIFAR) or by the spec's defaults (synthetic); else null. */
  trainSize: number | null;
  /** The published training-set size where a copy may hold a subset (ImageNet32), for estimates only. */
  publishedTrainSize: number | null;
  /** Whether a run needs files on disk (a dataDir); the synthetic set is generated. */
  needsData: boolean;
  downloadable: boolean;
  /** The folder a download or the official archive creates under the data dir; null when the layout has none. */
  folder: string | null;
  /** What the data dir must hold, for messages. */
  layout: string;
  /** Absent for classification sets; 'segmentation' for per-pixel labels (as ModelInfo.task). */
  task?: 'segmentation';
}

const IMAGE_EXTENSIONS = new Set(['.jpg', '.jpeg', '.png']);

function cifarEntry(name: CifarName): DatasetEntry {
  const layout = CIFAR_LAYOUTS[name];
  return {
    name, title: layout.title, trainSize: knownTrainSize({ dataset: name }) ?? null, publishedTrainSize: null,
    needsData: true, downloadable: true, folder: layout.folder,
    layout: `${layout.folder}/{${[...layout.trainFiles, ...layout.testFiles].join(',')}}`,
  };
}

export const DATASETS: Readonly<Record<DatasetName, DatasetEntry>> = Object.freeze({
  cifar10: cifarEntry('cifar10'),
  cifar100: cifarEntry('cifar100'),
  synthetic: {
    name: 'synthetic', title: 'Synthetic (built in)', trainSize: knownTrainSize({ dataset: 'synthetic' }) ?? null, publishedTrainSize: null,
    needsData: false, downloadable: false, folder: null, layout: 'nothing (generated on first use)',
  },
  'synthetic-textured': {
    name: 'synthetic-textured', title: 'Synthetic, textured (built in)', trainSize: knownTrainSize({ dataset: 'synthetic-textured' }) ?? null,
    publishedTrainSize: null, needsData: false, downloadable: false, folder: null, layout: 'nothing (generated on first use)',
  },
  folder: {
    name: 'folder', title: 'Image folder', trainSize: null, publishedTrainSize: null, needsData: true, downloadable: false, folder: null,
    layout: 'train/<class>/*.jpg|jpeg|png and val/<class>/…',
  },
  imagenet32: {
    name: 'imagenet32', title: 'ImageNet 32×32', trainSize: null, publishedTrainSize: 1_281_167, needsData: true, downloadable: false,
    folder: IMAGENET32_LAYOUT.trainFolder,
    layout: `${IMAGENET32_LAYOUT.trainFolder}/${IMAGENET32_LAYOUT.trainFile(1)} … and ${IMAGENET32_LAYOUT.valFolder}/${IMAGENET32_LAYOUT.valFile}`,
  },
  cityscapes: {
    name: 'cityscapes', title: 'Cityscapes (fine)', trainSize: null, publishedTrainSize: 2975, needsData: true, downloadable: false, folder: null,
    layout: 'leftImg8bit/{train,val}/<city>/*_leftImg8bit.png and gtFine/{train,val}/<city>/*_gtFine_labelIds.png',
    task: 'segmentation',
  },
});

export const DATASET_NAMES: readonly DatasetName[] = datasetNameSchema.options;

export function datasetEntry(name: DatasetName): DatasetEntry {
  return DATASETS[name];
}

export function isDownloadable(name: string): name is CifarName {
  return Object.hasOwn(DATASETS, name) && DATASETS[name as DatasetName].downloadable;
}

export interface DataCheck {
  /** True when the data dir holds every file the layout needs (always for a set that needs none). */
  complete: boolean;
  /** Each thing missing, as a sentence naming the path; empty when complete. */
  problems: string[];
}

const isDir = async (path: string) => (await stat(path).catch(() => null))?.isDirectory() ?? false;
const isFile = async (path: string) => (await stat(path).catch(() => null))?.isFile() ?? false;

async function checkImageNet32(dataDir: string): Promise<string[]> {
  const { trainFolder, valFolder, trainFile, valFile } = IMAGENET32_LAYOUT;
  // the worker accepts the files in their release folders or directly in the data dir
  const candidates = [
    [join(dataDir, trainFolder, trainFile(1)), join(dataDir, trainFile(1))],
    [join(dataDir, valFolder, valFile), join(dataDir, valFile)],
  ] as const;
  const problems: string[] = [];
  for (const [released, flat] of candidates) {
    if (!(await isFile(released)) && !(await isFile(flat))) problems.push(`${released} is missing`);
  }
  return problems;
}

async function checkCityscapes(dataDir: string): Promise<string[]> {
  const problems: string[] = [];
  for (const dir of ['leftImg8bit/train', 'leftImg8bit/val', 'gtFine/train', 'gtFine/val']) {
    if (!(await isDir(join(dataDir, dir)))) problems.push(`${join(dataDir, dir)} is missing (Cityscapes' official layout: ${DATASETS.cityscapes.layout})`);
  }
  return problems;
}

async function checkFolder(dataDir: string): Promise<string[]> {
  const problems: string[] = [];
  for (const split of ['train', 'val']) {
    if (!(await isDir(join(dataDir, split)))) problems.push(`${join(dataDir, split)} is missing (no ${split}/<class>/ folders)`);
  }
  return problems;
}

/** Whether `dataDir` holds a complete copy of `name`; reads only directory entries and file sizes. */
export async function checkDataDir(name: DatasetName, dataDir: string | undefined): Promise<DataCheck> {
  const entry = DATASETS[name];
  if (!entry.needsData) return { complete: true, problems: [] };
  const hint = entry.downloadable ? `; run \`normlab download ${name} --data-dir ${dataDir ?? '<dir>'}\` to fetch it` : '';
  if (dataDir === undefined || dataDir === '') {
    return { complete: false, problems: [`${name} needs dataDir, the folder holding ${entry.layout}${hint}`] };
  }
  if (!(await isDir(dataDir))) return { complete: false, problems: [`data folder ${dataDir} does not exist${hint}`] };
  let missing: string[];
  if (name === 'cifar10' || name === 'cifar100') {
    const files = await missingCifarFiles(dataDir, name);
    missing = files.length === 0 ? [] : [`${entry.title} is incomplete in ${dataDir}: missing ${files.join(', ')}${hint}`];
  } else if (name === 'imagenet32') missing = await checkImageNet32(dataDir);
  else if (name === 'cityscapes') missing = await checkCityscapes(dataDir);
  else missing = await checkFolder(dataDir);
  return { complete: missing.length === 0, problems: missing };
}

async function countImages(dir: string): Promise<number> {
  let n = 0;
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) n += await countImages(join(dir, entry.name));
    else if (IMAGE_EXTENSIONS.has(extname(entry.name).toLowerCase())) n++;
  }
  return n;
}

/**
 * The training-set size of a run's data: fixed ones from the table, an image folder's by counting its train/
 * images (what FolderDataset would load); null where only opening the files would tell (ImageNet32 copies).
 */
export async function trainSizeOf(spec: { dataset: DatasetName; dataDir?: string; syntheticTrainSize?: number }): Promise<number | null> {
  const fixed = knownTrainSize(spec);
  if (fixed !== undefined) return fixed;
  const train = spec.dataDir ? join(spec.dataDir, 'train') : null;
  if (spec.dataset !== 'folder' || !train || !(await isDir(train))) return null;
  // as ImageFolder: only images inside class folders count
  let n = 0;
  for (const entry of await readdir(train, { withFileTypes: true })) if (entry.isDirectory()) n += await countImages(join(train, entry.name));
  return n;
}
