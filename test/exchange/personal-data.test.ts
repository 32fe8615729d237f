// Section 2: contact and consent are personal data. They reach the winning buyer's post and the
// operator who asks for them (?reveal=contact), and nowhere else: not a ping, not a log line
// (whatever path the lead takes, failures included), not the masked admin view, and not the
// database in the clear.
import { Writable } from 'node:stream';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log/logger.ts';
import { accepting, bidding, startBuyerServer, type BuyerServer, type ReceivedRequest } from '../support/buyer-server.ts';
import { sampleLead, startExchange, type TestExchange } from '../support/exchange.ts';

let exchange: TestExchange;
let affiliateKey: string;
let good: BuyerServer;
let failing: BuyerServer;
const logLines: string[] = [];

beforeAll(async () => {
  // Everything the exchange logs, at every level, lands here.
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logLines.push(...chunk.toString().split('\n').filter(Boolean));
      done();
    },
  });
  exchange = await startExchange({ label: 'personal_data', log: createLogger({ level: 'trace', destination }), settings: { postDeadlineMs: 1500 } });
  await exchange.admin.vertical();
  affiliateKey = (await exchange.admin.affiliate()).api_key;

  good = await startBuyerServer({ ping: bidding(20), post: accepting() });
  // A buyer whose post fails, echoing what it received into its error body (buyers do).
  failing = await startBuyerServer({
    ping: bidding(30),
    post: (req) => ({ status: 500, json: { error: `could not store ${JSON.stringify((req.json as Record<string, unknown>).contact)}` } }),
  });
  for (const [server, state] of [[good, 'CA'], [failing, 'NV']] as const) {
    const buyer = await exchange.admin.buyer();
    await exchange.admin.campaign({
      buyer_id: buyer.id, ping_url: server.pingUrl, post_url: server.postUrl,
      filters: { all: [{ field: 'state', op: 'eq', value: state }] },
    });
  }
  // Makes recording a marked lead fail, the way Postgres refuses a row: quoting the whole row
  // in the error it raises, which the exchange logs.
  await sql`alter table leads add constraint refuse_marked check ((source ->> 'sub_id') is distinct from 'refuse-me')`.execute(exchange.database.db);
});

afterAll(async () => {
  await exchange?.close();
  await good?.close();
  await failing?.close();
});

let n = 0;
/** A lead whose every personal value is unusual enough that finding it anywhere means it leaked. */
function distinctiveLead(state: string, source: Record<string, unknown> = { sub_id: 'camp-7' }): Record<string, any> {
  n += 1;
  const phone = `+1310555${String(170 + n).padStart(4, '0')}`;
  return sampleLead({
    data: { state, zip: '90210', age: 41, credit: 'good' },
    contact: {
      first_name: `Zephyrine${n}`, last_name: `Quuxley-Barnaby${n}`, email: `Zephyrine.Q${n}.${process.pid}@Example.org`, phone,
      address: `${700 + n} Evergreen Terrace`, city: `Springfieldshire${n}`,
    },
    consent: {
      tcpa: true, text: `I, Zephyrine${n} Quuxley, agree to be called at ${phone}`, captured_at: '2026-11-22T10:00:00Z',
      ip: `198.51.100.${n}`, trusted_form_cert_url: `https://cert.trustedform.com/zq${n}-${process.pid}`,
    },
    source,
  });
}

/**
 * Every personal string of a lead, as sent and as the exchange normalises it. `captured_at` is
 * left out on purpose: when consent was given is shown to operators (it identifies nobody).
 */
function personalValues(lead: Record<string, any>): string[] {
  const { captured_at: _when, ...consent } = lead.consent;
  const values = [...Object.values(lead.contact), ...Object.values(consent)].filter((v): v is string => typeof v === 'string');
  return [...values, lead.contact.email.trim().toLowerCase(), lead.contact.phone.slice(2)].map((v) => v.toLowerCase());
}

function expectNoneIn(text: string, values: string[], where: string): void {
  const haystack = text.toLowerCase();
  for (const value of values) expect(haystack.includes(value), `${where} contains "${value}"`).toBe(false);
}

const sent: Array<Record<string, any>> = [];
const soldIds: string[] = [];

