// Section 3.1: an Idempotency-Key makes retries safe — one sale, one answer.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accepting, bidding, startBuyerServer, type BuyerServer } from '../support/buyer-server.ts';
import { sampleLead, startExchange, type TestExchange } from '../support/exchange.ts';

let exchange: TestExchange;
let affiliateKey: string;
let otherKey: string;
let buyer: BuyerServer;

beforeAll(async () => {
  exchange = await startExchange({ label: 'idempotency' });
  await exchange.admin.vertical();
  affiliateKey = (await exchange.admin.affiliate()).api_key;
  otherKey = (await exchange.admin.affiliate()).api_key;
  buyer = await startBuyerServer({ ping: bidding(10, { delayMs: 50 }), post: accepting({ delayMs: 50 }) });
  const b = await exchange.admin.buyer();
  await exchange.admin.campaign({ buyer_id: b.id, ping_url: buyer.pingUrl, post_url: buyer.postUrl });
});

afterAll(async () => {
  await exchange?.close();
  await buyer?.close();
});

const post = (token: string, body: unknown, key: string) =>
  exchange.call('POST', '/v1/leads', { token, body, headers: { 'idempotency-key': key } });

describe('Idempotency-Key on direct posts', () => {
  it('a retry after the first answer gets the same answer and sells nothing twice', async () => {
    const lead = sampleLead();
    const first = await post(affiliateKey, lead, 'retry-1');
    const postsAfterFirst = buyer.received.posts.length;
    const second = await post(affiliateKey, lead, 'retry-1');

    expect(first.body.status).toBe('sold');
    expect(second.status).toBe(200);
    expect(second.body).toEqual(first.body);
    expect(buyer.received.posts).toHaveLength(postsAfterFirst);
  });

  it('concurrent retries with one key make one sale', async () => {
    const lead = sampleLead();
    const pingsBefore = buyer.received.pings.length;

    const answers = await Promise.all(Array.from({ length: 5 }, () => post(affiliateKey, lead, 'burst-1')));

    expect(new Set(answers.map((a) => a.body.lead_id)).size).toBe(1);
    expect(answers.every((a) => a.body.status === 'sold')).toBe(true);
    expect(buyer.received.pings.length - pingsBefore).toBe(1);
    const sales = await exchange.database.db.selectFrom('sales').select('id').where('lead_id', '=', answers[0]!.body.lead_id).execute();
    expect(sales).toHaveLength(1);
  });

  it('the same key with another body is 422', async () => {
    await post(affiliateKey, sampleLead(), 'reused-1');
    const answer = await post(affiliateKey, sampleLead(), 'reused-1');
    expect(answer.status).toBe(422);
    expect(answer.body.errors).toEqual([expect.objectContaining({ path: 'Idempotency-Key' })]);
  });

  it('the same body with keys in another order is the same request', async () => {
    const lead = sampleLead();
    const first = await post(affiliateKey, lead, 'order-1');
    const reordered = Object.fromEntries(Object.entries(lead).reverse());
    const second = await post(affiliateKey, reordered, 'order-1');
    expect(second.body).toEqual(first.body);
  });

  it('keys belong to one affiliate', async () => {
    const lead = sampleLead();
    const mine = await post(affiliateKey, lead, 'shared-key');
    const theirs = await post(otherKey, lead, 'shared-key');
    expect(theirs.status).toBe(200);
    expect(theirs.body.lead_id).not.toBe(mine.body.lead_id);
  });
});
