// What a node remembers of the holds it stored: only holds still postable, each for one post,
// and never more than its bound however many pings go unposted.
import { describe, expect, it } from 'vitest';
import { HoldCache } from '../../src/exchange/hold-cache.ts';
import type { HoldPayload } from '../../src/exchange/holds.ts';

const hold = (id: string, expiresAt: number): HoldPayload => ({
  lead_id: `ld_${id}`,
  ping_id: id,
  affiliate_id: 'af_1',
  vertical: 'auto_insurance',
  data: {},
  hashes: {},
  min_payout_cents: null,
  expires_at: expiresAt,
  mode: 'exclusive',
  payout_cents: 100,
  winners: [],
  remaining: [],
});

describe('the holds a node remembers', () => {
  it('hands a hold out once, and not once it has expired', () => {
    const cache = new HoldCache(10);
    cache.remember('a', hold('a', 1_000), 0);
    cache.remember('b', hold('b', 1_000), 0);

    expect(cache.take('a', 500)?.ping_id).toBe('a');
    expect(cache.take('a', 500)).toBeUndefined();
    expect(cache.take('b', 1_000)).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('forgets expired holds as new ones come, oldest first', () => {
    const cache = new HoldCache(10);
    for (let i = 0; i < 5; i++) cache.remember(`old${i}`, hold(`old${i}`, 100 + i), 0);

    cache.remember('new', hold('new', 1_000), 103);

    expect(cache.size).toBe(2);
    expect(cache.take('old4', 103)?.ping_id).toBe('old4');
    expect(cache.take('new', 103)?.ping_id).toBe('new');
  });

  it('keeps at most its bound, dropping the oldest', () => {
    const cache = new HoldCache(3);
    for (let i = 0; i < 5; i++) cache.remember(`h${i}`, hold(`h${i}`, 1_000), 0);

    expect(cache.size).toBe(3);
    expect(cache.take('h1', 0)).toBeUndefined();
    expect(cache.take('h2', 0)?.ping_id).toBe('h2');
  });
});
