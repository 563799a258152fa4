/**
 * The published numbers of Table 1 (CIFAR-100 test accuracy, %, mean ± SD over 3 runs) of Nasirigerdeh et al.,
 * "Kernel Normalized Convolutional Networks", TMLR 2024 (arXiv:2205.10089v4, https://arxiv.org/html/2205.10089v4).
 *
 * Only numbers read from the paper belong here, each with where it was read. None is listed yet: the stored copy
 * of the arXiv page that could be consulted while this was written holds only the paper's opening (abstract and
 * introduction), not Table 1, and no number is written from memory. A cell without an entry shows "—".
 */
export interface PublishedTable1Cell {
  model: string;
  batchSize: number;
  /** Test accuracy in %, as printed. */
  mean: number;
  sd: number | null;
  /** Where this number was read, e.g. "arXiv:2205.10089v4 Table 1". */
  readFrom: string;
}

export const PAPER_TABLE1_CITATION =
  'Nasirigerdeh et al., Kernel Normalized Convolutional Networks, TMLR 2024, Table 1 (arXiv:2205.10089v4)';
export const PAPER_TABLE1_URL = 'https://arxiv.org/html/2205.10089v4';

/** Why cells are empty while PAPER_TABLE1_PUBLISHED lacks them; shown under the table. */
export const PAPER_TABLE1_MISSING_NOTE =
  'The published values are not transcribed yet: the copy of the paper NormLab was built with held only its opening, ' +
  'and numbers are never filled in from memory. See the paper for them.';

export const PAPER_TABLE1_PUBLISHED: readonly PublishedTable1Cell[] = [];
