// The server process: config from the environment, real dependencies, graceful shutdown.
import { randomBytes } from 'node:crypto';
import { serve } from '@hono/node-server';
import { pino } from 'pino';
import { createApp } from './app.ts';
import { ConfigError, loadConfig } from './config/config.ts';
import { openRuntime } from './runtime.ts';

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
  const log = pino({ level: config.LOG_LEVEL });
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
    log.info({ signal }, 'shutting down');
    // Stop accepting, let in-flight auctions finish (bounded by their own deadlines), then flush.
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await runtime.close();
    log.info('stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

await main();
