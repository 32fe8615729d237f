// Bad input gets a clear 4xx problem body naming the field, and nothing is sold or stored.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accepting, bidding, startBuyerServer, type BuyerServer } from '../support/buyer-server.ts';
import { ADMIN_TOKEN, sampleLead, startExchange, type CallResult, type TestExchange } from '../support/exchange.ts';

let exchange: TestExchange;
let affiliateKey: string;
let buyer: BuyerServer;

beforeAll(async () => {
  exchange = await startExchange({ label: 'badinput' });
  await exchange.admin.vertical();
  affiliateKey = (await exchange.admin.affiliate()).api_key;
  buyer = await startBuyerServer({ ping: bidding(10), post: accepting() });
  const b = await exchange.admin.buyer();
  await exchange.admin.campaign({ buyer_id: b.id, ping_url: buyer.pingUrl, post_url: buyer.postUrl });
});

afterAll(async () => {
  await exchange?.close();
  await buyer?.close();
});

function expectProblem(answer: CallResult, status: number, paths: string[]): void {
  expect(answer.status).toBe(status);
  expect(answer.headers.get('content-type')).toContain('application/problem+json');
  expect(answer.body).toMatchObject({ status, type: expect.any(String), title: expect.any(String), detail: expect.any(String) });
  expect(JSON.stringify(answer.body)).not.toMatch(/at .*\.ts:\d+/);
  expect(answer.body.errors.map((e: { path: string }) => e.path)).toEqual(expect.arrayContaining(paths));
}

async function nothingStored(): Promise<void> {
  await exchange.runtime.deps.audit.flush();
  const leads = await exchange.database.db.selectFrom('leads').select('id').execute();
  const sales = await exchange.database.db.selectFrom('sales').select('id').execute();
  expect(leads).toEqual([]);
  expect(sales).toEqual([]);
  expect(buyer.received.pings).toEqual([]);
  expect(buyer.received.posts).toEqual([]);
}

const send = (body: unknown, options: { raw?: string; token?: string; headers?: Record<string, string> } = {}) =>
  exchange.call('POST', '/v1/leads', { token: options.token ?? affiliateKey, ...(options.raw !== undefined ? { raw: options.raw } : { body }), ...(options.headers ? { headers: options.headers } : {}) });

describe('refused leads', () => {
  it('malformed JSON is 400', async () => {
    expectProblem(await send(null, { raw: '{"vertical": "auto_insurance",' }), 400, ['']);
  });

  it('a body that is not JSON at all is 415', async () => {
    const answer = await send(null, { raw: 'vertical=auto', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(answer.status).toBe(415);
    expect(answer.headers.get('content-type')).toContain('application/problem+json');
  });

  it('an unknown vertical is 400 naming vertical', async () => {
    expectProblem(await send(sampleLead({ vertical: 'space_travel' })), 400, ['vertical']);
  });

  it('missing fields are 400 naming each of them', async () => {
    const lead = sampleLead();
    delete lead.data.age;
    delete lead.data.state;
    delete lead.consent;
    expectProblem(await send(lead), 400, ['data.age', 'data.state', 'consent']);
  });

  it('a wrong type is 400 naming the field', async () => {
    expectProblem(await send(sampleLead({ data: { state: 'CA', zip: '90210', age: 'thirty' } })), 400, ['data.age']);
  });

  it('a bad e-mail or phone is 400 naming it', async () => {
    const lead = sampleLead();
    expectProblem(await send({ ...lead, contact: { ...lead.contact, email: 'ada@', phone: '12' } }), 400, ['contact.email', 'contact.phone']);
  });

  it('personal data inside data is 400', async () => {
    const vertical = await exchange.admin.request('POST', '/verticals', {
      key: 'solar',
      fields: [{ name: 'note', type: 'string' }, { name: 'roof', type: 'string' }],
    });
    expect(vertical.key).toBe('solar');
    const lead = sampleLead({ vertical: 'solar', data: { note: 'call me at (310) 555-0142', roof: 'ada@example.com' } });
    expectProblem(await send(lead), 400, ['data.note', 'data.roof']);
  });

  it('a wrong or missing token is 401', async () => {
    const wrong = await send(sampleLead(), { token: 'lxa_not-a-key' });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('content-type')).toContain('application/problem+json');
    const none = await exchange.call('POST', '/v1/leads', { body: sampleLead() });
    expect(none.status).toBe(401);
    const admin = await send(sampleLead(), { token: ADMIN_TOKEN });
    expect(admin.status).toBe(401);
  });

  it('a ping carrying contact is 400: personal data never goes in a ping', async () => {
    const lead = sampleLead();
    const answer = await exchange.call('POST', '/v1/ping', { token: affiliateKey, body: { vertical: lead.vertical, data: lead.data, contact: lead.contact } });
    expectProblem(answer, 400, ['contact']);
  });

  it('a post without ping_id is 400', async () => {
    const lead = sampleLead();
    expectProblem(await exchange.call('POST', '/v1/post', { token: affiliateKey, body: { contact: lead.contact, consent: lead.consent } }), 400, ['ping_id']);
  });

  it('a body over the size limit is 413', async () => {
    const answer = await send(null, { raw: JSON.stringify({ ...sampleLead(), padding: 'x'.repeat(70_000) }) });
    expect(answer.status).toBe(413);
    expect(answer.headers.get('content-type')).toContain('application/problem+json');
  });

  it('an unknown route is a 404 problem', async () => {
    const answer = await exchange.call('GET', '/v1/nothing-here', { token: affiliateKey });
    expect(answer.status).toBe(404);
    expect(answer.headers.get('content-type')).toContain('application/problem+json');
  });

  it('none of the above stored a lead or reached a buyer', async () => {
    await nothingStored();
  });
});
