import { Hono } from 'hono';
import { NotFound } from '../../errors/problems.ts';
import { toDollars } from '../../catalog/money.ts';
import { maskConsent, maskContact } from '../../lead/mask.ts';
import type { AdminDeps } from './deps.ts';

const iso = (value: Date | string): string => new Date(value).toISOString();

export function adminLeadRoutes({ leads, audit }: AdminDeps): Hono {
  const routes = new Hono();

  routes.get('/:id', async (c) => {
    const id = c.req.param('id');
    // The timeline is written in batches: make what this node holds durable first.
    await audit.flush();
    const lead = await leads.getLead(id);
    const timeline = await leads.timelineOf(id);
    if (!lead && timeline.length === 0) throw new NotFound(`No lead ${id}`);
    const reveal = c.req.query('reveal') === 'contact';
    const sales = lead ? await leads.salesOf(id) : [];
    return c.json({
      lead: lead && {
        id: lead.id,
        affiliate_id: lead.affiliate_id,
        vertical: lead.vertical,
        ping_id: lead.ping_id,
        status: lead.status,
        mode: lead.mode,
        reasons: lead.reasons,
        price: toDollars(lead.price_cents),
        payout: toDollars(lead.payout_cents),
        min_payout: lead.min_payout_cents === null ? null : toDollars(lead.min_payout_cents),
        data: lead.data,
        contact: reveal ? lead.contact : maskContact(lead.contact),
        consent: reveal ? lead.consent : maskConsent(lead.consent),
        source: lead.source,
        contact_hashes: { email_sha256: lead.email_sha256, phone_sha256: lead.phone_sha256 },
        created_at: iso(lead.created_at),
      },
      sales: sales.map((s) => ({
        id: s.id,
        campaign_id: s.campaign_id,
        buyer_id: s.buyer_id,
        mode: s.mode,
        price: toDollars(s.price_cents),
        payout: toDollars(s.payout_cents),
        bid_id: s.bid_id,
        buyer_lead_id: s.buyer_lead_id,
        created_at: iso(s.created_at),
      })),
      timeline: timeline.map((e) => ({ at: iso(e.at), type: e.type, campaign_id: e.campaign_id, ...e.detail })),
    });
  });

  return routes;
}
