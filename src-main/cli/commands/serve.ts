import { Command, InvalidArgumentError } from 'commander';
import { resolve } from 'node:path';
import { newToken } from '../../server/auth';
import { openAppBackend } from '../../server/app-backend';
import { startNormLabServer } from '../../server/http-server';
import { ensureRenderer } from '../../server/renderer-build';
import { positiveInt } from '../option-parsers';
import { handleStopSignals } from '../stop-signals';

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
  allowHost?: string[];
}

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('must be a port number (0 picks a free one)');
  return n;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1']);

function hostName(value: string, previous: string[] = []): string[] {
  // a bare name as a browser's Host header carries it, without scheme, port or path
  if (!/^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)$/.test(value)) {
    throw new InvalidArgumentError(`"${value}" is not a host name (give the name alone, e.g. gpu-box.lab.example, without http:// or :port)`);
  }
  return [...previous, value];
}

const SECURITY_HELP = `
Security: the URL's token is traded for a cookie. Every request must name this server in its Host header
(127.0.0.1, localhost, [::1], the --host address, any IP address when --host is 0.0.0.0 or ::, or a name given
with --allow-host; any port, so ssh tunnels work), which stops DNS rebinding. Requests that change something
(every POST) and the live WebSocket must come from this server's own page (their Origin is this server), or
carry no Origin and send the token as "Authorization: Bearer <token>" (scripts, curl).
With --no-scheduler the store is opened read-only and every request that would change it answers 405.`;

export function register(program: Command): void {
  program
    .command('serve')
    .description('serve the NormLab UI and API over HTTP (for headless GPU machines); prints the URL with its access token')
    .option('--db <file>', 'experiment store (SQLite file, created if missing; with --no-scheduler it must exist)', '.normlab/normlab.db')
    .option('--host <address>', 'address to listen on (loopback by default; anything else exposes the UI to the network)', '127.0.0.1')
    .option('--port <n>', 'TCP port (0: any free port)', port, 8765)
    .option('--data-dir <dir>', 'where data sets are downloaded (default: <db folder>/data)')
    .option('--checkpoint-root <dir>', 'where run checkpoints go (default: <db folder>/checkpoints)')
    .option('--workers <n>', 'worker processes when running on CPU (default: one per core)', positiveInt)
    .option('--no-scheduler', 'read-only: only browse results (the store is opened read-only; no runs start, none can be queued)')
    .option('--static-dir <dir>', 'serve this renderer build instead of out/renderer (built on demand when missing)')
    .option('--token <token>', 'use this access token instead of a random one (e.g. from a secret store)')
    .option('--allow-host <name>', 'also answer to this Host name, e.g. the machine\'s DNS name behind a proxy (repeatable)', hostName)
    .addHelpText('after', SECURITY_HELP)
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
      const server = await startNormLabServer({
        api: backend.api,
        live: backend.live,
        token,
        staticDir,
        host: opts.host,
        port: opts.port,
        allowHosts: opts.allowHost,
        readOnly: backend.readOnly ? 'started with --no-scheduler' : undefined,
      });
      if (!LOOPBACK.has(opts.host)) say(`warning: listening on ${opts.host}: anyone who can reach this address and has the token can ${opts.scheduler ? 'start runs' : 'read the results'}`);
      say(`NormLab is serving ${resolve(opts.db)}${opts.scheduler ? '' : ' (read-only: no scheduler)'}`);
      say('Open this URL in a browser (it contains the access token):');
      // the URL on stdout alone, so scripts (and the E2E test) can read it
      process.stdout.write(`${server.url}\n`);
      await new Promise<void>((done) => {
        handleStopSignals(() => {
          say('stopping: running workers checkpoint and stop; interrupt again to quit at once');
          void server.close().then(() => backend.close({ interruptRunning: true })).then(done);
        });
      });
    });
}
