// An overloaded node (MAX_PINGS_IN_FLIGHT, src/exchange/ping-slots.ts): auctions wait in line
// before pinging rather than letting answers expire unread in the exchange's own backlog, and one
// that cannot start within the ping phase's deadline is refused before anything reaches a buyer.
import { afterAll, describe, expect, it } from 'vitest';
import { accepting, startBuyerServer, type BuyerServer, type Handler } from '../support/buyer-server.ts';
import { sampleLead, startExchange, type TestExchange } from '../support/exchange.ts';

const SLOTS = 4;
const BUYER_MS = 100;
const closing: Array<{ close(): Promise<void> }> = [];

afterAll(async () => {
  await Promise.all(closing.map((c) => c.close()));
});

/**
 * Buyers that all answer after BUYER_MS, and not before `hold` settles; `peak` is the most pings
 * they ever held at once.
 */
function countingBuyers(hold: Promise<void> = Promise.resolve()) {
  const seen = { now: 0, peak: 0 };
  const handler: Handler = async () => {
    seen.now += 1;
    seen.peak = Math.max(seen.peak, seen.now);
    await Promise.all([new Promise((resolve) => setTimeout(resolve, BUYER_MS)), hold]);
    seen.now -= 1;
    return { json: { bid: 10, bid_id: 'b-1' } };
  };
  return { seen, handler };
}

/** The ping-slot gauges of a /metrics text. */
function gauges(text: string): Record<string, number> {
  const wanted = ['leadex_ping_slots', 'leadex_pings_in_flight', 'leadex_auctions_waiting_for_ping_slots'];
  const found: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const [name, value] = line.split(' ');
    if (name !== undefined && value !== undefined && wanted.includes(name)) found[name] = Number(value);
  }
  return found;
}

async function exchangeWithBuyers(label: string, tmaxMs: number, handler: Handler): Promise<{ exchange: TestExchange; key: string; servers: BuyerServer[] }> {
  const exchange = await startExchange({ label, settings: { tmaxMs }, maxPingsInFlight: SLOTS });
  closing.push(exchange);
  await exchange.admin.vertical();
  const key = (await exchange.admin.affiliate()).api_key;
  const servers: BuyerServer[] = [];
  for (let i = 0; i < SLOTS; i++) {
    const server = await startBuyerServer({ ping: handler, post: accepting() });
    closing.push(server);
    servers.push(server);
    const buyer = await exchange.admin.buyer();
    await exchange.admin.campaign({ buyer_id: buyer.id, ping_url: server.pingUrl, post_url: server.postUrl, timeout_ms: 1000 });
  }
  return { exchange, key, servers };
}

describe('an exchange with more auctions than ping slots', () => {
  it('never has more pings in flight than its slots, sells every lead, and shows the wait in the timeline', async () => {
    let open: () => void = () => {};
    const buyers = countingBuyers(new Promise<void>((resolve) => (open = resolve)));
    const { exchange, key } = await exchangeWithBuyers('overload_queue', 800, buyers.handler);

    // Each auction pings all 4 buyers, so with 4 slots they can only go one after another.
    const started = performance.now();
    const answering = Promise.all(Array.from({ length: 5 }, () => exchange.call('POST', '/v1/leads', { token: key, body: sampleLead() })));
    // While the first auction's pings are out (the buyers hold them until told), an operator sees
    // the node at capacity, with the four other auctions in line.
    await expect
      .poll(async () => gauges((await exchange.call('GET', '/metrics')).body), { interval: 5, timeout: 300 })
      .toEqual({ leadex_ping_slots: SLOTS, leadex_pings_in_flight: SLOTS, leadex_auctions_waiting_for_ping_slots: 4 });
    open();
    const answers = await answering;
    const elapsed = performance.now() - started;
    expect(gauges((await exchange.call('GET', '/metrics')).body)).toEqual({ leadex_ping_slots: SLOTS, leadex_pings_in_flight: 0, leadex_auctions_waiting_for_ping_slots: 0 });

    expect(answers.map((a) => a.body.status)).toEqual(['sold', 'sold', 'sold', 'sold', 'sold']);
    expect(buyers.seen.peak).toBe(SLOTS);
    expect(elapsed).toBeGreaterThanOrEqual(5 * BUYER_MS - 10);
    const timelines = await Promise.all(answers.map(async (a) => (await exchange.admin.lead(a.body.lead_id)).timeline as any[]));
    const waits = timelines.map((t) => t.find((e) => e.type === 'auction.queued')?.waited_ms ?? 0).sort((a, b) => a - b);
    // One went at once; the last waited for the four before it.
    expect(waits[0]).toBe(0);
    expect(waits[4]).toBeGreaterThanOrEqual(4 * BUYER_MS - 20);
    // Waiting is the exchange's: every buyer still got its whole answer time, none timed out.
    for (const timeline of timelines) {
      expect(timeline.filter((e) => e.type === 'campaign.pinged').map((e) => e.outcome)).toEqual(['bid', 'bid', 'bid', 'bid']);
    }
  });

  it('refuses with 503 an auction that cannot get its slots within the ping deadline, before any buyer sees it', async () => {
    const buyers = countingBuyers();
    const { exchange, key, servers } = await exchangeWithBuyers('overload_shed', 250, buyers.handler);

    const answers = await Promise.all(Array.from({ length: 6 }, () => exchange.call('POST', '/v1/leads', { token: key, body: sampleLead() })));

    const sold = answers.filter((a) => a.status === 200);
    const refused = answers.filter((a) => a.status === 503);
    expect(sold.length + refused.length).toBe(6);
    // Starts at about 0, 100 and 200 ms fit in 250 ms of patience; one starting at 300 ms does not.
    expect(sold.length).toBeGreaterThanOrEqual(2);
    expect(refused.length).toBeGreaterThanOrEqual(3);
    for (const answer of sold) expect(answer.body.status).toBe('sold');
    for (const answer of refused) {
      expect(answer.headers.get('content-type')).toContain('application/problem+json');
      expect(answer.headers.get('retry-after')).toBe('1');
      expect(answer.body.detail).toMatch(/at capacity/);
    }
    // Only the auctions that ran were pinged: 4 buyers each.
    expect(servers.reduce((n, s) => n + s.received.pings.length, 0)).toBe(sold.length * SLOTS);
  });
});
