import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { PingBody } from '../../src/buyers/buyer-client.ts';
import { pingJson } from '../../src/buyers/ping-json.ts';

const body = (overrides: Partial<PingBody> = {}): PingBody => ({
  ping_id: 'pg_1',
  campaign_id: 'cp_1',
  vertical: 'auto',
  mode: 'exclusive',
  data: { state: 'CA', zip: '90210', note: 'Zoë "quoted" \u2028 \\', nested: { a: [1, null, true] } },
  contact_hashes: { email_sha256: 'e'.repeat(64) },
  tmax_ms: 480,
  ...overrides,
});

describe('pingJson', () => {
  it('is exactly JSON.stringify of the body, for every buyer of one auction', () => {
    const first = body();
    for (const [campaign_id, mode, tmax_ms] of [['cp_1', 'exclusive', 480], ['cp_"2"', 'shared', 0], ['cp_3', 'exclusive', 12]] as const) {
      const ping = { ...first, campaign_id, mode, tmax_ms };
      expect(pingJson(ping)).toBe(JSON.stringify(ping));
    }
  });

  it('never lends one ping\'s serialisation to another ping over the same data object', () => {
    const first = body();
    pingJson(first);
    const other = { ...first, ping_id: 'pg_2', vertical: 'solar', contact_hashes: { phone_sha256: 'p'.repeat(64) } };
    expect(pingJson(other)).toBe(JSON.stringify(other));
  });

  it('matches JSON.stringify for any JSON data', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue()), fc.string(), fc.nat(), (data, campaign_id, tmax_ms) => {
        const ping = body({ data, campaign_id, tmax_ms });
        expect(pingJson(ping)).toBe(JSON.stringify(ping));
      }),
    );
  });
});
