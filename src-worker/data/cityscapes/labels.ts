/** Cityscapes' ignore label: pixels of the classes outside the 19 that are evaluated. */
export const IGNORE = 255;

/**
 * The 19 evaluated classes (cityscapesScripts' labels.py: trainId 0..18) with the labelId each comes from and
 * its official colour; every other labelId maps to 255.
 */
export const CITYSCAPES_CLASSES = [
  { trainId: 0, labelId: 7, name: 'road', color: [128, 64, 128] },
  { trainId: 1, labelId: 8, name: 'sidewalk', color: [244, 35, 232] },
  { trainId: 2, labelId: 11, name: 'building', color: [70, 70, 70] },
  { trainId: 3, labelId: 12, name: 'wall', color: [102, 102, 156] },
  { trainId: 4, labelId: 13, name: 'fence', color: [190, 153, 153] },
  { trainId: 5, labelId: 17, name: 'pole', color: [153, 153, 153] },
  { trainId: 6, labelId: 19, name: 'traffic light', color: [250, 170, 30] },
  { trainId: 7, labelId: 20, name: 'traffic sign', color: [220, 220, 0] },
  { trainId: 8, labelId: 21, name: 'vegetation', color: [107, 142, 35] },
  { trainId: 9, labelId: 22, name: 'terrain', color: [152, 251, 152] },
  { trainId: 10, labelId: 23, name: 'sky', color: [70, 130, 180] },
  { trainId: 11, labelId: 24, name: 'person', color: [220, 20, 60] },
  { trainId: 12, labelId: 25, name: 'rider', color: [255, 0, 0] },
  { trainId: 13, labelId: 26, name: 'car', color: [0, 0, 142] },
  { trainId: 14, labelId: 27, name: 'truck', color: [0, 0, 70] },
  { trainId: 15, labelId: 28, name: 'bus', color: [0, 60, 100] },
  { trainId: 16, labelId: 31, name: 'train', color: [0, 80, 100] },
  { trainId: 17, labelId: 32, name: 'motorcycle', color: [0, 0, 230] },
  { trainId: 18, labelId: 33, name: 'bicycle', color: [119, 11, 32] },
] as const;

export const NUM_CITYSCAPES_CLASSES = CITYSCAPES_CLASSES.length;

/** labelId (0..255) → trainId, 255 for the ignored ones. */
export const LABEL_TO_TRAIN_ID: Uint8Array = (() => {
  const table = new Uint8Array(256).fill(IGNORE);
  for (const c of CITYSCAPES_CLASSES) table[c.labelId] = c.trainId;
  return table;
})();

/** A decoded `*_gtFine_labelIds.png` (one byte per pixel) as train ids. */
export function toTrainIds(labelIds: Uint8Array): Uint8Array {
  const out = new Uint8Array(labelIds.length);
  for (let i = 0; i < labelIds.length; i++) out[i] = LABEL_TO_TRAIN_ID[labelIds[i] ?? 0] ?? IGNORE;
  return out;
}

/** RGB of a train-id mask with the Cityscapes palette (ignored pixels black), for showing masks in the UI. */
export function colorize(trainIds: Uint8Array): Uint8Array {
  const rgb = new Uint8Array(trainIds.length * 3);
  trainIds.forEach((id, i) => {
    const color = CITYSCAPES_CLASSES[id]?.color ?? [0, 0, 0];
    rgb.set(color, 3 * i);
  });
  return rgb;
}
