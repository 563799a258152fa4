import { z } from 'zod';
import type { SweepSpecInput } from '../spec';

/**
 * A built-in sweep template: a named study (a paper's table) that produces sweep specs, which the ordinary sweep
 * expansion turns into runs. A template never makes runs itself, so what it queues is exactly what the same specs
 * written by hand would queue. Pure (zod and data): the renderer imports it for its layout and run counts.
 */
export interface SweepTemplate {
  name: string;
  title: string;
  description: string;
  /** Where the configurations come from, for a reader to check them. */
  source: string;
  /** Runs per configuration (seeds 1..repeats). */
  repeats: number;
  /** What a run gets when an option is not given (the paper's values). */
  defaults: { width: number; epochs: number };
  /**
   * The sweep specs of the study, usually one: a paper's learning rates chosen per model and batch size are the
   * spec's explicit `points`, not a grid product.
   */
  specs(options: SweepTemplateOptions): SweepSpecInput[];
}

/** What a user may change of a template: a smaller width and fewer epochs for a quick look, where the data is. */
export const sweepTemplateOptionsSchema = z.strictObject({
  width: z.number().positive().max(4).optional(),
  epochs: z.number().int().positive().max(10_000).optional(),
  dataDir: z.string().min(1).optional(),
});
export type SweepTemplateOptions = z.output<typeof sweepTemplateOptionsSchema>;
export type SweepTemplateOptionsInput = z.input<typeof sweepTemplateOptionsSchema>;

/** A template name that does not exist, or options it cannot take; the message names what is wrong. */
export class SweepTemplateError extends Error {
  override name = 'SweepTemplateError';
}

/** What a caller (the CLI's list, the UI's dialog) shows of a template before expanding it. */
export interface SweepTemplateSummary {
  name: string;
  title: string;
  description: string;
  source: string;
  repeats: number;
  defaults: { width: number; epochs: number };
  /** Distinct configurations (model × batch size × lr) and runs (× repeats). */
  configs: number;
  runs: number;
}
