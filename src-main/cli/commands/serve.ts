import { Command, InvalidArgumentError } from 'commander';
import { resolve } from 'node:path';
import { newToken } from '../../server/auth';
import { openAppBackend } from '../../server/app-backend';
import { startNormLabServer } from '../../server/http-server';
import { ensureRenderer } from '../../server/renderer-build';

interface ServeOptions {
  db: string;
  host: string;
  port: number;
  dataDir?: string;
  checkpointRoot?: string;
  staticDir?: string;
  workers?: number;
  scheduler: boolean;
  token?: string;
}

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('must be a port number (0 picks a free one)');
  return n;
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive integer');
  return n;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1']);

export function register(program: Command): void {
  program
    .command('serve')
    .description('serve the NormLab UI and API over HTTP (for headless GPU machines); prints the URL with its access token')
    .option('--db <file>', 'experiment store (SQLite file, created if missing)', '.normlab/normlab.db')
    .option('--host <address>', 'address to listen on (loopback by default; anything else exposes the UI to the network)', '127.0.0.1')
    .option('--port <n>', 'TCP port (0: any free port)', port, 8765)
    .option('--data-dir <dir>', 'where data sets are downloaded (default: <db folder>/data)')
    .option('--checkpoint-root <dir>', 'where run checkpoints go (default: <db folder>/checkpoints)')
    .option('--workers <n>', 'worker processes when running on CPU (default: one per core)', positiveInt)
    .option('--no-scheduler', 'only browse results: do not start runs on this machine')
    .option('--static-dir <dir>', 'serve this renderer build instead of out/renderer (built on demand when missing)')
    .option('--token <token>', 'use this access token instead of a random one (e.g. from a secret store)')
    .action(async (opts: ServeOptions) => {
      const say = (line: string) => process.stderr.write(`${line}\n`);
      const staticDir = await ensureRenderer(opts.staticDir, say);
      const backend = await openAppBackend({
        dbFile: resolve(opts.db),
        dataDir: opts.dataDir && resolve(opts.dataDir),
        checkpointRoot: opts.checkpointRoot && resolve(opts.checkpointRoot),
        devices: { cpuSlots: opts.workers },
        startScheduler: opts.scheduler,
      });
      const token = opts.token ?? newToken();
      const server = await startNormLabServer({ api: backend.api, live: backend.live, token, staticDir, host: opts.host, port: opts.port });
      if (!LOOPBACK.has(opts.host)) say(`warning: listening on ${opts.host}: anyone who can reach this address and has the token can start runs`);
      say(`NormLab is serving ${resolve(opts.db)}${opts.scheduler ? '' : ' (read-only: no scheduler)'}`);
      say('Open this URL in a browser (it contains the access token):');
      // the URL on stdout alone, so scripts (and the E2E test) can read it
      process.stdout.write(`${server.url}\n`);
      await new Promise<void>((done) => {
        const stop = () => {
          say('stopping: running workers checkpoint and stop; interrupt again to quit at once');
          process.once('SIGINT', () => process.exit(130));
          void server.close().then(() => backend.close({ cancelRunning: true })).then(done);
        };
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
    });
}
