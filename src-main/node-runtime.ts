import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

const require = createRequire(import.meta.url);

/** execArgv that lets a forked Node process run our TypeScript sources directly. */
export function tsNodeExecArgv(): string[] {
  const tsxLoader = pathToFileURL(require.resolve('tsx')).href;
  return ['--import', tsxLoader];
}
