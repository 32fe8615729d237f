// Section 3.2: a ping's hold is stored with the end of its auction, sent right behind the
// reservation of its winners — one round trip — and only kept when every winner was reserved.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuctionEnd, ReservationRequest, Store } from '../../src/store/store.ts';
import { accepting, bidding, startBuyerServer, type BuyerServer } from '../support/buyer-server.ts';
import { sampleLead, startExchange, type TestExchange } from '../support/exchange.ts';
import { withStoreMethod } from '../support/store-method.ts';

describe.each(['redis', 'memory'] as const)('a ping\'s hold with the %s store', (storeKind) => {
  let exchange: TestExchange;
  let affiliateKey: string;
  const servers: BuyerServer[] = [];
  /** Per reservation the exchange made: whether a hold had been sent before its answer came. */
  const holdSentBeforeAnswer: boolean[] = [];
  let holdSent: (() => void) | null = null;

  // Each reservation's answer waits (up to 300 ms) for a hold to be sent: an exchange that sends
  // the hold only once it has the answer is seen waiting the whole time.
  function watched(store: Store): Store {
    const ends = withStoreMethod(store, 'endAuction', (endAuction) => (end: AuctionEnd) => {
      if (end.hold) holdSent?.();
      return endAuction(end);
    });
    return withStoreMethod(ends, 'reserve', (reserve) => async (requests: ReservationRequest[]) => {
      const sent = new Promise<boolean>((resolve) => {
        holdSent = () => resolve(true);
        setTimeout(() => resolve(false), 300);
      });
      const outcomes = await reserve(requests);
      holdSentBeforeAnswer.push(await sent);
      return outcomes;
    });
  }

  beforeAll(async () => {
    exchange = await startExchange({ label: `ping_hold_${storeKind}`, store: storeKind, wrapStore: watched });
    await exchange.admin.vertical();
    affiliateKey = (await exchange.admin.affiliate()).api_key;
  });

  afterAll(async () => {
    await exchange?.close();
    await Promise.all(servers.map((s) => s.close()));
  });

  async function campaign(amount: number, fields: Record<string, unknown> = {}) {
    const server = await startBuyerServer({ ping: bidding(amount, { delayMs: 5 }), post: accepting() });
    servers.push(server);
    const buyer = await exchange.admin.buyer();
    const created = await exchange.admin.campaign({ buyer_id: buyer.id, ping_url: server.pingUrl, post_url: server.postUrl, ...fields });
    return { server, id: created.id as string };
  }

  const ping = (lead: Record<string, any>) => exchange.call('POST', '/v1/ping', { token: affiliateKey, body: { vertical: lead.vertical, data: lead.data } });
  const post = (pingId: string, lead: Record<string, any>) =>
    exchange.call('POST', '/v1/post', { token: affiliateKey, body: { ping_id: pingId, contact: lead.contact, consent: lead.consent } });
  const capUsed = async (campaignId: string): Promise<number> => (await exchange.admin.request('GET', `/campaigns/${campaignId}/status`)).caps[0].used;

  it('leaves behind the reservation of its winner, before the store has answered it', async () => {
    const only = await campaign(20, { caps: [{ period: 'day', leads: 100 }] });
    await exchange.admin.activateOnly([only.id]);
    holdSentBeforeAnswer.length = 0;
    const lead = sampleLead();

    const answer = await ping(lead);

    expect(answer.body).toMatchObject({ status: 'bid' });
    expect(holdSentBeforeAnswer).toEqual([true]);
    expect((await post(answer.body.ping_id, lead)).body).toMatchObject({ status: 'sold', buyers: 1 });
    expect(await capUsed(only.id)).toBe(1);
  });

  it('is screened at its post against the consumer the post reveals, read with the claim', async () => {
    // Shared, so that no exclusivity stands in the way of the buyer's own dedupe window.
    const only = await campaign(20, { mode: 'shared', caps: [{ period: 'day', leads: 100 }], dedupe_days: 30 });
    await exchange.admin.activateOnly([only.id]);
    const consumer = sampleLead();
    const again = sampleLead({ contact: consumer.contact });

    const first = await ping(consumer);
    expect((await post(first.body.ping_id, consumer)).body).toMatchObject({ status: 'sold', buyers: 1 });
    // Pinged without contact hashes, so the ping cannot tell; the post can.
    const second = await ping(again);
    expect(second.body).toMatchObject({ status: 'bid' });
    expect((await post(second.body.ping_id, again)).body).toMatchObject({ status: 'duplicate', reasons: ['duplicate_consumer'] });
    // From another affiliate the same consumer is no resend, but this buyer already bought it.
    const otherKey = (await exchange.admin.affiliate()).api_key;
    const third = await exchange.call('POST', '/v1/ping', { token: otherKey, body: { vertical: again.vertical, data: again.data } });
    const posted = await exchange.call('POST', '/v1/post', { token: otherKey, body: { ping_id: third.body.ping_id, contact: again.contact, consent: again.consent } });
    expect(posted.body).toMatchObject({ status: 'unsold', buyers: 0 });
    expect(only.server.received.posts).toHaveLength(1);
    expect(await capUsed(only.id)).toBe(1);
  });

  it('is not kept for a winner whose cap ran out at once: the next bid is held instead', async () => {
    // Eight pings at once all see the rich campaign eligible; only two can reserve it.
    const rich = await campaign(50, { caps: [{ period: 'day', leads: 2 }] });
    const fallback = await campaign(10, { caps: [{ period: 'day', leads: 100 }] });
    await exchange.admin.activateOnly([rich.id, fallback.id]);
    const leads = Array.from({ length: 8 }, () => sampleLead());

    const pings = await Promise.all(leads.map(ping));

    expect(pings.map((p) => p.body.status)).toEqual(Array(8).fill('bid'));
    expect(await capUsed(rich.id)).toBe(2);
    expect(await capUsed(fallback.id)).toBe(6);
    const posts = await Promise.all(pings.map((p, i) => post(p.body.ping_id, leads[i]!)));
    expect(posts.map((p) => p.body.status)).toEqual(Array(8).fill('sold'));
    expect(rich.server.received.posts).toHaveLength(2);
    expect(fallback.server.received.posts).toHaveLength(6);
    expect(await capUsed(rich.id)).toBe(2);
    expect(await capUsed(fallback.id)).toBe(6);
  });

  it('is stored with the end of the session for a shared round that kept only some of its winners', async () => {
    // Both pings choose all three; only one can reserve the capped campaign and nobody is left to
    // take its place, so the other holds the two it did reserve.
    const capped = await campaign(12, { mode: 'shared', caps: [{ period: 'day', leads: 1 }] });
    const others = await Promise.all([11, 10].map((amount) => campaign(amount, { mode: 'shared', caps: [{ period: 'day', leads: 100 }] })));
    await exchange.admin.activateOnly([capped.id, ...others.map((o) => o.id)]);
    const leads = [sampleLead(), sampleLead()];

    const pings = await Promise.all(leads.map(ping));

    expect(pings.map((p) => [p.body.status, p.body.mode])).toEqual([['bid', 'shared'], ['bid', 'shared']]);
    const posts = await Promise.all(pings.map((p, i) => post(p.body.ping_id, leads[i]!)));
    expect(posts.map((p) => p.body.buyers).sort()).toEqual([2, 3]);
    expect(capped.server.received.posts).toHaveLength(1);
    expect(others.map((o) => o.server.received.posts.length)).toEqual([2, 2]);
    expect(await capUsed(capped.id)).toBe(1);
  });
});
