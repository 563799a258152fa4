import { Command } from 'commander';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/**
 * Each file in ./commands exports `register(program)`; discovering them here keeps this file free of a
 * hand-kept list that every new command would have to edit.
 */
export interface CommandModule {
  register(program: Command): void;
}

/**
 * Loads only the named command's module when there is one (some pull in tfjs, which takes a second or two to
 * load); help and unknown commands load them all.
 */
export async function buildProgram(commandName?: string): Promise<Command> {
  const program = new Command();
  program
    .name('normlab')
    .description('NormLab: experiments on normalization layers (KernelNorm, BatchNorm, GroupNorm, LayerNorm)')
    .showHelpAfterError();
  const dir = join(dirname(fileURLToPath(import.meta.url)), 'commands');
  const all = readdirSync(dir).filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts')).sort();
  const files = commandName && all.includes(`${commandName}.ts`) ? [`${commandName}.ts`] : all;
  for (const file of files) {
    const mod = (await import(pathToFileURL(join(dir, file)).href)) as CommandModule;
    mod.register(program);
  }
  return program;
}

export async function main(argv: string[]): Promise<void> {
  const program = await buildProgram(argv[2]);
  try {
    await program.parseAsync(argv);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`normlab: ${message}\n`);
    process.exitCode = 1;
  }
}
