/**
 * The entry of the NormLab core process: the store, the scheduler and the service, away from any window. Electron
 * starts it as a utilityProcess (built as out/main/core-process.js); `CoreClient.fork` starts it as a plain Node
 * child for serve, the CLI and tests. Training workers are forked from here, so their events never pass through
 * Electron's main process. See protocol.ts for the messages.
 */
import { CoreHost } from './core-host';
import { connectToParent } from './parent-link';

const log = (message: string) => process.stderr.write(`normlab core: ${message}\n`);
// a host that died took the reading end of our stderr (and stdout) with it: the EPIPE of a log line must not
// crash the orderly shutdown that follows
for (const stream of [process.stderr, process.stdout]) stream.on('error', () => {});

const link = connectToParent();
const host = new CoreHost(link, {
  log,
  // exit outright: a doctor probe or a download still under way must not keep a closed core alive
  onClosed: (exitCode) => process.exit(exitCode),
});
host.listen();

