import { Command, CommanderError } from 'commander';
import { readdirSync } from 'node:fs';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { errorCodeOf, EXIT_USAGE, exitCodeOf } from '../api/errors';

export { EXIT_USAGE };

/** Parse errors commander has already printed (with the help after them), so main() only sets the exit status. */
const reported = new WeakSet<Error>();

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
    .showHelpAfterError()
    // commander exits 1 on a parse error; `train` and the rest promise 2 for a bad call, 1 for a failed run. Set
    // before the commands are registered: subcommands copy it when they are created.
    .exitOverride((err) => {
      reported.add(err);
      throw err;
    });
  const here = fileURLToPath(import.meta.url);
  const dir = join(dirname(here), 'commands');
  // .ts from the sources (tsx, vitest), .js in the build (out/main/commands/)
  const ext = extname(here);
  const all = readdirSync(dir).filter((f) => f.endsWith(ext) && !f.endsWith('.d.ts')).sort();
  const files = commandName && all.includes(`${commandName}${ext}`) ? [`${commandName}${ext}`] : all;
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
    if (err instanceof CommanderError && reported.has(err)) {
      process.exitCode = err.exitCode === 0 ? 0 : EXIT_USAGE; // --help is exit code 0, and not an error
      return;
    }
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`normlab: ${message}\n`);
    // the taxonomy's exit code: 2 for a call refused as given (a usage error, a bad spec), 1 for a failure
    process.exitCode = exitCodeOf(errorCodeOf(err));
  }
}
