// The floor: the least an exchange can do for the same auction, to compare leadex against.
// Hono on @hono/node-server; parse the lead, ping the same buyers with the same ping body over
// undici's dispatch API (one keep-alive Pool per buyer origin, configured like leadex's), take
// the best bid, post to it (next best on a rejection), answer. No validation, no Redis, no
// Postgres, no audit.
//
//   POST /v1/leads   direct post
//   POST /v1/ping    fan out, rank, remember the bids in a Map under the ping id
//   POST /v1/post    post to the remembered winner
//
// Child process: `node load/floor.ts` with FLOOR_BUYERS (JSON [{ pingUrl, postUrl }]) and
// FLOOR_PORT (0: any) prints {"event":"ready","url":...}. FLOOR_SIGN=1 also HMAC-signs every
// buyer request as leadex must (section 4); off by default, as the floor is the bare minimum.
// FLOOR_IO (with FLOOR_REDIS_URL, FLOOR_DATABASE_URL) adds the least I/O the rules ask of an
// exchange: load/floor-io.ts. Off by default too.
import { createHash, createHmac, randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { Pool } from 'undici';
import { startFloorIo } from './floor-io.ts';

interface Buyer {
  campaignId: string;
  pingPool: Pool;
  pingPath: string;
  postPool: Pool;
  postPath: string;
}

interface Bid {
  buyer: Buyer;
  amount: number;
  bidId: string | null;
}

interface Held {
  bids: Bid[];
  vertical: unknown;
  data: unknown;
  at: number;
  /** The ping's decisions, for the post's record (FLOOR_IO=record). */
  events: string[] | undefined;
}

const TIMEOUT_MS = Number(process.env.FLOOR_TIMEOUT_MS ?? 500);
const SIGN = process.env.FLOOR_SIGN === '1';
const SECRET = 'floor-signing-secret';
const HOLD_MS = 30_000;
const PAYOUT_SHARE = 0.8;
const IO_PARTS = new Set((process.env.FLOOR_IO ?? '').split(',').filter(Boolean));
const RECORD = IO_PARTS.has('record');
const REDIS = IO_PARTS.has('redis');
const io = await startFloorIo(IO_PARTS, { redisUrl: process.env.FLOOR_REDIS_URL, databaseUrl: process.env.FLOOR_DATABASE_URL });

const pools = new Map<string, Pool>();
function poolFor(origin: string): Pool {
  let pool = pools.get(origin);
  if (!pool) {
    // Same settings as leadex's HttpBuyerClient.
    pool = new Pool(origin, { connections: 128, pipelining: 1, keepAliveTimeout: 30_000, keepAliveMaxTimeout: 600_000 });
    pools.set(origin, pool);
  }
  return pool;
}

const buyers: Buyer[] = (JSON.parse(process.env.FLOOR_BUYERS ?? '[]') as Array<{ pingUrl: string; postUrl: string }>).map((b, i) => {
  const ping = new URL(b.pingUrl);
  const post = new URL(b.postUrl);
  return {
    campaignId: `cp_floor_${i}`,
    pingPool: poolFor(ping.origin),
    pingPath: ping.pathname + ping.search,
    postPool: poolFor(post.origin),
    postPath: post.pathname + post.search,
  };
});

const id = (prefix: string) => `${prefix}_${randomBytes(12).toString('hex')}`;
const sha256 = (value: unknown) => (typeof value === 'string' ? createHash('sha256').update(value).digest('hex') : undefined);

function headersFor(raw: string, extra?: Record<string, string>): Record<string, string> {
  const headers: Record<string, string> = { 'content-type': 'application/json', ...extra };
  if (SIGN) {
    const timestamp = String(Math.floor(Date.now() / 1000));
    headers['x-leadex-timestamp'] = timestamp;
    headers['x-leadex-signature'] = `v1=${createHmac('sha256', SECRET).update(`${timestamp}.${raw}`).digest('hex')}`;
  }
  return headers;
}

/**
 * One POST through undici's dispatch API, collecting the answer in a plain handler: the leanest
 * way undici offers (no Readable, AsyncResource or AbortSignal per request), as leadex's own
 * buyer client does, so the floor stays the floor. Bounded by undici's header/body timeouts.
 */
function post(pool: Pool, path: string, raw: string, extra?: Record<string, string>): Promise<{ status: number; text: string } | null> {
  return new Promise((resolve) => {
    let status = 0;
    const chunks: Buffer[] = [];
    try {
      pool.dispatch(
        { path, method: 'POST', headers: headersFor(raw, extra), body: raw, headersTimeout: TIMEOUT_MS, bodyTimeout: TIMEOUT_MS },
        {
          onRequestStart() {},
          onResponseStart(_controller, statusCode) {
            status = statusCode;
          },
          onResponseData(_controller, chunk) {
            chunks.push(chunk);
          },
          onResponseEnd() {
            resolve({ status, text: chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8') });
          },
          onResponseError() {
            resolve(null);
          },
        },
      );
    } catch {
      resolve(null);
    }
  });
}

function bidOf(buyer: Buyer, answer: { status: number; text: string } | null): Bid | null {
  if (answer === null || answer.status !== 200) return null;
  try {
    const parsed = JSON.parse(answer.text) as { bid?: unknown; bid_id?: unknown };
    if (typeof parsed.bid !== 'number' || !(parsed.bid > 0)) return null;
    return { buyer, amount: parsed.bid, bidId: typeof parsed.bid_id === 'string' ? parsed.bid_id : null };
  } catch {
    return null;
  }
}

/** Pings every buyer in parallel; the valid bids, best first. */
async function collectBids(pingId: string, vertical: unknown, data: unknown, hashes: unknown, events?: string[]): Promise<Bid[]> {
  const answers = await Promise.all(
    buyers.map(async (buyer): Promise<Bid | null> => {
      const raw = JSON.stringify({
        ping_id: pingId,
        campaign_id: buyer.campaignId,
        vertical,
        mode: 'exclusive',
        data,
        contact_hashes: hashes,
        tmax_ms: TIMEOUT_MS,
      });
      const answer = await post(buyer.pingPool, buyer.pingPath, raw);
      const bid = bidOf(buyer, answer);
      events?.push(JSON.stringify({ at: Date.now(), type: 'campaign.pinged', campaign_id: buyer.campaignId, detail: { outcome: bid ? 'bid' : 'no_bid', amount: bid?.amount ?? null } }));
      return bid;
    }),
  );
  const bids = answers.filter((b): b is Bid => b !== null);
  bids.sort((a, b) => b.amount - a.amount);
  return bids;
}

/** Posts to the best bid, then the next on a rejection; the sale or null. */
async function sell(leadId: string, pingId: string, bids: Bid[], lead: Record<string, unknown>): Promise<Bid | null> {
  for (const bid of bids) {
    const raw = JSON.stringify({
      lead_id: leadId,
      ping_id: pingId,
      bid_id: bid.bidId,
      campaign_id: bid.buyer.campaignId,
      price: bid.amount,
      vertical: lead.vertical,
      mode: 'exclusive',
      data: lead.data,
      contact: lead.contact,
      consent: lead.consent,
      source: lead.source,
    });
    const answer = await post(bid.buyer.postPool, bid.buyer.postPath, raw, { 'idempotency-key': id('sl') });
    if (answer === null || answer.status !== 200) continue;
    try {
      if ((JSON.parse(answer.text) as { accepted?: unknown }).accepted === true) return bid;
    } catch {
      // not an answer: next bid
    }
  }
  return null;
}

function answer(leadId: string, sale: Bid | null) {
  return sale
    ? { lead_id: leadId, status: 'sold', mode: 'exclusive', payout: Math.round(sale.amount * PAYOUT_SHARE * 100) / 100, buyers: 1, redirect_url: null }
    : { lead_id: leadId, status: 'unsold', mode: null, payout: 0, buyers: 0, redirect_url: null };
}

// Only called with FLOOR_IO=record: the bare floor does not even await it.
async function recordSale(leadId: string, sale: Bid | null, lead: Record<string, any>, events: string[] = []): Promise<void> {
  events.push(JSON.stringify({ at: Date.now(), type: sale ? 'lead.sold' : 'lead.unsold', campaign_id: sale?.buyer.campaignId ?? null, detail: { price: sale?.amount ?? 0 } }));
  await io.record({ leadId, campaignId: sale?.buyer.campaignId ?? null, price: sale?.amount ?? 0, lead: { vertical: lead.vertical, data: lead.data, contact: lead.contact, consent: lead.consent, source: lead.source }, events });
}

const held = new Map<string, Held>();
setInterval(() => {
  const old = Date.now() - HOLD_MS;
  for (const [key, value] of held) if (value.at < old) held.delete(key);
}, 5000).unref();

const app = new Hono();

// With I/O on, shutdown waits for the auctions still running (the driver stops mid-auction) before
// it closes Redis and Postgres, or their last writes fail on a closed client. The bare floor keeps
// no such count: it has nothing to close under a running auction.
let running = 0;
let drained: (() => void) | null = null;
if (IO_PARTS.size > 0) {
  app.use(async (_c, next) => {
    running++;
    try {
      await next();
    } finally {
      if (--running === 0) drained?.();
    }
  });
}

app.post('/v1/leads', async (c) => {
  const lead = await c.req.json<Record<string, any>>();
  const leadId = id('ld');
  const pingId = id('pg');
  const hashes = { email_sha256: sha256(lead.contact?.email), phone_sha256: sha256(lead.contact?.phone) };
  const events: string[] | undefined = RECORD ? [] : undefined;
  if (REDIS) await io.roundTrip();
  const bids = await collectBids(pingId, lead.vertical, lead.data, hashes, events);
  if (REDIS && bids.length > 0) await io.roundTrip();
  const sale = await sell(leadId, pingId, bids, lead);
  if (RECORD) await recordSale(leadId, sale, lead, events);
  return c.json(answer(leadId, sale));
});

app.post('/v1/ping', async (c) => {
  const ping = await c.req.json<Record<string, any>>();
  const pingId = id('pg');
  if (REDIS) await io.roundTrip();
  const events: string[] | undefined = RECORD ? [] : undefined;
  const bids = await collectBids(pingId, ping.vertical, ping.data, ping.contact_hashes ?? {}, events);
  if (bids.length === 0) return c.json({ ping_id: pingId, status: 'no_bid' });
  if (REDIS) await io.roundTrip();
  held.set(pingId, { bids, vertical: ping.vertical, data: ping.data, at: Date.now(), events });
  const best = bids[0]!;
  return c.json({
    ping_id: pingId,
    status: 'bid',
    payout: Math.round(best.amount * PAYOUT_SHARE * 100) / 100,
    mode: 'exclusive',
    expires_at: new Date(Date.now() + HOLD_MS).toISOString(),
  });
});

app.post('/v1/post', async (c) => {
  const body = await c.req.json<Record<string, any>>();
  const pingId = String(body.ping_id);
  const hold = held.get(pingId);
  if (!hold) return c.json({ title: 'Not Found', status: 404 }, 404);
  held.delete(pingId);
  const leadId = id('ld');
  const lead = { vertical: hold.vertical, data: hold.data, contact: body.contact, consent: body.consent, source: body.source };
  if (REDIS) await io.roundTrip();
  const sale = await sell(leadId, pingId, hold.bids, lead);
  if (RECORD) await recordSale(leadId, sale, lead, hold.events);
  return c.json(answer(leadId, sale));
});

app.get('/healthz', (c) => c.json({ status: 'ok' }));

const server = serve({ fetch: app.fetch, port: Number(process.env.FLOOR_PORT ?? 0), hostname: '127.0.0.1' }, (info: AddressInfo) => {
  process.stdout.write(`${JSON.stringify({ event: 'ready', url: `http://127.0.0.1:${info.port}`, buyers: buyers.length })}\n`);
});

const stop = () => {
  server.close();
  const idle = running === 0 ? Promise.resolve() : new Promise<void>((resolve) => (drained = resolve));
  void idle
    .then(() => Promise.all([...[...pools.values()].map((p) => p.close().catch(() => {})), io.close()]))
    .then(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
