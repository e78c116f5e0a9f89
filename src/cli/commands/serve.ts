// `vaekit serve MODEL`: the latent-space explorer and the JSON API of a saved model (src/serve/), on
// 127.0.0.1:8080 unless told otherwise. SIGTERM or SIGINT: stop taking connections, finish the requests in
// flight, exit 0.
import type { Command } from 'commander';
import { initBackend, type BackendChoice } from '../../backend/index.js';
import { DEFAULT_BODY_LIMIT, DEFAULT_MAX_IN_FLIGHT } from '../../serve/app.js';
import { DEFAULT_HOST, DEFAULT_MAP_EXAMPLES, DEFAULT_PORT, startServer } from '../../serve/start.js';
import { backendOption, dataOptions, log } from '../common.js';
import { loadData, resolveModelDir } from '../data.js';
import { nonNegInt, posInt } from '../options.js';

/** How long SIGTERM waits for requests in flight before it closes their connections. */
const STOP_GRACE_MS = 5000;

export function serve(program: Command): void {
  const cmd = program
    .command('serve <model>')
    .description('the latent-space explorer and a JSON API of a saved model (/api/encode, decode, sample, …)')
    .option('--port <n>', `port (0: any free one)`, nonNegInt('--port'), DEFAULT_PORT)
    .option('--host <addr>', 'address to bind (another than 127.0.0.1 exposes the model to the network)', DEFAULT_HOST)
    .option(
      '--examples <n>',
      'test examples on the explorer map (0: none)',
      nonNegInt('--examples'),
      DEFAULT_MAP_EXAMPLES,
    )
    .option(
      '--max-in-flight <n>',
      'requests handled at once; more get 503',
      posInt('--max-in-flight'),
      DEFAULT_MAX_IN_FLIGHT,
    )
    .option('--body-limit <bytes>', 'largest request body', posInt('--body-limit'), DEFAULT_BODY_LIMIT);
  dataOptions(cmd, false);
  backendOption(cmd).action(async (dir: string, f) => {
    if (f.port > 65535) throw new Error(`--port ${f.port} is not a port (0 … 65535)`);
    const backend = await initBackend(f.backend as BackendChoice, true);
    const { app, url, close } = await startServer({
      modelDir: resolveModelDir(dir),
      host: f.host,
      port: f.port,
      examples: f.examples,
      maxInFlight: f.maxInFlight,
      bodyLimit: f.bodyLimit,
      loadTest: async (meta) => (await loadData(f, meta)).test,
      log,
    });
    log(`vaekit serve: ${dir} on backend ${backend.backend}; listening on ${url} (the explorer at ${url}/)`);
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      log(`vaekit serve: ${signal}: finishing the requests in flight`);
      // a client that keeps a connection busy (a browser's keep-alive socket mid-request) must not hold the exit:
      // after the grace period the remaining connections are closed
      setTimeout(() => {
        log(`vaekit serve: connections still open after ${STOP_GRACE_MS / 1000} s; closing them`);
        app.server.closeAllConnections();
      }, STOP_GRACE_MS).unref();
      close().then(
        () => {
          log('vaekit serve: stopped');
          process.exit(0);
        },
        (e) => {
          log(`vaekit serve: ${e instanceof Error ? e.message : e}`);
          process.exit(1);
        },
      );
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
}
