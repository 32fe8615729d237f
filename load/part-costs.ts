// What the parts load/ablate.ts switches off cost by themselves: each one's work for one scenario-a
// auction (10 pings and a post), repeated in a tight loop on this process, no I/O. Set beside
// ablate.ts's in-situ savings, it tells a part's own CPU from what it costs the process around it.
//   node load/part-costs.ts [auctions=20000]
import { randomBytes } from 'node:crypto';
import { BatchAuditWriter } from '../src/audit/batch-writer.ts';
import { BreakerBuyerClient } from '../src/buyers/breaker-buyer-client.ts';
import type { BuyerClient, PingBody } from '../src/buyers/buyer-client.ts';
import { signBody } from '../src/buyers/signing.ts';
import type { CampaignWithSecret } from '../src/catalog/types.ts';
import { PiiCipher } from '../src/pii/cipher.ts';
import { normalizePhone } from '../src/lead/contact.ts';
import { directLead } from './driver.ts';

const auctions = Number(process.argv[2] ?? 20_000);
const PINGS = 10;
const lead = JSON.parse(directLead()) as { data: unknown; contact: Record<string, string>; consent: unknown };
const pingBody = JSON.stringify({ ping_id: 'pg_0123456789abcdef', campaign_id: 'cmp_0123456789abcdef', vertical: 'auto_insurance', mode: 'exclusive', data: lead.data, contact_hashes: { email_sha256: 'a'.repeat(64), phone_sha256: 'b'.repeat(64) }, tmax_ms: 500 });
const secrets = Array.from({ length: PINGS + 1 }, () => randomBytes(32).toString('hex'));
const cipher = new PiiCipher([{ id: 'k1', key: randomBytes(32) }], 'k1');
// The real breaker client around a buyer client that answers at once: what remains is the guard.
const answering: BuyerClient = {
  ping: async () => ({ kind: 'bid', amount: 2150, bidId: null, latencyMs: 0, status: 200 }),
  post: async () => ({ kind: 'accepted', buyerLeadId: null, redirectUrl: null, latencyMs: 0, attempts: 1 }),
  retain: async () => {},
  close: async () => {},
};
const breakers = new BreakerBuyerClient(answering);
// Only what the breaker client reads of a campaign: its id, endpoints and (default) thresholds.
const campaigns = secrets.map((_, i) => ({ id: `cmp_${i}`, ping_url: `http://127.0.0.1:${9000 + i}/ping`, post_url: `http://127.0.0.1:${9000 + i}/post`, breaker: null }) as unknown as CampaignWithSecret);
const far = Date.now() + 3_600_000;
// The real writer's queueing (what an event costs the auction); it never flushes here, so it needs
// no database: the write is the batch's, off the auction's path, and ablate.ts weighs it whole.
// A fresh one per pass: what a pass queued would otherwise stay alive and grow the heap that
// every later pass and part is timed in.
const unflushedWriter = () => new BatchAuditWriter(null as never, { flushIntervalMs: 2 ** 31 - 1, batchSize: Number.MAX_SAFE_INTEGER, maxQueued: Number.MAX_SAFE_INTEGER });
let audit = unflushedWriter();
const contact = JSON.stringify(lead.contact);
const consent = JSON.stringify(lead.consent);

// One auction's share of each part, as leadex does it.
const parts: Record<string, (i: number) => unknown> = {
  hmac: () => {
    let last = '';
    for (const secret of secrets) last = signBody(secret, '1764662400', pingBody);
    return last;
  },
  pii: (i) => [cipher.seal(contact, `leads.contact:ld_${i}`), cipher.seal(consent, `leads.consent:ld_${i}`)],
  breaker: async () => {
    for (let p = 0; p < PINGS; p++) await breakers.ping(campaigns[p]!, null as unknown as PingBody, far);
    await breakers.post(campaigns[PINGS]!, null as never, 'idem', far);
  },
  audit: (i) => {
    const lead_id = `ld_${i}`;
    audit.event({ lead_id, at: i, type: 'lead.received', campaign_id: null, detail: { via: 'direct', affiliate_id: 'af_0123456789abcdef' } });
    for (let p = 0; p < PINGS; p++) {
      const at = i + p;
      audit.event({ lead_id, at, type: 'campaign.pinged', campaign_id: `cmp_${p}`, detail: { outcome: 'bid', bid: 21.5, bid_id: `b${p}`, latency_ms: 3, status: 200 } });
      audit.asked({ campaign_id: `cmp_${p}`, at, offered: true });
    }
    for (const type of ['reservation.made', 'post.accepted', 'sale.recorded', 'lead.sold'] as const) {
      audit.event({ lead_id, at: i, type, campaign_id: 'cmp_0', detail: { sale_id: 'sl_0123456789abcdef', price: 21.5, payout: 10 } });
    }
  },
  phone: () => normalizePhone(lead.contact.phone!),
};

console.log(`each part's own work for one auction (${PINGS} pings, 1 post), ${auctions} auctions in a loop`);
console.log('part       µs per auction (3 passes)');
for (const [name, part] of Object.entries(parts)) {
  const passes: string[] = [];
  for (let pass = 0; pass < 3; pass++) {
    audit = unflushedWriter();
    const started = performance.now();
    for (let i = 0; i < auctions; i++) await part(i);
    passes.push(((performance.now() - started) * 1000 / auctions).toFixed(1));
  }
  console.log(`${name.padEnd(9)}  ${passes.join('  ')}`);
}
await breakers.close();
