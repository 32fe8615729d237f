// What the exchange remembers of a consumer, judged by the stamps it wrote (section 3.1 duplicate,
// 5.1 dedupe, 5.7 exclusivity). A stamp can outlive its window in the store (a consumer's history
// lives as long as its longest window), so every rule reads the time in the stamp.
import { describe, expect, it } from 'vitest';
import { boughtWithin, exclusiveHolder, isResend, parseStamp, sentWithin, stamp } from '../../src/auction/consumer.ts';

const DAY = 86_400_000;
const T = 1_765_000_000_000;

describe('consumer stamps', () => {
  it('round-trip their time and reference', () => {
    expect(parseStamp(stamp(T, 'ld_1'))).toEqual({ at: T, ref: 'ld_1' });
    expect(parseStamp(stamp(T))).toEqual({ at: T, ref: '' });
    expect(parseStamp(null)).toBeNull();
    expect(parseStamp('not a time|x')).toBeNull();
  });

  it('a send within the window stands whatever its lead, so its window is not restarted; past the window it is gone', () => {
    const sent = parseStamp(stamp(T, 'ld_1'));
    expect(sentWithin(sent, T + 29 * DAY, 30)).toBe(true);
    expect(sentWithin(sent, T + 30 * DAY, 30)).toBe(false);
    expect(sentWithin(null, T, 30)).toBe(false);
    expect(sentWithin(sent, T, 0)).toBe(false);
  });

  it('a resend is another lead sent within the window; the same lead again is not', () => {
    const sent = [parseStamp(stamp(T, 'ld_1')), null];
    expect(isResend(sent, 'ld_2', T + DAY, 30)).toBe(true);
    expect(isResend(sent, 'ld_1', T + DAY, 30)).toBe(false);
    expect(isResend(sent, 'ld_2', T + 31 * DAY, 30)).toBe(false);
  });

  it('purchases and exclusivity count only within their windows', () => {
    const bought = [parseStamp(stamp(T))];
    expect(boughtWithin(bought, T + 9 * DAY, 10)).toBe(true);
    expect(boughtWithin(bought, T + 10 * DAY, 10)).toBe(false);
    const exclusive = [null, parseStamp(stamp(T, 'by_1'))];
    expect(exclusiveHolder(exclusive, T + DAY, 30)).toBe('by_1');
    expect(exclusiveHolder(exclusive, T + 30 * DAY, 30)).toBeNull();
  });
});
