import { describe, expect, it } from 'vitest';
import { findPersonalData, looksLikeEmail, looksLikePhone } from '../../src/lead/pii.ts';

describe('looksLikeEmail', () => {
  it.each(['ada@example.com', 'Ada.Lovelace+x@Mail.Example.org', 'reach me at ada@example.com please', 'write to ada@example.com.', 'mailto:ada@example.com', '<ada@example.com>'])('flags %j', (value) => {
    expect(looksLikeEmail(value)).toBe(true);
  });

  it.each(['ada', '@handle', 'a@b', 'CA', 'good', 42, null, undefined, { email: 'x' }])('does not flag %j', (value) => {
    expect(looksLikeEmail(value)).toBe(false);
  });

  it('stays linear on long input, so one request cannot pin the CPU', () => {
    const started = performance.now();
    expect(looksLikeEmail('a'.repeat(100_000) + '@')).toBe(false);
    expect(looksLikeEmail(`a@${'b.'.repeat(50_000)}1`)).toBe(false);
    expect(performance.now() - started).toBeLessThan(500);
  });
});

describe('looksLikePhone', () => {
  it.each([
    '+13105550142', '3105550142', '(310) 555-0142', '310-555-0142', '310.555.0142', '+1 310 555 0142',
    '+44 20 7183 8750', 'call 310 555 0142 after 5', 3105550142,
  ])('flags %j', (value) => {
    expect(looksLikePhone(value)).toBe(true);
  });

  it.each([
    ['zip', '90210'], ['zip+4', '90210-1234'], ['zip as number', 90210], ['age', 34], ['age as string', '34'],
    ['year', 2026], ['year as string', '1987'], ['price', 17.5], ['price as string', '17.50'], ['big price', 125000.99],
    ['ISO date', '2026-11-22'], ['ISO date-time', '2026-11-22T10:00:00Z'], ['ISO date-time with millis', '2026-11-22T10:00:00.123+02:00'],
    ['IPv4', '203.0.113.7'], ['7-digit local number', '555-0142'], ['credit tier', 'good'], ['boolean', true],
    ['null', null], ['huge float', 1e21], ['negative', -3105550142.5],
  ])('does not flag a %s (%j)', (_label, value) => {
    expect(looksLikePhone(value)).toBe(false);
  });
});

describe('findPersonalData', () => {
  it('names every offending value by path, including inside nested objects and arrays', () => {
    const errors = findPersonalData(
      {
        zip: '90210',
        age: 34,
        note: 'ada@example.com',
        household: { spouse: { cell: '(310) 555-0142' }, kids: [4, 'kid@example.com'] },
      },
      'data',
    );
    expect(errors).toEqual([
      { path: 'data.note', message: 'looks like an e-mail address: personal data belongs in contact' },
      { path: 'data.household.spouse.cell', message: 'looks like a phone number: personal data belongs in contact' },
      { path: 'data.household.kids.1', message: 'looks like an e-mail address: personal data belongs in contact' },
    ]);
  });

  it('finds nothing in ordinary pricing data', () => {
    expect(findPersonalData({ state: 'CA', zip: '90210', age: 34, credit: 'good', dob_year: 1991, home_value: 450000 }, 'data')).toEqual([]);
  });
});
