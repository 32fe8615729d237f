// The server process: config from the environment, real dependencies, graceful shutdown.
import { randomBytes } from 'node:crypto';
import { serve } from '@hono/node-server';
import { createApp } from './app.ts';
import { ConfigError, loadConfig } from './config/config.ts';
import { createLogger } from './log/logger.ts';
import { longestAnswerMs } from './exchange/recording.ts';
import { openRuntime } from './runtime.ts';
import { shutDown } from './shutdown.ts';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  const log = createLogger({ level: config.LOG_LEVEL });
  const adminToken = config.ADMIN_TOKEN ?? `dev_${randomBytes(18).toString('base64url')}`;
  if (!config.ADMIN_TOKEN) log.warn({ admin_token: adminToken }, 'ADMIN_TOKEN is not set: generated one for this run');

  const runtime = await openRuntime(config, log);
  const app = createApp({ ...runtime.deps, adminToken });
  const server = serve({ fetch: app.hono.fetch, port: config.PORT, hostname: config.HOST }, (info) => {
    log.info(
      { port: info.port, database: runtime.database.kind, store: runtime.deps.store.kind },
      `leadex listening on http://${config.HOST === '0.0.0.0' ? 'localhost' : config.HOST}:${info.port}`,
    );
  });

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal, in_flight: app.inFlight.count }, 'shutting down');
    try {
      // In-flight auctions are bounded by their own deadlines; a little more for the answer.
      const { drained } = await shutDown({
        server,
        inFlight: app.inFlight,
        close: () => runtime.close(),
        log,
        drainTimeoutMs: longestAnswerMs(runtime.deps.settings) + 1000,
      });
      log.info({ drained }, 'stopped');
      process.exit(0);
    } catch (error) {
      log.fatal({ err: error }, 'shutdown failed');
      process.exit(1);
    }
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

await main();
