import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { contactHashes, normalizeEmail, normalizePhone, sha256Hex } from '../../src/lead/contact.ts';

const independentSha256 = (value: string) => createHash('sha256').update(value).digest('hex');

describe('normalizeEmail', () => {
  it('trims and lower-cases a valid address', () => {
    expect(normalizeEmail('  Ada.Lovelace@Example.COM \n')).toBe('ada.lovelace@example.com');
    expect(normalizeEmail('first+tag@mail.example.co.uk')).toBe('first+tag@mail.example.co.uk');
  });

  it.each([
    '', 'ada', 'ada@', '@example.com', 'ada@example', 'ada lovelace@example.com', 'ada@exa mple.com',
    'ada@@example.com', 'ada@-example.com', 'ada@example-.com', 'ada@example..com', 'ada.@example.com',
    '.ada@example.com', 'a..b@example.com', 'ada@example.c', 'ada@example.123', 'ada@example.com.',
    `${'a'.repeat(65)}@example.com`, `ada@${'a'.repeat(64)}.com`,
  ])('refuses %j', (raw) => {
    expect(normalizeEmail(raw)).toBeNull();
  });
});

describe('normalizePhone', () => {
  it.each(['+13105550142', '(310) 555-0142', '310-555-0142', '3105550142', '310.555.0142', '1 310 555 0142', ' +1 (310) 555-0142 '])(
    'reads US %j as +13105550142',
    (raw) => {
      expect(normalizePhone(raw)).toBe('+13105550142');
    },
  );

  it('accepts numbers from other countries in international form', () => {
    expect(normalizePhone('+44 20 7183 8750')).toBe('+442071838750');
    expect(normalizePhone('+447911123456')).toBe('+447911123456');
  });

  it.each(['', 'not a phone', '555-0142', '12345', '(123) 456-7890', '+1 310 555 01', '+999 1234567890', '90210'])(
    'refuses %j',
    (raw) => {
      expect(normalizePhone(raw)).toBeNull();
    },
  );
});

describe('contact hashes', () => {
  it('sha256Hex matches an independently computed digest', () => {
    expect(sha256Hex('ada@example.com')).toBe(independentSha256('ada@example.com'));
    expect(sha256Hex('')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  });

  it('hashes the normalised e-mail and the E.164 phone', () => {
    const email = normalizeEmail(' Ada@Example.com ');
    const phone = normalizePhone('(310) 555-0142');
    expect(contactHashes({ email, phone })).toEqual({
      email_sha256: independentSha256('ada@example.com'),
      phone_sha256: independentSha256('+13105550142'),
    });
  });

  it('leaves out the hash of what is absent', () => {
    expect(contactHashes({ email: null, phone: '+13105550142' })).toEqual({ phone_sha256: independentSha256('+13105550142') });
    expect(contactHashes({ email: 'ada@example.com' })).toEqual({ email_sha256: independentSha256('ada@example.com') });
    expect(contactHashes({})).toEqual({});
  });
});
