import { Command, Option } from 'commander';
import { ExperimentStore } from '../../store/experiment-store';
import { EXPORT_KINDS, exportCsvToFile, writeCsv, type ExportFilter, type ExportKind } from '../../export/csv';

/** `--sweep` takes an id or a name; names are what people remember, ids what the UI shows. */
function resolveSweep(store: ExperimentStore, value: string): number {
  const byId = /^\d+$/.test(value) ? store.getSweep(Number(value)) : undefined;
  const sweep = byId ?? store.findSweepByName(value);
  if (!sweep) throw new Error(`--sweep ${value}: no sweep with that id or name in ${store.file}`);
  return sweep.id;
}

export function register(program: Command): void {
  program
    .command('export')
    .description('write runs, per-config aggregates (mean ± SD over seeds) or metric history as CSV')
    .requiredOption('--db <file>', 'experiment store (SQLite file)')
    .addOption(new Option('--what <kind>', 'what to export').choices([...EXPORT_KINDS]).makeOptionMandatory())
    .option('--out <file>', 'CSV file to write ("-" or absent: standard output)')
    .option('--sweep <id|name>', 'only this sweep')
    .option('--model <name>', 'only this model')
    .action(async (opts: { db: string; what: ExportKind; out?: string; sweep?: string; model?: string }) => {
      // read-only: an export must work next to a running app and must never migrate or lock the file
      const store = ExperimentStore.open(opts.db, { readonly: true });
      try {
        const filter: ExportFilter = {};
        if (opts.sweep !== undefined) filter.sweepId = resolveSweep(store, opts.sweep);
        if (opts.model !== undefined) filter.model = opts.model;
        if (opts.out === undefined || opts.out === '-') {
          await writeCsv(store, opts.what, filter, process.stdout);
        } else {
          const { rows } = await exportCsvToFile(store, opts.what, filter, opts.out);
          process.stderr.write(`wrote ${rows} ${opts.what} rows to ${opts.out}\n`);
        }
      } finally {
        store.close();
      }
    });
}
