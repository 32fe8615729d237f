// A small world for the returns tests: each scenario gets its own vertical, so what one test
// sells never competes with another's campaigns on the shared exchange.
import { sql } from 'kysely';
import { accepting, bidding, startBuyerServer, type BuyerServer } from '../support/buyer-server.ts';
import { sampleLead, type TestExchange } from '../support/exchange.ts';

export interface Party {
  id: string;
  api_key: string;
}

export interface Scenario {
  vertical: string;
  affiliate: Party;
  buyer: Party;
  campaignId: string;
  server: BuyerServer;
  /** Sends a lead (a new consumer unless `lead` says otherwise) and expects it sold. */
  sell(lead?: Record<string, any>, affiliate?: Party): Promise<{ leadId: string; saleId: string }>;
}

let verticals = 0;

export async function scenario(
  exchange: TestExchange,
  servers: BuyerServer[],
  options: { bid?: number; payoutPercent?: number; campaign?: Record<string, unknown> } = {},
): Promise<Scenario> {
  verticals += 1;
  const vertical = `returns_${verticals}`;
  await exchange.admin.vertical({ key: vertical });
  const affiliate = await exchange.admin.affiliate({ payout: { type: 'revshare', percent: options.payoutPercent ?? 80 } });
  const buyer = await exchange.admin.buyer({ balance: 1000 });
  const server = await startBuyerServer({ ping: bidding(options.bid ?? 20), post: accepting() });
  servers.push(server);
  const campaign = await exchange.admin.campaign({ buyer_id: buyer.id, vertical, ping_url: server.pingUrl, post_url: server.postUrl, ...options.campaign });
  return {
    vertical,
    affiliate,
    buyer,
    campaignId: campaign.id,
    server,
    async sell(lead = sampleLead(), from = affiliate) {
      const answer = await exchange.call('POST', '/v1/leads', { token: from.api_key, body: { ...lead, vertical } });
      if (answer.status !== 200 || answer.body.status !== 'sold') throw new Error(`expected a sale, got ${answer.status} ${JSON.stringify(answer.body)}`);
      const sale = await exchange.database.db.selectFrom('sales').select('id').where('lead_id', '=', answer.body.lead_id).executeTakeFirstOrThrow();
      return { leadId: answer.body.lead_id as string, saleId: sale.id };
    },
  };
}

export async function returnLead(exchange: TestExchange, buyer: Party, leadId: string, reason = 'invalid_contact', detail?: string) {
  return exchange.call('POST', '/v1/returns', { token: buyer.api_key, body: { lead_id: leadId, reason, ...(detail ? { detail } : {}) } });
}

export async function balanceOf(exchange: TestExchange, buyerId: string): Promise<number> {
  return (await exchange.admin.request('GET', `/buyers/${buyerId}`)).balance;
}

export async function ledgerOf(exchange: TestExchange, accountType: 'buyer' | 'affiliate', accountId: string): Promise<Array<{ kind: string; amount: number; sale_id: string; return_id: string | null }>> {
  return (await exchange.admin.request('GET', `/ledger?account_type=${accountType}&account_id=${accountId}&limit=100`)).items;
}

/** Moves a sale (and its lead) back in time, as if it had been made `days` ago. */
export async function backdateSale(exchange: TestExchange, saleId: string, days: number): Promise<void> {
  await sql`update sales set created_at = now() - make_interval(days => ${days}) where id = ${saleId}`.execute(exchange.database.db);
}

/**
 * A copy of a stored lead under a new id, received `days` ago, optionally from another
 * affiliate: an earlier record of the same consumer, written the way the exchange writes leads,
 * whatever columns later migrations add.
 */
export async function copyLead(exchange: TestExchange, leadId: string, copy: { id: string; daysAgo: number; affiliateId?: string }): Promise<void> {
  await sql`
    insert into leads
    select (jsonb_populate_record(null::leads, to_jsonb(l) || jsonb_build_object(
      'id', ${copy.id}::text, 'ping_id', ${`pg_${copy.id}`}::text, 'idempotency_key', null,
      'affiliate_id', coalesce(${copy.affiliateId ?? null}::text, l.affiliate_id),
      'created_at', now() - make_interval(days => ${copy.daysAgo})))).*
    from leads l where l.id = ${leadId}`.execute(exchange.database.db);
}

/** A copy of a stored sale, of the lead `leadId`, made `days` ago. */
export async function copySale(exchange: TestExchange, saleId: string, copy: { id: string; leadId: string; daysAgo: number; affiliateId?: string }): Promise<void> {
  await sql`
    insert into sales
    select (jsonb_populate_record(null::sales, to_jsonb(s) || jsonb_build_object(
      'id', ${copy.id}::text, 'lead_id', ${copy.leadId}::text,
      'affiliate_id', coalesce(${copy.affiliateId ?? null}::text, s.affiliate_id),
      'created_at', now() - make_interval(days => ${copy.daysAgo})))).*
    from sales s where s.id = ${saleId}`.execute(exchange.database.db);
}
