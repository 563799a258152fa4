import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { DataError } from '../types';

/** One image of the official layout and its fine annotation. */
export interface CityscapesPair {
  city: string;
  /** `<city>_<seq>_<frame>`, the part both file names share. */
  stem: string;
  image: string;
  mask: string;
}

const IMAGE_SUFFIX = '_leftImg8bit.png';
const MASK_SUFFIX = '_gtFine_labelIds.png';

async function isDirectory(path: string): Promise<boolean> {
  return (await stat(path).catch(() => null))?.isDirectory() ?? false;
}

async function filesBySuffix(dir: string, suffix: string): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  for (const city of (await readdir(dir, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name).sort()) {
    for (const name of (await readdir(join(dir, city))).sort()) {
      if (name.endsWith(suffix)) found.set(`${city}/${name.slice(0, -suffix.length)}`, join(dir, city, name));
    }
  }
  return found;
}

function listSome(keys: readonly string[], limit = 5): string {
  const shown = keys.slice(0, limit).map((k) => k.split('/')[1] ?? k).join(', ');
  return keys.length > limit ? `${shown} and ${keys.length - limit} more` : shown;
}

/**
 * The pairs of one split of the official layout: `leftImg8bit/<split>/<city>/*_leftImg8bit.png` with
 * `gtFine/<split>/<city>/*_gtFine_labelIds.png`. Refuses a split with missing folders, no images, or images
 * and masks that do not pair up, saying how many of each were found and which are missing.
 */
export async function scanCityscapes(root: string, split: 'train' | 'val'): Promise<CityscapesPair[]> {
  const imageDir = join(root, 'leftImg8bit', split);
  const maskDir = join(root, 'gtFine', split);
  for (const dir of [imageDir, maskDir]) {
    if (!(await isDirectory(dir))) {
      throw new DataError(`Cityscapes: ${dir} not found; expected the official layout leftImg8bit/{train,val}/<city>/*${IMAGE_SUFFIX} and gtFine/{train,val}/<city>/*${MASK_SUFFIX} under ${root}`);
    }
  }
  const images = await filesBySuffix(imageDir, IMAGE_SUFFIX);
  const masks = await filesBySuffix(maskDir, MASK_SUFFIX);
  if (images.size === 0) throw new DataError(`Cityscapes: no *${IMAGE_SUFFIX} images in ${imageDir}/<city>/`);
  const withoutMask = [...images.keys()].filter((k) => !masks.has(k));
  const withoutImage = [...masks.keys()].filter((k) => !images.has(k));
  if (withoutMask.length || withoutImage.length) {
    const problems = [
      withoutMask.length ? `${withoutMask.length} image(s) without a mask: ${listSome(withoutMask)}` : '',
      withoutImage.length ? `${withoutImage.length} mask(s) without an image: ${listSome(withoutImage)}` : '',
    ].filter(Boolean);
    throw new DataError(`Cityscapes ${split}: found ${images.size} images and ${masks.size} masks under ${root}; ${problems.join('; ')}`);
  }
  return [...images.entries()].map(([key, image]) => {
    const [city = '', stem = ''] = key.split('/');
    return { city, stem, image, mask: masks.get(key) ?? '' };
  });
}
