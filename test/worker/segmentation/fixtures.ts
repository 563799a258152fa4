import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IGNORE } from '../../../src-worker/data/cityscapes/labels';
import { scanCityscapes } from '../../../src-worker/data/cityscapes/layout';
import { readPair } from '../../../src-worker/data/cityscapes/sample';
import { writeSyntheticCityscapes, type SyntheticCityscapesOptions } from '../../../src-worker/data/cityscapes/synthetic';

/** A fresh synthetic set in the official layout, in a temp folder. */
export async function syntheticCityscapes(opts: SyntheticCityscapesOptions): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'normlab-seg-'));
  await writeSyntheticCityscapes(root, opts);
  return root;
}

/**
 * mIoU of predicting the val split's most frequent class everywhere: that class's IoU is its share of the labelled
 * pixels, every other class present in the labels has IoU 0, and the mean runs over the classes present.
 */
export async function majorityClassMiou(root: string): Promise<number> {
  const counts = new Map<number, number>();
  for (const pair of await scanCityscapes(root, 'val')) {
    for (const id of (await readPair(pair)).label) if (id !== IGNORE) counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  const total = [...counts.values()].reduce((a, b) => a + b, 0);
  return Math.max(...counts.values()) / total / counts.size;
}
