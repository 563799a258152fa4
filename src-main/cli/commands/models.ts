import { Command } from 'commander';
import { describeModel, listModels } from '../../../src-worker/models';
import { finiteNumber, positiveInt } from '../option-parsers';

interface ModelsOptions {
  classes: number;
  width: number;
  highResolution?: boolean;
  json?: boolean;
}

export function register(program: Command): void {
  program
    .command('models')
    .description('list the registered models (name, family, normalization layer, parameter count)')
    .argument('[pattern]', "glob over model names, e.g. 'resnet18*' or '*_gn'")
    .option('--classes <n>', 'classifier outputs for the parameter count', positiveInt, 100)
    .option('--width <x>', 'width multiplier for the parameter count', finiteNumber, 1)
    .option('--high-resolution', 'count with the ImageNet stem (7×7, stride 2) instead of the 3×3 one')
    .option('--json', 'print JSON')
    .action((pattern: string | undefined, o: ModelsOptions) => {
      const rows = listModels(pattern).map((info) => ({
        ...info,
        params: describeModel(info.name, { numClasses: o.classes, lowResolution: !o.highResolution, widthMultiplier: o.width }).paramCount,
      }));
      if (rows.length === 0) throw new Error(`no model matches "${pattern}"; run \`normlab models\` for the full list`);
      if (o.json) {
        process.stdout.write(JSON.stringify(rows, null, 2) + '\n');
        return;
      }
      const table = rows.map((r) => [r.name, r.family, r.norm, r.params.toLocaleString('en')]);
      const header = ['model', 'family', 'norm', `params (${o.classes} classes)`];
      const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i].length)));
      const line = (cells: string[]) => cells.map((c, i) => (i === 3 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ');
      process.stdout.write([line(header), ...table.map(line)].join('\n') + '\n');
    });
}
