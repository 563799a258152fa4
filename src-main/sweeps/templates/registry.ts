import { paperTable1Template } from './paper-table1';
import { SweepTemplateError, type SweepTemplate } from './types';

/**
 * The built-in templates and how a stored sweep is recognised as one of theirs. Pure (no Node): the renderer uses
 * it to find a template's sweeps; expansion, which hashes config groups, lives in index.ts.
 */
const TEMPLATES: readonly SweepTemplate[] = [paperTable1Template];

export function sweepTemplates(): readonly SweepTemplate[] {
  return TEMPLATES;
}

export function sweepTemplateNames(): string[] {
  return TEMPLATES.map((t) => t.name);
}

/** The template of that name; SweepTemplateError naming the known ones otherwise. */
export function getSweepTemplate(name: string): SweepTemplate {
  const template = TEMPLATES.find((t) => t.name === name);
  if (!template) throw new SweepTemplateError(`unknown sweep template "${name}" (known: ${sweepTemplateNames().join(', ')})`);
  return template;
}

/** A sweep of a template, as the sweep list has it: which template and which width/epochs variant. */
export interface TemplateSweepRef {
  template: string;
  width: number;
  epochs: number;
}

/**
 * Which template and variant a stored sweep belongs to, read from its name's prefix and its spec's base (the
 * spec, not the name, is the truth about width and epochs); null for any other sweep.
 */
export function templateSweepOf(sweep: { name: string; spec: unknown }): TemplateSweepRef | null {
  const template = TEMPLATES.find((t) => sweep.name.startsWith(`${t.name} `));
  if (!template) return null;
  const base = isRecord(sweep.spec) && isRecord(sweep.spec.base) ? sweep.spec.base : {};
  const width = typeof base.width === 'number' ? base.width : template.defaults.width;
  const epochs = typeof base.epochs === 'number' ? base.epochs : template.defaults.epochs;
  return { template: template.name, width, epochs };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
