// Section 7's effect on caps, made explicit: an approved return keeps counting against the
// campaign's caps (the sale happened) unless the campaign sets return_refunds_caps.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BuyerServer } from '../support/buyer-server.ts';
import { ADMIN_TOKEN, startExchange, type TestExchange } from '../support/exchange.ts';
import { returnLead, scenario } from './world.ts';

let exchange: TestExchange;
const servers: BuyerServer[] = [];

beforeAll(async () => {
  exchange = await startExchange({ label: 'return_caps' });
});

afterAll(async () => {
  await exchange?.close();
  await Promise.all(servers.map((s) => s.close()));
});

async function capUsage(campaignId: string): Promise<Array<{ measure: string; used: number }>> {
  return (await exchange.admin.request('GET', `/campaigns/${campaignId}/status`)).caps;
}

async function approvedReturnOf(world: Awaited<ReturnType<typeof scenario>>, leadId: string) {
  const returned = await returnLead(exchange, world.buyer, leadId);
  const approved = await exchange.call('POST', `/v1/admin/returns/${returned.body.id}/approve`, { token: ADMIN_TOKEN });
  expect(approved.status).toBe(200);
  const { timeline } = await exchange.admin.lead(leadId);
  return timeline.find((e: any) => e.type === 'return.approved');
}

describe('caps after an approved return', () => {
  const caps = [{ period: 'day', leads: 10 }, { period: 'month', spend: 1000 }];

  it('keep counting the returned sale by default', async () => {
    const world = await scenario(exchange, servers, { bid: 20, campaign: { caps } });
    const { leadId } = await world.sell();

    const event = await approvedReturnOf(world, leadId);

    expect(event).toMatchObject({ caps_refunded: false });
    expect(await capUsage(world.campaignId)).toEqual([
      expect.objectContaining({ measure: 'leads', used: 1 }),
      expect.objectContaining({ measure: 'spend', used: 20 }),
    ]);
  });

  it('give the sale back when the campaign asks for it', async () => {
    const world = await scenario(exchange, servers, { bid: 20, campaign: { caps, return_refunds_caps: true } });
    await world.sell();
    const { leadId } = await world.sell();

    const event = await approvedReturnOf(world, leadId);

    expect(event).toMatchObject({ caps_refunded: true });
    expect(await capUsage(world.campaignId)).toEqual([
      expect.objectContaining({ measure: 'leads', used: 1 }),
      expect.objectContaining({ measure: 'spend', used: 20 }),
    ]);
  });
});
