import { describe, expect, it } from 'vitest';
import { qualityReasons } from '../../src/lead/quality.ts';

describe('qualityReasons', () => {
  it('passes a lead with TCPA consent', () => {
    expect(qualityReasons({ consent: { tcpa: true, text: 'I agree' } })).toEqual([]);
  });

  it.each([false, undefined, 'true', 1])('rejects a lead whose consent.tcpa is %j', (tcpa) => {
    expect(qualityReasons({ consent: { tcpa } })).toEqual(['consent.tcpa is not true']);
  });
});
