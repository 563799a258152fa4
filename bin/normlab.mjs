#!/usr/bin/env node
// The CLI is TypeScript run through tsx, so the same sources serve the CLI, the worker processes and tests.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src-main/cli/main.ts');
await main(process.argv);
