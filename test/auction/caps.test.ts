// Cap counters: named by the campaign's local period, made once a minute per campaign.
import { describe, expect, it } from 'vitest';
import { capCounters } from '../../src/auction/caps.ts';
import type { Campaign } from '../../src/catalog/types.ts';

function campaign(overrides: Partial<Campaign> = {}): Campaign {
  return {
    id: 'cp_caps',
    buyer_id: 'by_1',
    name: 'c',
    vertical: 'auto_insurance',
    mode: 'exclusive',
    pricing: { type: 'bid' },
    ping_url: null,
    post_url: 'http://127.0.0.1:9/post',
    headers: {},
    timeout_ms: 500,
    filters: null,
    // Half an hour off UTC, so the local day turns at hh:30 of UTC.
    schedule: { timezone: 'Asia/Kolkata' },
    caps: [{ period: 'day', leads: 100, spend: 250 }],
    max_per_minute: null,
    dedupe_days: 30,
    priority: 0,
    weight: 1,
    status: 'active',
    ...overrides,
  };
}

describe('capCounters', () => {
  it('names a counter per measure of each cap, in the local period', () => {
    expect(capCounters(campaign(), Date.parse('2026-12-07T10:00:00Z'))).toEqual([
      { key: 'cap:cp_caps:day:2026-12-07:leads', period: 'day', measure: 'leads', limit: 100, ttlSeconds: 172_800 },
      { key: 'cap:cp_caps:day:2026-12-07:spend', period: 'day', measure: 'spend', limit: 25_000, ttlSeconds: 172_800 },
    ]);
  });

  it('gives the same counters within a minute, and the next day’s from the minute local midnight starts', () => {
    const c = campaign();
    const before = capCounters(c, Date.parse('2026-12-07T18:29:00.000Z'));
    expect(capCounters(c, Date.parse('2026-12-07T18:29:59.999Z'))).toBe(before);
    expect(before[0]!.key).toBe('cap:cp_caps:day:2026-12-07:leads');
    // 18:30 UTC is midnight in Kolkata.
    expect(capCounters(c, Date.parse('2026-12-07T18:30:00.000Z'))[0]!.key).toBe('cap:cp_caps:day:2026-12-08:leads');
  });

  it('follows a changed campaign at once: the catalog gives it a new object', () => {
    const now = Date.parse('2026-12-07T10:00:00Z');
    expect(capCounters(campaign(), now)).toHaveLength(2);
    expect(capCounters(campaign({ caps: [{ period: 'hour', leads: 5 }] }), now).map((c) => c.key)).toEqual(['cap:cp_caps:hour:2026-12-07T15:leads']);
  });

  it('cannot be changed by a caller, since every auction of the minute shares it', () => {
    const counters = capCounters(campaign(), Date.parse('2026-12-07T10:00:00Z')) as unknown as Array<{ limit: number }>;
    expect(() => counters.push({ limit: 1 })).toThrow(TypeError);
    expect(() => (counters[0]!.limit = 1)).toThrow(TypeError);
  });
});
