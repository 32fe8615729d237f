// boundedPost against real loopback servers: what arrives in pieces, what never ends, and what
// waits in undici's queue past its deadline.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Pool } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { boundedPost } from '../../src/buyers/bounded-request.ts';

const closing: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  await Promise.all(closing.splice(0).map((close) => close()));
});

async function server(handle: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ pool: Pool; requests: () => number }> {
  let requests = 0;
  const http = createServer((req, res) => {
    requests += 1;
    req.resume();
    req.on('end', () => handle(req, res));
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const pool = new Pool(`http://127.0.0.1:${(http.address() as AddressInfo).port}`, { connections: 1 });
  closing.push(async () => {
    await pool.destroy();
    http.closeAllConnections();
    await new Promise((resolve) => http.close(resolve));
  });
  return { pool, requests: () => requests };
}

const request = { path: '/ping', headers: { 'content-type': 'application/json' }, body: '{}' };
const limits = (overrides: Partial<{ timeoutMs: number; maxBodyBytes: number }> = {}) => ({ timeoutMs: 2000, maxBodyBytes: 100, beltMs: 3000, ...overrides });

describe('boundedPost', () => {
  it('joins a 2xx body that arrives in pieces, UTF-8 split across them', async () => {
    const bytes = Buffer.from('{"note":"é"}');
    const split = bytes.indexOf(0xc3) + 1;
    const { pool } = await server((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write(bytes.subarray(0, split));
      setTimeout(() => res.end(bytes.subarray(split)), 20);
    });
    expect(await boundedPost(pool, request, limits())).toEqual({ ok: true, status: 200, text: '{"note":"é"}', location: null });
  });

  it('reads an empty 2xx body as an empty text', async () => {
    const { pool } = await server((_req, res) => res.writeHead(200).end());
    expect(await boundedPost(pool, request, limits())).toEqual({ ok: true, status: 200, text: '', location: null });
  });

  it('refuses a body declared over the cap before reading it', async () => {
    const { pool } = await server((_req, res) => res.writeHead(200, { 'content-length': '101' }).end('x'.repeat(101)));
    expect(await boundedPost(pool, request, limits())).toEqual({ ok: false, reason: 'too_large', status: 200 });
  });

  it('stops reading an endless chunked body once it crosses the cap, and drops the connection', async () => {
    let written = 0;
    let closed = false;
    const { pool } = await server((_req, res) => {
      res.writeHead(200);
      res.on('close', () => (closed = true));
      const drip = setInterval(() => {
        if (res.destroyed) return clearInterval(drip);
        written += 64;
        res.write('x'.repeat(64));
      }, 2);
    });
    expect(await boundedPost(pool, request, limits())).toEqual({ ok: false, reason: 'too_large', status: 200 });
    await expect.poll(() => closed).toBe(true);
    // It stopped reading: an endless body would never have let boundedPost answer at all.
    expect(written).toBeLessThan(64 * 500);
  });

  it('gives a non-2xx its status and location without keeping its body', async () => {
    const { pool } = await server((_req, res) => res.writeHead(302, { location: 'https://elsewhere.example/' }).end('moved'));
    expect(await boundedPost(pool, request, limits())).toEqual({ ok: true, status: 302, text: null, location: 'https://elsewhere.example/' });
  });

  it('times out a 2xx body still arriving at the deadline, with the status it had', async () => {
    const { pool } = await server((_req, res) => {
      res.writeHead(200);
      res.write('{"bid":');
    });
    const started = Date.now();
    expect(await boundedPost(pool, request, limits({ timeoutMs: 150 }))).toEqual({ ok: false, reason: 'timeout', status: 200 });
    expect(Date.now() - started).toBeLessThan(400);
  });

  it('answers a request still queued for a connection at its deadline, and never sends it', async () => {
    let release: () => void = () => {};
    const { pool, requests } = await server((_req, res) => {
      release = () => res.writeHead(204).end();
    });
    // One connection: the second request waits behind the first.
    const first = boundedPost(pool, request, limits());
    await expect.poll(() => requests()).toBe(1);
    const started = Date.now();
    expect(await boundedPost(pool, request, limits({ timeoutMs: 100 }))).toEqual({ ok: false, reason: 'timeout' });
    expect(Date.now() - started).toBeLessThan(300);
    release();
    expect(await first).toEqual({ ok: true, status: 204, text: '', location: null });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(requests()).toBe(1);
  });

  it('reports a connection cut mid-body as an error, with the status it had', async () => {
    const { pool } = await server((_req, res) => {
      res.writeHead(200, { 'content-length': '50' });
      res.write('{"bid":');
      setTimeout(() => res.socket?.destroy(), 10);
    });
    expect(await boundedPost(pool, request, limits())).toMatchObject({ ok: false, reason: 'error', status: 200 });
  });
});
