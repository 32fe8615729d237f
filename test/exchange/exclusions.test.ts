// Section 5.1: every campaign considered for a lead is in its timeline, and an excluded one with
// its reason — every reason there is. The exchange's clock is pinned to a Sunday 03:00 in Los
// Angeles so a weekday schedule is closed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accepting, bidding, startBuyerServer, type BuyerServer } from '../support/buyer-server.ts';
import { offsetClock, sampleLead, startExchange, type TestExchange } from '../support/exchange.ts';

const SUNDAY_3AM_LOS_ANGELES = '2026-11-29T11:00:00Z';

let exchange: TestExchange;
let good: BuyerServer;
let broken: BuyerServer;
const ids: Record<string, string> = {};

beforeAll(async () => {
  exchange = await startExchange({ label: 'exclusions', clock: offsetClock(SUNDAY_3AM_LOS_ANGELES) });
  await exchange.admin.vertical();
  good = await startBuyerServer({ ping: bidding(10), post: accepting() });
  broken = await startBuyerServer({ ping: () => ({ status: 500 }), post: accepting() });
  const endpoints = { ping_url: good.pingUrl, post_url: good.postUrl };
  const campaign = async (name: string, fields: Record<string, unknown>, buyer: Record<string, unknown> = {}) => {
    const account = await exchange.admin.buyer(buyer);
    ids[name] = (await exchange.admin.campaign({ buyer_id: account.id, ...endpoints, ...fields })).id;
    return account.id as string;
  };
  await campaign('paused', { status: 'paused' });
  const sleepy = await campaign('buyer_inactive', {});
  await exchange.admin.request('PATCH', `/buyers/${sleepy}`, { status: 'paused' });
  await campaign('filter', { filters: { all: [{ field: 'state', op: 'eq', value: 'NY' }] } });
  await campaign('schedule', { schedule: { timezone: 'America/Los_Angeles', weekly: { mon: [['08:00', '18:00']], fri: [['08:00', '18:00']] } } });
  await campaign('capped', { mode: 'shared', caps: [{ period: 'day', leads: 1 }] });
  await campaign('paced', { mode: 'shared', max_per_minute: 1 });
  await campaign('poor', { pricing: { type: 'fixed', price: 5 } }, { balance: 1 });
  await campaign('broken', { ping_url: broken.pingUrl, breaker: { error_threshold_percentage: 50, volume_threshold: 1, rolling_window_ms: 10_000, reset_timeout_ms: 600_000 } });
});

afterAll(async () => {
  await exchange?.close();
  await good?.close();
  await broken?.close();
});

async function reasonsFor(leadId: string): Promise<Record<string, string>> {
  const { timeline } = await exchange.admin.lead(leadId);
  return Object.fromEntries(timeline.filter((e: any) => e.type === 'campaign.excluded').map((e: any) => [e.campaign_id, e.reason]));
}

describe('the timeline of a lead', () => {
  it('names the reason of every excluded campaign', async () => {
    const affiliate = (await exchange.admin.affiliate()).api_key;
    // First lead: fills the day cap, takes the minute's pace slot, trips the breaker.
    const first = await exchange.call('POST', '/v1/leads', { token: affiliate, body: sampleLead() });
    expect(first.body).toMatchObject({ status: 'sold', mode: 'shared', buyers: 2 });

    const lead = await exchange.call('POST', '/v1/leads', { token: affiliate, body: sampleLead() });

    expect(lead.body.status).toBe('unsold');
    expect(await reasonsFor(lead.body.lead_id)).toEqual({
      [ids.paused!]: 'campaign_paused',
      [ids.buyer_inactive!]: 'buyer_inactive',
      [ids.filter!]: 'filter_mismatch',
      [ids.schedule!]: 'outside_schedule',
      [ids.capped!]: 'cap_reached',
      [ids.paced!]: 'paced',
      [ids.poor!]: 'insufficient_budget',
      [ids.broken!]: 'breaker_open',
    });
  });

  it('names the consumer reasons: bought before, and exclusive to another buyer', async () => {
    const affiliate = (await exchange.admin.affiliate()).api_key;
    const other = (await exchange.admin.affiliate()).api_key;
    const owner = await exchange.admin.buyer();
    const exclusive = (await exchange.admin.campaign({ buyer_id: owner.id, ping_url: good.pingUrl, post_url: good.postUrl })).id;
    await exchange.admin.request('PATCH', `/campaigns/${ids.paced}`, { max_per_minute: null });
    const consumer = sampleLead();
    const bought = await exchange.call('POST', '/v1/leads', { token: affiliate, body: consumer });
    expect(bought.body).toMatchObject({ status: 'sold', mode: 'exclusive' });

    const again = await exchange.call('POST', '/v1/leads', { token: other, body: { ...sampleLead(), contact: consumer.contact } });

    expect(again.body.status).toBe('duplicate');
    const reasons = await reasonsFor(again.body.lead_id);
    expect(reasons[exclusive]).toBe('already_bought');
    expect(reasons[ids.paced!]).toBe('consumer_exclusive');
  });
});
