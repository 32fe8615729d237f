// `npm run demo`: the exchange on its embedded default, a handful of simulated buyers and an
// affiliate sending leads, with each auction's outcome printed as it happens.
import { serve } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import { createApp } from '../app.ts';
import { loadConfig } from '../config/config.ts';
import { createLogger } from '../log/logger.ts';
import { openRuntime } from '../runtime.ts';
import { startSimulatedBuyer, type SimulatedBuyer } from './simulated-buyers.ts';

const ADMIN_TOKEN = 'demo-admin-token-not-secret';
const LEADS = Number(process.env.DEMO_LEADS ?? 20);
const INTERVAL_MS = Number(process.env.DEMO_INTERVAL_MS ?? 400);

const BUYERS: Array<SimulatedBuyer & { mode: 'exclusive' | 'shared'; fixed?: number }> = [
  { name: 'acme-insurance', bid: 24, latencyMs: 60, rejectRate: 0, passRate: 0.1, mode: 'exclusive' },
  { name: 'bolt-quotes', bid: 19, latencyMs: 120, rejectRate: 0.5, passRate: 0.1, mode: 'exclusive' },
  { name: 'coastal-leads', bid: 9, latencyMs: 40, rejectRate: 0, passRate: 0.2, mode: 'shared' },
  { name: 'delta-direct', bid: 8, latencyMs: 250, rejectRate: 0, passRate: 0.2, mode: 'shared' },
  { name: 'echo-shared', bid: 7, latencyMs: 90, rejectRate: 0, passRate: 0.2, mode: 'shared' },
  { name: 'fixed-price-co', bid: 0, latencyMs: 30, rejectRate: 0.1, passRate: 0, mode: 'exclusive', fixed: 11 },
  { name: 'slowpoke', bid: 40, latencyMs: 2000, rejectRate: 0, passRate: 0, mode: 'exclusive' },
];

const STATES = ['CA', 'NV', 'TX', 'NY', 'FL'];
const CREDIT = ['poor', 'fair', 'good', 'excellent'];