describe('personal data', () => {
  it('a direct post, a two-phase ping and post, a failing buyer, an unrecordable lead and a refused one all run', async () => {
    const direct = distinctiveLead('CA');
    const answer = await exchange.call('POST', '/v1/leads', { token: affiliateKey, body: direct });
    expect(answer.body).toMatchObject({ status: 'sold' });
    soldIds.push(answer.body.lead_id);

    const twoPhase = distinctiveLead('CA');
    const ping = await exchange.call('POST', '/v1/ping', { token: affiliateKey, body: { vertical: 'auto_insurance', data: twoPhase.data } });
    expect(ping.body.status).toBe('bid');
    const posted = await exchange.call('POST', '/v1/post', { token: affiliateKey, body: { ping_id: ping.body.ping_id, contact: twoPhase.contact, consent: twoPhase.consent } });
    expect(posted.body).toMatchObject({ status: 'sold' });
    soldIds.push(posted.body.lead_id);

    // The only bidder's post answers 500 every time: retried, then given up.
    const toFailing = distinctiveLead('NV');
    const unsold = await exchange.call('POST', '/v1/leads', { token: affiliateKey, body: toFailing });
    expect(unsold.body).toMatchObject({ status: 'unsold' });
    expect(failing.received.posts.length).toBeGreaterThanOrEqual(2);
    soldIds.push(unsold.body.lead_id);

    // Postgres refuses the row: the exchange answers 503 and logs the database's error.
    const unrecordable = distinctiveLead('CA', { sub_id: 'refuse-me' });
    const refusedByDb = await exchange.call('POST', '/v1/leads', { token: affiliateKey, body: unrecordable });
    expect(refusedByDb.status).toBe(503);
    expect(refusedByDb.headers.get('content-type')).toContain('application/problem+json');

    const invalid = distinctiveLead('CA');
    invalid.contact.email = `not-an-email-${n}@`;
    expect((await exchange.call('POST', '/v1/leads', { token: affiliateKey, body: invalid })).status).toBe(400);

    sent.push(direct, twoPhase, toFailing, unrecordable, invalid);
    await exchange.runtime.deps.audit.flush();
  });

  it('never appears in a ping any buyer received', () => {
    const pings: ReceivedRequest[] = [...good.received.pings, ...failing.received.pings];
    expect(pings.length).toBeGreaterThanOrEqual(4);
    for (const lead of sent) for (const ping of pings) expectNoneIn(ping.rawBody, personalValues(lead), 'a ping');
    // The winners' posts, and only they, carry it.
    expect(good.received.posts.some((p) => p.rawBody.includes(sent[0]!.contact.first_name))).toBe(true);
  });

  it('never appears in a log line, even where Postgres quoted the whole refused row', () => {
    const logged = logLines.join('\n');
    expect(logged).toContain('refuse_marked');
    expect(logged).toContain('Failing row contains');
    for (const lead of sent) expectNoneIn(logged, personalValues(lead), 'the log');
  });

  it('is masked in the admin view unless revealed, including whatever the failing buyer echoed', async () => {
    for (const [i, id] of soldIds.entries()) {
      const masked = await exchange.admin.lead(id);
      expect(masked.lead.contact.email).toMatch(/^z\*\*\*@example\.org$/);
      expect(masked.lead.consent).toMatchObject({ tcpa: true, ip: '***', text: '***', captured_at: '2026-11-22T10:00:00Z' });
      expectNoneIn(JSON.stringify(masked), personalValues(sent[i]!), `the masked view of ${id}`);

      const revealed = await exchange.admin.lead(id, true);
      expect(revealed.lead.contact).toEqual({ ...sent[i]!.contact, email: sent[i]!.contact.email.toLowerCase() });
      expect(revealed.lead.consent).toEqual(sent[i]!.consent);
    }
  });

  it('is stored encrypted: the raw rows hold none of it', async () => {
    const rows = await sql<{ row: string }>`select leads::text as row from leads`.execute(exchange.database.db);
    expect(rows.rows).toHaveLength(3);
    for (const lead of sent) for (const { row } of rows.rows) expectNoneIn(row, personalValues(lead), 'a leads row');
  });
});
