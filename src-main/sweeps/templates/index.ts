import type { RunSpec } from '../../../src-worker/run-spec';
import { configGroupKey } from '../../store/group-key';
import { expandSweep } from '../expand';
import { parseSweepSpec, type SweepSpec } from '../spec';
import { getSweepTemplate, sweepTemplates } from './registry';
import { SweepTemplateError, sweepTemplateOptionsSchema, type SweepTemplateOptionsInput, type SweepTemplateSummary } from './types';

export * from './types';
export { getSweepTemplate, sweepTemplateNames, templateSweepOf, type TemplateSweepRef } from './registry';

export interface TemplateRun {
  /** The sweep (part of the template) the run belongs to. */
  sweep: string;
  spec: RunSpec;
}

export interface TemplateExpansion {
  template: string;
  /** Validated sweep specs, one per part; submitting each queues the runs below. */
  specs: SweepSpec[];
  runs: TemplateRun[];
  /** Distinct config groups over all parts. */
  configs: number;
}

/**
 * The template's sweep specs with the options applied, each parsed and expanded exactly as a submitted spec would
 * be (SweepSpecError for a spec the options make invalid). Writes nothing.
 */
export function expandSweepTemplate(name: string, options: SweepTemplateOptionsInput = {}): TemplateExpansion {
  const template = getSweepTemplate(name);
  const parsed = sweepTemplateOptionsSchema.safeParse(options);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || 'options'}: ${i.message}`);
    throw new SweepTemplateError(`invalid options for sweep template "${name}": ${problems.join('; ')}`);
  }
  const specs = template.specs(parsed.data).map((spec) => parseSweepSpec(spec));
  const runs = specs.flatMap((spec) => expandSweep(spec).runs.map((run) => ({ sweep: spec.name, spec: run })));
  return { template: name, specs, runs, configs: new Set(runs.map((r) => configGroupKey(r.spec))).size };
}

export function listSweepTemplates(): SweepTemplateSummary[] {
  return sweepTemplates().map((t) => {
    const { runs, configs } = expandSweepTemplate(t.name);
    return {
      name: t.name, title: t.title, description: t.description, source: t.source, repeats: t.repeats,
      defaults: { ...t.defaults }, configs, runs: runs.length,
    };
  });
}
