import { z } from 'zod';

/**
 * The file a segmentation run's worker leaves next to its checkpoints after each evaluation: a few validation
 * images with their ground-truth and predicted masks as PNGs, for the run's page. One file, replaced whole (write
 * then rename), so a reader sees one epoch's set or the one before, never a mix; only the latest epoch is kept.
 *
 * It is not an event: the journal (and so a replay after a crash) never carries images, and a preview a crash
 * loses is written again at the next evaluation. Pure (zod only): the store reads it with the same schema.
 */
export const SEG_PREVIEW_FILE = 'seg-preview.json';
export const SEG_PREVIEW_FORMAT = 'normlab-seg-preview';
export const SEG_PREVIEW_VERSION = 1;

const base64Png = z.string().min(1).regex(/^[A-Za-z0-9+/]+=*$/, 'a base64 string');
const rgb = z.tuple([z.number().int().min(0).max(255), z.number().int().min(0).max(255), z.number().int().min(0).max(255)]);

export const segPreviewFileSchema = z.object({
  format: z.literal(SEG_PREVIEW_FORMAT),
  version: z.literal(SEG_PREVIEW_VERSION),
  /** The epoch whose evaluation made the predictions (1-based, as metrics' steps). */
  epoch: z.number().int().positive(),
  /** Size of every PNG in the file (the evaluation resolution, scaled down to at most a few hundred pixels wide). */
  width: z.number().int().positive(),
  height: z.number().int().positive(),
  /** Resolution the predictions were made at, before scaling down. */
  sourceWidth: z.number().int().positive(),
  sourceHeight: z.number().int().positive(),
  images: z.array(z.object({
    /** The image's file stem in the data set (`<city>_<seq>_<frame>`). */
    name: z.string().min(1),
    image: base64Png,
    truth: base64Png,
    prediction: base64Png,
  })).min(1),
  /** The classes that occur in these images' ground truth or predictions, with their palette colours. */
  classes: z.array(z.object({ trainId: z.number().int().min(0), name: z.string().min(1), color: rgb })),
  /** Whether some ground-truth pixels are the ignore label (drawn black). */
  ignorePresent: z.boolean(),
});

export type SegPreviewFile = z.infer<typeof segPreviewFileSchema>;
