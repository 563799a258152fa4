import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  SEG_PREVIEW_FILE, SEG_PREVIEW_FORMAT, SEG_PREVIEW_VERSION, segPreviewFileSchema, type SegPreviewFile,
} from '../../src-worker/train/segmentation/previews-format';

/** One validation image of a segmentation run's preview, each picture a `data:image/png` URL an <img> shows. */
export interface SegPreviewImage {
  name: string;
  image: string;
  truth: string;
  prediction: string;
}

/** A segmentation run's latest mask previews (previews-format.ts), ready for a page. */
export interface SegPreviewSet extends Omit<SegPreviewFile, 'format' | 'version' | 'images'> {
  images: SegPreviewImage[];
}

/** A preview file that exists but cannot be used; names the file and what is wrong with it. */
export class SegPreviewFileError extends Error {
  override name = 'SegPreviewFileError';
}

const dataUrl = (base64: string) => `data:image/png;base64,${base64}`;

/**
 * The previews a segmentation run's worker left in its checkpoint folder; null while there are none (the run
 * has no folder yet, has not finished an epoch, or is not a segmentation run). They live beside the checkpoints
 * rather than in the database: the worker replaces them every epoch, and keeping pictures out of the event
 * journal keeps its replay small and exactly what the store ingests.
 */
export function readSegPreviews(checkpointDir: string | null): SegPreviewSet | null {
  if (!checkpointDir) return null;
  const path = join(checkpointDir, SEG_PREVIEW_FILE);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new SegPreviewFileError(`cannot read the mask previews ${path}: ${(error as Error).message}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new SegPreviewFileError(`the mask previews ${path} are not JSON`);
  }
  const header = value as { format?: unknown; version?: unknown } | null;
  if (header?.format === SEG_PREVIEW_FORMAT && typeof header.version === 'number' && header.version > SEG_PREVIEW_VERSION) {
    throw new SegPreviewFileError(`the mask previews ${path} are version ${header.version}, newer than this NormLab reads (${SEG_PREVIEW_VERSION}); update NormLab`);
  }
  const parsed = segPreviewFileSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new SegPreviewFileError(`the mask previews ${path} are not a NormLab preview file: ${issue ? `${issue.path.join('.') || '(top)'}: ${issue.message}` : 'invalid'}`);
  }
  const { format: _format, version: _version, images, ...rest } = parsed.data;
  return {
    ...rest,
    images: images.map((i) => ({ name: i.name, image: dataUrl(i.image), truth: dataUrl(i.truth), prediction: dataUrl(i.prediction) })),
  };
}
