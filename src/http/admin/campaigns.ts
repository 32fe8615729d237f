import { Hono } from 'hono';
import { budgetLimit } from '../../auction/budget.ts';
import { campaignTimezone, capCounters } from '../../auction/caps.ts';
import { startOfLocalDay } from '../../auction/schedule.ts';
import { keys } from '../../exchange/keys.ts';
import { campaignCreate, campaignPatch } from '../../catalog/schemas.ts';
import type { CampaignWithSecret, Filter } from '../../catalog/types.ts';
import { toDollars } from '../../catalog/money.ts';
import { publicCampaign } from '../../db/catalog-repository.ts';
import { InvalidInput, NotFound, type FieldError } from '../../errors/problems.ts';
import { parseOrThrow } from '../../errors/zod-errors.ts';
import { newId, newSecret } from '../../ids/ids.ts';
import { pageOf, readPage } from '../pagination.ts';
import { readJson } from '../read-json.ts';
import type { AdminDeps } from './deps.ts';

function filterFields(filter: Filter | null | undefined, into: string[] = []): string[] {
  if (!filter) return into;
  if ('all' in filter) for (const f of filter.all) filterFields(f, into);
  else if ('any' in filter) for (const f of filter.any) filterFields(f, into);
  else into.push(filter.field);
  return into;
}

export function campaignRoutes({ repository, catalog, store, clock, leads, breakers }: AdminDeps): Hono {
  const routes = new Hono();

  /**
   * A node hears of changes made through other nodes only within about a second, so what this
   * node does not know may still exist: an operator's script that creates a buyer through one
   * node and its campaign through the next. Before refusing, the catalog is reloaded from the
   * database, which is the truth. Only admin requests do this; a miss on the auction path must
   * not cost a database read.
   */
  async function knowing(isKnown: () => boolean): Promise<void> {
    if (!isKnown()) await catalog.reload();
  }

  /** References must point at things that exist, and filters at fields the vertical has. */
  async function checkReferences(input: { buyer_id?: string; vertical?: string; filters?: Filter | null }, verticalKey: string): Promise<void> {
    await knowing(() => (input.buyer_id === undefined || catalog.buyer(input.buyer_id) !== undefined) && catalog.vertical(verticalKey) !== undefined);
    const errors: FieldError[] = [];
    if (input.buyer_id !== undefined && !catalog.buyer(input.buyer_id)) errors.push({ path: 'buyer_id', message: `unknown buyer '${input.buyer_id}'` });
    const vertical = catalog.vertical(verticalKey);
    if (!vertical) errors.push({ path: 'vertical', message: `unknown vertical '${verticalKey}'` });
    else if (input.filters) {
      const known = new Set(vertical.fields.map((f) => f.name));
      for (const field of filterFields(input.filters)) {
        if (!known.has(field)) errors.push({ path: 'filters', message: `'${field}' is not a field of vertical ${vertical.key}` });
      }
    }
    if (errors.length > 0) throw new InvalidInput('Invalid campaign', errors);
  }

  routes.post('/', async (c) => {
    const input = parseOrThrow(campaignCreate, (await readJson(c)).value, 'Invalid campaign');
    await checkReferences(input, input.vertical);
    const campaign: CampaignWithSecret = { id: newId('cp'), ...input, signing_secret: newSecret('lxs') };
    await repository.insertCampaign(campaign);
    await catalog.changed();
    // The signing secret is shown this once.
    return c.json({ ...publicCampaign(campaign), signing_secret: campaign.signing_secret }, 201);
  });

  routes.get('/', async (c) => {
    const page = readPage(c.req.query());
    return c.json(pageOf(await repository.listCampaigns(page.limit, page.after), page.limit, (x) => x.id));
  });

  routes.get('/:id', async (c) => {
    const campaign = await repository.getCampaign(c.req.param('id'));
    if (!campaign) throw new NotFound(`No campaign ${c.req.param('id')}`);
    return c.json(campaign);
  });

  routes.patch('/:id', async (c) => {
    const patch = parseOrThrow(campaignPatch, (await readJson(c)).value, 'Invalid campaign');
    const current = await repository.getCampaign(c.req.param('id'));
    if (!current) throw new NotFound(`No campaign ${c.req.param('id')}`);
    // A patch is valid only if the campaign it produces is: e.g. bid pricing needs a ping_url.
    const { id: _id, ...stored } = current;
    const merged = parseOrThrow(campaignCreate, { ...stored, ...patch }, 'Invalid campaign');
    await checkReferences(merged, merged.vertical);
    const campaign = await repository.updateCampaign(current.id, patch);
    if (!campaign) throw new NotFound(`No campaign ${c.req.param('id')}`);
    await catalog.changed();
    return c.json(campaign);
  });

  routes.delete('/:id', async (c) => {
    const campaign = await repository.updateCampaign(c.req.param('id'), { status: 'deleted' });
    if (!campaign) throw new NotFound(`No campaign ${c.req.param('id')}`);
    await catalog.changed();
    return c.body(null, 204);
  });

  routes.get('/:id/status', async (c) => {
    const id = c.req.param('id');
    await knowing(() => catalog.campaign(id) !== undefined);
    const campaign = catalog.campaign(id);
    if (!campaign) throw new NotFound(`No campaign ${id}`);
    const now = clock.now();
    const buyer = catalog.buyer(campaign.buyer_id);
    if (!buyer) throw new NotFound(`No buyer ${campaign.buyer_id}`);
    const counters = capCounters(campaign, now);
    const [spent = 0, nextSlot = 0, ...values] = await store.readCounters([
      keys.budget(buyer.id, buyer.budget_epoch ?? 0),
      keys.pace(campaign.id),
      ...counters.map((k) => k.key),
    ]);
    const dayStart = startOfLocalDay(campaignTimezone(campaign), now);
    const today = await leads.campaignDay(campaign.id, new Date(dayStart));
    return c.json({
      campaign_id: campaign.id,
      status: campaign.status,
      at: new Date(now).toISOString(),
      caps: counters.map((counter, i) => {
        const used = values[i] ?? 0;
        return counter.measure === 'spend'
          ? { period: counter.period, measure: 'spend', used: toDollars(used), limit: toDollars(counter.limit), remaining: toDollars(Math.max(0, counter.limit - used)) }
          : { period: counter.period, measure: 'leads', used, limit: counter.limit, remaining: Math.max(0, counter.limit - used) };
      }),
      pacing: campaign.max_per_minute
        ? { max_per_minute: campaign.max_per_minute, next_slot_at: nextSlot > now ? new Date(nextSlot).toISOString() : null }
        : null,
      budget: budgetLimit(buyer) === null
        ? null
        : { buyer_id: buyer.id, limit: toDollars(budgetLimit(buyer)!), spent: toDollars(spent), available: toDollars(budgetLimit(buyer)! - spent) },
      today: { since: new Date(dayStart).toISOString(), pings: today.pings, bids: today.bids, sales: today.sales, spend: toDollars(today.spend_cents) },
      // This node's breakers: each exchange node judges buyers by the calls it made itself.
      breaker: breakers.report(campaign),
    });
  });

  return routes;
}
