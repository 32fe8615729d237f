// An unreachable database is an outage (503, retry), a refused statement is not: told apart on
// errors produced by real servers, not hand-made ones.
import { createServer, type Server, type Socket } from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isConnectionFailure, isUniqueViolation } from '../../src/db/pg-errors.ts';
import { TEST_DATABASE_URL } from '../support/services.ts';
import { freePort } from '../support/own-services.ts';

async function errorOf(action: () => Promise<unknown>): Promise<unknown> {
  try {
    await action();
  } catch (error) {
    return error;
  }
  throw new Error('expected the action to fail');
}

describe('connection failures', () => {
  let silent: Server;
  const sockets = new Set<Socket>();

  beforeAll(async () => {
    // Accepts connections and never says a word, like a database that hangs.
    silent = createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => {});
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  });

  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => silent.close(resolve));
  });

  it('nothing listening on the port is one', async () => {
    const pool = new pg.Pool({ connectionString: `postgres://postgres@127.0.0.1:${await freePort()}/test` });
    const error = await errorOf(() => pool.query('select 1'));
    await pool.end();
    expect(isConnectionFailure(error)).toBe(true);
  });

  it('a server that never answers the handshake is one (connection timeout)', async () => {
    const port = (silent.address() as { port: number }).port;
    const pool = new pg.Pool({ connectionString: `postgres://postgres@127.0.0.1:${port}/test`, connectionTimeoutMillis: 200 });
    const error = await errorOf(() => pool.query('select 1'));
    await pool.end();
    expect(isConnectionFailure(error)).toBe(true);
  });

  it('a session the server terminates is one', async () => {
    const victim = new pg.Client({ connectionString: TEST_DATABASE_URL });
    victim.on('error', () => {});
    await victim.connect();
    const { rows } = await victim.query<{ pid: number }>('select pg_backend_pid() as pid');
    const admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await admin.connect();
    await admin.query('select pg_terminate_backend($1)', [rows[0]!.pid]);
    await admin.end();

    const error = await errorOf(() => victim.query('select 1'));
    await victim.end().catch(() => {});
    expect(isConnectionFailure(error)).toBe(true);
  });
});

describe('statement errors', () => {
  let client: pg.Client;

  beforeAll(async () => {
    client = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await client.connect();
  });

  afterAll(async () => {
    await client.end();
  });

  it('a syntax error is no connection failure', async () => {
    const error = await errorOf(() => client.query('selec 1'));
    expect(isConnectionFailure(error)).toBe(false);
    expect(isUniqueViolation(error)).toBe(false);
  });

  it('a duplicate key is a unique violation, not a connection failure', async () => {
    await client.query('create temporary table once (id int primary key)');
    await client.query('insert into once values (1)');
    const error = await errorOf(() => client.query('insert into once values (1)'));
    expect(isUniqueViolation(error)).toBe(true);
    expect(isConnectionFailure(error)).toBe(false);
  });

  it('a cause chain is followed', async () => {
    const pool = new pg.Pool({ connectionString: `postgres://postgres@127.0.0.1:${await freePort()}/test` });
    const inner = await errorOf(() => pool.query('select 1'));
    await pool.end();
    expect(isConnectionFailure(new Error('recording failed', { cause: inner }))).toBe(true);
  });
});
