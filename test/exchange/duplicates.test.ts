// Section 3.1 `duplicate`, 5.1 dedupe and 5.7 exclusivity: what the exchange remembers about a
// consumer (by contact hash) decides who may see the lead again — on either store.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { contactHashes, normalizeEmail, normalizePhone } from '../../src/lead/contact.ts';
import { accepting, bidding, startBuyerServer, type BuyerServer } from '../support/buyer-server.ts';
import { sampleLead, startExchange, type TestExchange } from '../support/exchange.ts';

describe.each(['redis', 'memory'] as const)('consumer memory with the %s store', (storeKind) => {
  let exchange: TestExchange;
  let affiliateKey: string;
  let otherAffiliateKey: string;
  const servers: BuyerServer[] = [];
  // Real time unless a test moves it on (and back); the store's TTLs keep running on real time.
  let aheadMs = 0;
  const clock = { now: () => Date.now() + aheadMs };

  beforeAll(async () => {
    exchange = await startExchange({ label: `dupes_${storeKind}`, store: storeKind, clock });
    await exchange.admin.vertical({ duplicate_days: 30, exclusive_days: 30 });
    affiliateKey = (await exchange.admin.affiliate()).api_key;
    otherAffiliateKey = (await exchange.admin.affiliate()).api_key;
  });

  afterAll(async () => {
    await exchange?.close();
    await Promise.all(servers.map((s) => s.close()));
  });


  async function buyerWith(campaigns: Array<Record<string, unknown>>, bid = 10) {
    const server = await startBuyerServer({ ping: bidding(bid), post: accepting() });
    servers.push(server);
    const buyer = await exchange.admin.buyer();
    const ids: string[] = [];
    for (const fields of campaigns) {
      ids.push((await exchange.admin.campaign({ buyer_id: buyer.id, ping_url: server.pingUrl, post_url: server.postUrl, ...fields })).id);
    }
    return { server, buyer, ids };
  }

  const send = (lead: Record<string, unknown>, token = affiliateKey) => exchange.call('POST', '/v1/leads', { token, body: lead });

  it('an affiliate resending a consumer within duplicate_days gets duplicate, and no buyer hears of it', async () => {
    const a = await buyerWith([{}]);
    await exchange.admin.activateOnly(a.ids);
    const lead = sampleLead();
    expect((await send(lead)).body.status).toBe('sold');
    const pings = a.server.received.pings.length;

    // Same consumer, the phone written differently, a new lead.
    const resend = await send({ ...sampleLead(), contact: { ...lead.contact, phone: lead.contact.phone.replace('+1', '') } });

    expect(resend.body).toMatchObject({ status: 'duplicate', buyers: 0, reasons: ['duplicate_consumer'] });
    expect(a.server.received.pings).toHaveLength(pings);
    const stored = await exchange.admin.lead(resend.body.lead_id);
    expect(stored.lead.status).toBe('duplicate');
  });

  it('a buyer is never pinged for a consumer it bought within dedupe_days, across all its campaigns', async () => {
    const a = await buyerWith([{ mode: 'shared' }, { mode: 'shared', dedupe_days: 10 }], 10);
    const b = await buyerWith([{ mode: 'shared' }], 9);
    await exchange.admin.activateOnly([...a.ids, ...b.ids]);
    const lead = sampleLead();
    expect((await send(lead)).body).toMatchObject({ status: 'sold', mode: 'shared', buyers: 2 });
    const aPings = a.server.received.pings.length;

    // Another affiliate sends the same consumer: not a resend, but buyer a already has it.
    const again = await send({ ...sampleLead(), contact: lead.contact }, otherAffiliateKey);

    expect(a.server.received.pings).toHaveLength(aPings);
    const { timeline } = await exchange.admin.lead(again.body.lead_id);
    for (const id of a.ids) expect(timeline).toContainEqual(expect.objectContaining({ type: 'campaign.excluded', campaign_id: id, reason: 'already_bought' }));
  });

  it('a campaign with dedupe_days 0 may buy the same consumer again', async () => {
    const a = await buyerWith([{ mode: 'shared', dedupe_days: 0 }]);
    await exchange.admin.activateOnly(a.ids);
    const lead = sampleLead();
    expect((await send(lead)).body.status).toBe('sold');
    expect((await send({ ...sampleLead(), contact: lead.contact }, otherAffiliateKey)).body.status).toBe('sold');
  });

  it('after an exclusive sale no other buyer is pinged for that consumer: the lead is a duplicate', async () => {
    const winner = await buyerWith([{}], 30);
    const other = await buyerWith([{}], 20);
    await exchange.admin.activateOnly([...winner.ids, ...other.ids]);
    const lead = sampleLead();
    expect((await send(lead)).body).toMatchObject({ status: 'sold', mode: 'exclusive' });
    const otherPings = other.server.received.pings.length;

    // By e-mail only: either hash is the same consumer.
    const again = await send({ ...sampleLead(), contact: { ...sampleLead().contact, email: lead.contact.email } }, otherAffiliateKey);

    expect(again.body).toMatchObject({ status: 'duplicate', reasons: ['exclusive_to_another_buyer'] });
    expect(other.server.received.pings).toHaveLength(otherPings);
    const { timeline } = await exchange.admin.lead(again.body.lead_id);
    expect(timeline).toContainEqual(expect.objectContaining({ type: 'campaign.excluded', campaign_id: other.ids[0], reason: 'consumer_exclusive' }));
  });

  it('one consumer sent by three affiliates at once is sold once when exclusive', async () => {
    const a = await buyerWith([{}], 30);
    const b = await buyerWith([{}], 25);
    await exchange.admin.activateOnly([...a.ids, ...b.ids]);
    const third = (await exchange.admin.affiliate()).api_key;
    const lead = sampleLead();

    const answers = await Promise.all([affiliateKey, otherAffiliateKey, third].map((token) => send({ ...sampleLead(), contact: lead.contact }, token)));

    expect(answers.map((x) => x.body.status).sort()).toEqual(['duplicate', 'duplicate', 'sold']);
    expect(a.server.received.posts.length + b.server.received.posts.length).toBe(1);
  });

  it('a two-phase ping with contact hashes is screened the same way', async () => {
    const a = await buyerWith([{}], 30);
    await exchange.admin.activateOnly(a.ids);
    const lead = sampleLead();
    expect((await send(lead)).body.status).toBe('sold');
    const hashes = contactHashes({ email: normalizeEmail(lead.contact.email), phone: normalizePhone(lead.contact.phone) });

    const ping = await exchange.call('POST', '/v1/ping', { token: affiliateKey, body: { vertical: lead.vertical, data: lead.data, contact_hashes: hashes } });

    expect(ping.body).toMatchObject({ status: 'no_bid', reason: 'duplicate' });
    // ...and lets go of the consumer at once: the next lead for it is not kept waiting.
    const next = await send({ ...sampleLead(), contact: lead.contact }, otherAffiliateKey);
    expect(next.body.status).toBe('duplicate');
    expect(next.elapsedMs).toBeLessThan(5000);
  });

  it('the resend window runs from the first send: a ping\'s own post does not restart it, and the first send after it ends starts a new one', async () => {
    const a = await buyerWith([{ dedupe_days: 0 }], 30);
    await exchange.admin.activateOnly(a.ids);
    const lead = sampleLead();
    const hashes = contactHashes({ email: normalizeEmail(lead.contact.email), phone: normalizePhone(lead.contact.phone) });
    const again = () => send({ ...sampleLead(), contact: lead.contact }, affiliateKey);
    const DAY = 86_400_000;
    try {
      const ping = await exchange.call('POST', '/v1/ping', { token: affiliateKey, body: { vertical: lead.vertical, data: lead.data, contact_hashes: hashes } });
      expect(ping.body).toMatchObject({ status: 'bid' });
      aheadMs = 20_000;
      const post = await exchange.call('POST', '/v1/post', { token: affiliateKey, body: { ping_id: ping.body.ping_id, contact: lead.contact, consent: lead.consent, source: lead.source } });
      expect(post.body).toMatchObject({ status: 'sold' });

      // 30 days after the ping, but not after its post: the window was the ping's.
      aheadMs = 30 * DAY + 10_000;
      expect((await again()).body.status).toBe('sold');
      // The ping's send is past, yet the store still holds it (its TTL runs on the store's clock):
      // the send just made opened a window of its own, which this one falls in.
      aheadMs = 31 * DAY;
      expect((await again()).body.status).toBe('duplicate');
    } finally {
      aheadMs = 0;
    }
  });
});
