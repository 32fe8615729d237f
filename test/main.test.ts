// `npm start` on a fresh clone: no DATABASE_URL, no REDIS_URL — embedded Postgres under
// DATA_DIR and the in-process store — and a bad config that fails naming the variable.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { accepting, bidding, startBuyerServer } from './support/buyer-server.ts';
import { sampleLead } from './support/exchange.ts';

const ADMIN = 'main-test-admin-token-123';
const dataDir = mkdtempSync(join(tmpdir(), 'leadex-main-'));
const children: ChildProcess[] = [];

afterAll(() => {
  for (const child of children) child.kill('SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
});

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function start(env: Record<string, string>): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([key]) => !['DATABASE_URL', 'REDIS_URL', 'ADMIN_TOKEN', 'PORT'].includes(key)));
  const child = spawn(process.execPath, ['src/main.ts'], { env: { ...clean, LOG_LEVEL: 'info', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

async function waitReady(base: string): Promise<void> {
  const giveUp = Date.now() + 60_000;
  for (;;) {
    try {
      const response = await fetch(`${base}/readyz`);
      if (response.status === 200) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > giveUp) throw new Error('leadex did not become ready within 60 s');
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

async function bodyOf(response: Promise<Response>): Promise<any> {
  return (await response).json();
}

const json = (token: string, body: unknown) => ({
  method: 'POST',
  headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
  body: JSON.stringify(body),
});

describe('npm start', () => {
  it('runs on embedded Postgres and the in-process store, keeps data across restarts, and stops on SIGTERM', async () => {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const buyer = await startBuyerServer({ ping: bidding(15), post: accepting() });
    try {
      const first = start({ PORT: String(port), HOST: '127.0.0.1', DATA_DIR: dataDir, ADMIN_TOKEN: ADMIN });
      await waitReady(base);
      expect(await bodyOf(fetch(`${base}/readyz`))).toMatchObject({ checks: { postgres: 'ok', memory: 'ok' } });

      await fetch(`${base}/v1/admin/verticals`, json(ADMIN, { key: 'auto_insurance', fields: [{ name: 'state', type: 'string', required: true }, { name: 'zip', type: 'string', required: true }, { name: 'age', type: 'integer', required: true }, { name: 'credit', type: 'string' }] }));
      const affiliate = await bodyOf(fetch(`${base}/v1/admin/affiliates`, json(ADMIN, { name: 'A', payout: { type: 'fixed', amount: 5 } })));
      const account = await bodyOf(fetch(`${base}/v1/admin/buyers`, json(ADMIN, { name: 'B' })));
      const campaign = await fetch(`${base}/v1/admin/campaigns`, json(ADMIN, { buyer_id: account.id, name: 'C', vertical: 'auto_insurance', mode: 'exclusive', pricing: { type: 'bid' }, ping_url: buyer.pingUrl, post_url: buyer.postUrl }));
      expect(campaign.status).toBe(201);

      const sent = sampleLead();
      const sold = await bodyOf(fetch(`${base}/v1/leads`, json(affiliate.api_key, sent)));
      expect(sold).toMatchObject({ status: 'sold', payout: 5 });

      first.child.kill('SIGTERM');
      expect(await first.exited).toBe(0);
      expect(first.output()).toContain('stopped');

      // Same DATA_DIR: the lead, the affiliate's key and the campaign survived the restart.
      const second = start({ PORT: String(port), HOST: '127.0.0.1', DATA_DIR: dataDir, ADMIN_TOKEN: ADMIN });
      await waitReady(base);
      const lead = await bodyOf(fetch(`${base}/v1/admin/leads/${sold.lead_id}`, { headers: { authorization: `Bearer ${ADMIN}` } }));
      // Encrypted at rest with the development key kept under DATA_DIR: still readable after the restart.
      const revealed = await bodyOf(fetch(`${base}/v1/admin/leads/${sold.lead_id}?reveal=contact`, { headers: { authorization: `Bearer ${ADMIN}` } }));
      expect(revealed.lead.contact.email).toBe(sent.contact.email);
      expect(first.output()).toContain('PII_KEYS is not set');
      expect(lead.lead.status).toBe('sold');
      expect((await bodyOf(fetch(`${base}/v1/leads`, json(affiliate.api_key, sampleLead())))).status).toBe('sold');
      second.child.kill('SIGTERM');
      expect(await second.exited).toBe(0);
    } finally {
      await buyer.close();
    }
  }, 180_000);

  it('refuses a bad configuration, naming the variable', async () => {
    const bad = start({ PORT: 'eighty', AUCTION_TMAX_MS: '-5', DATABASE_URL: 'mysql://nope', ADMIN_TOKEN: 'short', PII_KEYS: `k1:${Buffer.alloc(16).toString('base64')}` });
    expect(await bad.exited).toBe(2);
    for (const name of ['PORT', 'AUCTION_TMAX_MS', 'DATABASE_URL', 'ADMIN_TOKEN', 'PII_KEYS']) expect(bad.output()).toContain(name);
    expect(bad.output()).not.toMatch(/\n\s+at /);
  });
});
