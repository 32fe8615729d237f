// A lead row as the repositories take it (NewLead: JSON columns as text, contact and consent not
// yet sealed), for tests that write leads without running an auction.
import type { NewLead } from '../../src/db/schema.ts';

/** An unsold lead `id` of affiliate `affiliateId`; `overrides` replace any column. */
export function leadRecord(id: string, affiliateId: string, overrides: Partial<NewLead> = {}): NewLead {
  return {
    id,
    affiliate_id: affiliateId,
    vertical: 'auto_insurance',
    ping_id: `pg_${id}`,
    data: JSON.stringify({ state: 'CA' }),
    contact: JSON.stringify({ email: `${id}@example.com` }),
    consent: JSON.stringify({ tcpa: true }),
    source: '{}',
    status: 'unsold',
    reasons: '[]',
    price_cents: 0,
    payout_cents: 0,
    response: JSON.stringify({ lead_id: id, status: 'unsold' }),
    ...overrides,
  };
}
