// Section 2: personal data never leaves the exchange in a ping — checked on the bytes the buyer
// servers actually received.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accepting, bidding, startBuyerServer, type BuyerServer } from '../support/buyer-server.ts';
import { sampleLead, startExchange, type TestExchange } from '../support/exchange.ts';

let exchange: TestExchange;
let affiliateKey: string;
const servers: BuyerServer[] = [];

beforeAll(async () => {
  exchange = await startExchange({ label: 'privacy' });
  await exchange.admin.vertical();
  affiliateKey = (await exchange.admin.affiliate()).api_key;
  for (const [amount, mode] of [[20, 'exclusive'], [9, 'shared'], [8, 'shared']] as const) {
    const server = await startBuyerServer({ ping: bidding(amount), post: accepting() });
    servers.push(server);
    const buyer = await exchange.admin.buyer();
    await exchange.admin.campaign({ buyer_id: buyer.id, mode, ping_url: server.pingUrl, post_url: server.postUrl });
  }
});

afterAll(async () => {
  await exchange?.close();
  await Promise.all(servers.map((s) => s.close()));
});

function personalValues(lead: Record<string, any>): string[] {
  const values = [...Object.values(lead.contact), ...Object.values(lead.consent)].filter((v) => typeof v === 'string') as string[];
  // Normalised forms count too: the exchange lower-cases e-mails and formats phones as E.164.
  return [...values, lead.contact.email.toLowerCase(), lead.contact.phone.replace(/\D/g, '')];
}

describe('pings', () => {
  it('carry no contact or consent value, through direct posts and two-phase pings alike', async () => {
    const leads = [
      sampleLead({ contact: { ...sampleLead().contact, first_name: 'Zebulon', email: ' Zeb.Unique@Example.COM ', phone: '(310) 555-0199' } }),
      sampleLead(),
    ];
    for (const lead of leads) {
      expect((await exchange.call('POST', '/v1/leads', { token: affiliateKey, body: lead })).body.status).toBe('sold');
    }
    const twoPhase = sampleLead();
    const ping = await exchange.call('POST', '/v1/ping', { token: affiliateKey, body: { vertical: twoPhase.vertical, data: twoPhase.data } });
    expect(ping.body.status).toBe('bid');
    const posted = await exchange.call('POST', '/v1/post', {
      token: affiliateKey,
      body: { ping_id: ping.body.ping_id, contact: twoPhase.contact, consent: twoPhase.consent },
    });
    expect(posted.body.status).toBe('sold');

    const pings = servers.flatMap((s) => s.received.pings);
    expect(pings.length).toBeGreaterThanOrEqual(9);
    // Ids and contact hashes are random letters and digits, where a short name ('ada') turns up by
    // chance (a hash did in about one ping in thirty, and a ping id once): they are masked here,
    // and the hashes are checked apart below.
    const masked = (raw: string) =>
      raw
        .toLowerCase()
        .replace(/\b[0-9a-f]{64}\b/g, '<sha256>')
        .replace(/\b[a-z]{2}_[0-9a-z]{16,}\b/g, '<id>');
    for (const lead of [...leads, twoPhase]) {
      for (const value of personalValues(lead)) {
        for (const received of pings) expect(masked(received.rawBody)).not.toContain(value.trim().toLowerCase());
      }
    }
    for (const received of pings) {
      const body = received.json as Record<string, unknown>;
      expect(Object.keys(body).sort()).toEqual(['campaign_id', 'contact_hashes', 'data', 'mode', 'ping_id', 'tmax_ms', 'vertical']);
    }
    // ...while the winners' posts do carry the contact.
    const posts = servers.flatMap((s) => s.received.posts);
    expect(posts.some((p) => p.rawBody.includes('Zebulon'))).toBe(true);
  });

  it('carry the contact hashes of the normalised e-mail and phone', async () => {
    const before = servers[0]!.received.pings.length;
    const lead = sampleLead({ contact: { email: '  Grace.Hopper@Example.com', phone: '310-555-0123' } });
    await exchange.call('POST', '/v1/leads', { token: affiliateKey, body: lead });
    const { createHash } = await import('node:crypto');
    const sha = (s: string) => createHash('sha256').update(s).digest('hex');
    const received = servers[0]!.received.pings[before]!.json as Record<string, any>;
    expect(received.contact_hashes).toEqual({ email_sha256: sha('grace.hopper@example.com'), phone_sha256: sha('+13105550123') });
  });
});
