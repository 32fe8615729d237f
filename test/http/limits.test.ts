// Limits on what a request may hold: body size, JSON shape, page size. Each is a 4xx problem
// naming what to change, and nothing is stored or sent to a buyer.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accepting, bidding, startBuyerServer, type BuyerServer } from '../support/buyer-server.ts';
import { ADMIN_TOKEN, sampleLead, startExchange, type CallResult, type TestExchange } from '../support/exchange.ts';

let exchange: TestExchange;
let affiliateKey: string;
let buyer: BuyerServer;

beforeAll(async () => {
  exchange = await startExchange({ label: 'limits' });
  await exchange.admin.vertical();
  affiliateKey = (await exchange.admin.affiliate()).api_key;
  buyer = await startBuyerServer({ ping: bidding(10), post: accepting() });
  const account = await exchange.admin.buyer();
  await exchange.admin.campaign({ buyer_id: account.id, ping_url: buyer.pingUrl, post_url: buyer.postUrl });
});

afterAll(async () => {
  await exchange?.close();
  await buyer?.close();
});

function expectProblem(answer: CallResult, status: number, paths: string[] = []): void {
  expect(answer.status).toBe(status);
  expect(answer.headers.get('content-type')).toContain('application/problem+json');
  expect(answer.body.status).toBe(status);
  expect(answer.body.errors.map((e: { path: string }) => e.path)).toEqual(expect.arrayContaining(paths));
}

describe('request limits', () => {
  it('a body over 64 KiB is 413 on the ping and admin endpoints too', async () => {
    const padding = 'x'.repeat(70_000);
    expectProblem(await exchange.call('POST', '/v1/ping', { token: affiliateKey, body: { vertical: 'auto_insurance', data: {}, padding } }), 413);
    expectProblem(await exchange.call('POST', '/v1/admin/buyers', { token: ADMIN_TOKEN, body: { name: padding } }), 413);
  });

  it('a body sent without a length (chunked) is counted as it arrives: 413 over 64 KiB, fine under', async () => {
    const chunked = async (text: string) => {
      const body = new ReadableStream({
        start(controller) {
          // Several chunks, as a streaming client would send them.
          for (let i = 0; i < text.length; i += 16_384) controller.enqueue(new TextEncoder().encode(text.slice(i, i + 16_384)));
          controller.close();
        },
      });
      const response = await fetch(`${exchange.url}/v1/admin/buyers`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
        body,
        duplex: 'half',
      } as RequestInit);
      return { status: response.status, type: response.headers.get('content-type'), body: (await response.json()) as Record<string, unknown> };
    };
    const big = await chunked(JSON.stringify({ name: 'x'.repeat(70_000) }));
    expect(big.status).toBe(413);
    expect(big.type).toContain('application/problem+json');
    const small = await chunked(JSON.stringify({ name: 'Chunked Buyer' }));
    expect(small.status).toBe(201);
    expect(small.body.name).toBe('Chunked Buyer');
  });

  it('a page larger than 100 or smaller than 1 is 400 naming limit; 100 is fine', async () => {
    for (const limit of ['101', '0', '-5', 'many']) {
      expectProblem(await exchange.call('GET', `/v1/admin/affiliates?limit=${limit}`, { token: ADMIN_TOKEN }), 400, ['limit']);
    }
    expect((await exchange.call('GET', '/v1/admin/campaigns?limit=100', { token: ADMIN_TOKEN })).status).toBe(200);
  });

  it('text Postgres cannot store (NUL, unpaired surrogates) is 400 naming where it is', async () => {
    const lead = sampleLead();
    const raw = JSON.stringify({ ...lead, data: { ...lead.data, state: 'C\u0000A' }, source: { sub_id: 'x\ud800' } });
    expectProblem(await exchange.call('POST', '/v1/leads', { token: affiliateKey, raw }), 400, ['data.state', 'source.sub_id']);
    const post = JSON.stringify({ ping_id: 'pg_\u0000', contact: lead.contact, consent: lead.consent });
    expectProblem(await exchange.call('POST', '/v1/post', { token: affiliateKey, raw: post }), 400, ['ping_id']);
  });

  it('JSON nested deeper than 32 levels is 400, however deep (no stack overflow, no 500)', async () => {
    const lead = sampleLead();
    for (const depth of [40, 20_000]) {
      const raw = JSON.stringify({ ...lead, source: { sub_id: 'NEST' } }).replace('"NEST"', '['.repeat(depth) + ']'.repeat(depth));
      expectProblem(await exchange.call('POST', '/v1/leads', { token: affiliateKey, raw }), 400);
    }
  });

  it('none of the above stored a lead or reached a buyer', async () => {
    await exchange.runtime.deps.audit.flush();
    expect(await exchange.database.db.selectFrom('leads').select('id').execute()).toEqual([]);
    expect(buyer.received.pings).toEqual([]);
  });
});