async function main(): Promise<void> {
  const config = loadConfig({ ...process.env, DATABASE_URL: '', REDIS_URL: '', DATA_DIR: 'memory://', PORT: '0', ADMIN_TOKEN, LOG_LEVEL: 'warn' });
  const log = createLogger({ level: 'warn' });
  process.stdout.write('Starting leadex on embedded Postgres (PGlite) and the in-process store...\n');
  const runtime = await openRuntime(config, log);
  const app = createApp({ ...runtime.deps, adminToken: ADMIN_TOKEN });
  const server = serve({ fetch: app.hono.fetch, port: 0, hostname: '127.0.0.1' });
  await new Promise((resolve) => server.once('listening', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  async function call(method: string, path: string, token: string, body?: unknown): Promise<any> {
    const response = await fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const json = await response.json();
    if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${JSON.stringify(json)}`);
    return json;
  }

  await call('POST', '/v1/admin/verticals', ADMIN_TOKEN, {
    key: 'auto_insurance',
    fields: [
      { name: 'state', type: 'string', required: true },
      { name: 'zip', type: 'string', required: true },
      { name: 'age', type: 'integer', required: true },
      { name: 'credit', type: 'string', enum: CREDIT },
    ],
  });
  const affiliate = await call('POST', '/v1/admin/affiliates', ADMIN_TOKEN, { name: 'Demo affiliate', payout: { type: 'revshare', percent: 75 } });
  const running = await Promise.all(BUYERS.map((b) => startSimulatedBuyer(b)));
  const names = new Map<string, string>();
  for (const [i, buyer] of running.entries()) {
    const spec = BUYERS[i]!;
    const account = await call('POST', '/v1/admin/buyers', ADMIN_TOKEN, { name: buyer.name, balance: 1000 });
    const campaign = await call('POST', '/v1/admin/campaigns', ADMIN_TOKEN, {
      buyer_id: account.id,
      name: `${buyer.name} ${spec.mode}`,
      vertical: 'auto_insurance',
      mode: spec.mode,
      pricing: spec.fixed ? { type: 'fixed', price: spec.fixed } : { type: 'bid', min_bid: 2, max_bid: 35 },
      ...(spec.fixed ? {} : { ping_url: buyer.pingUrl }),
      post_url: buyer.postUrl,
      timeout_ms: 400,
      filters: buyer.name === 'coastal-leads' ? { all: [{ field: 'state', op: 'in', value: ['CA', 'NV', 'FL'] }] } : null,
      caps: [{ period: 'day', leads: buyer.name === 'acme-insurance' ? 8 : 1000 }],
    });
    names.set(campaign.id, buyer.name);
  }

  process.stdout.write(`leadex is up at ${base} with ${running.length} simulated buyers:\n`);
  for (const b of BUYERS) {
    const pricing = b.fixed ? `fixed $${b.fixed}` : `bids ~$${b.bid}`;
    process.stdout.write(`  ${b.name.padEnd(15)} ${b.mode.padEnd(9)} ${pricing.padEnd(12)} ${String(b.latencyMs).padStart(4)} ms${b.rejectRate ? `, rejects ${b.rejectRate * 100}% of posts` : ''}\n`);
  }
  process.stdout.write(`\nSending ${LEADS} leads (every 3rd one two-phase: ping, then post)...\n\n`);

  const totals = { sold: 0, unsold: 0, payout: 0 };
  for (let i = 1; i <= LEADS; i++) {
    const n = String(1000 + i).slice(-4);
    const lead = {
      vertical: 'auto_insurance',
      data: { state: STATES[i % STATES.length], zip: `9${String(i).padStart(4, '0')}`, age: 20 + ((i * 7) % 50), credit: CREDIT[i % CREDIT.length] },
      contact: { first_name: 'Demo', last_name: `Consumer${i}`, email: `demo${i}@example.com`, phone: `+1310555${n}` },
      consent: { tcpa: true, text: 'I agree to be contacted about insurance quotes', captured_at: new Date().toISOString(), ip: '203.0.113.7' },
      source: { sub_id: 'demo' },
    };
    const started = performance.now();
    let answer: any;
    let via = 'direct';
    if (i % 3 === 0) {
      via = 'ping+post';
      const ping = await call('POST', '/v1/ping', affiliate.api_key, { vertical: lead.vertical, data: lead.data });
      answer = ping.status === 'no_bid' ? { status: 'unsold', payout: 0, lead_id: null } : await call('POST', '/v1/post', affiliate.api_key, { ping_id: ping.ping_id, contact: lead.contact, consent: lead.consent });
    } else {
      answer = await call('POST', '/v1/leads', affiliate.api_key, lead);
    }
    const ms = Math.round(performance.now() - started);
    let detail = '';
    if (answer.lead_id) {
      const view = await call('GET', `/v1/admin/leads/${answer.lead_id}`, ADMIN_TOKEN);
      const bids = view.timeline.filter((e: any) => e.type === 'campaign.pinged' || e.type === 'campaign.priced').length;
      const refused = view.timeline.filter((e: any) => e.type === 'post.rejected').map((e: any) => names.get(e.campaign_id));
      const winners = view.sales.map((s: any) => `${names.get(s.campaign_id)} $${s.price}`);
      detail = `${bids} priced${winners.length ? ` → ${winners.join(', ')}` : ''}${refused.length ? ` (refused by ${refused.join(', ')})` : ''}`;
    }
    if (answer.status === 'sold') totals.sold++;
    else totals.unsold++;
    totals.payout += answer.payout;
    process.stdout.write(
      `#${String(i).padStart(2)} ${via.padEnd(9)} ${String(lead.data.state)} ${String(lead.data.credit).padEnd(9)} ${String(answer.status).padEnd(7)} ${(answer.mode ?? '').padEnd(9)} payout $${answer.payout.toFixed(2).padStart(6)} ${String(ms).padStart(4)} ms  ${detail}\n`,
    );
    await new Promise((resolve) => setTimeout(resolve, INTERVAL_MS));
  }

  process.stdout.write(`\n${totals.sold} sold, ${totals.unsold} unsold, affiliate earned $${totals.payout.toFixed(2)}.\n`);
  process.stdout.write(`Each lead's full timeline: GET ${base}/v1/admin/leads/<lead_id> with "Authorization: Bearer ${ADMIN_TOKEN}".\n`);
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await runtime.close();
  await Promise.all(running.map((b) => b.close()));
}

await main();
