import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { PiiCipher, PiiKeyMissing, PiiUnreadable } from '../../src/pii/cipher.ts';

const key = (id: string) => ({ id, key: randomBytes(32) });
const contact = JSON.stringify({ first_name: 'Ada', email: 'ada@example.com', phone: '+13105550142' });

describe('PiiCipher', () => {
  it('opens what it sealed, and the sealed text shows nothing of the plaintext', () => {
    const cipher = new PiiCipher([key('k1')], 'k1');
    const sealed = cipher.seal(contact, 'leads.contact:ld_1');
    expect(cipher.open(sealed, 'k1', 'leads.contact:ld_1')).toBe(contact);
    for (const fragment of ['Ada', 'ada@example.com', '3105550142', 'first_name']) expect(sealed).not.toContain(fragment);
    expect(sealed).toMatch(/^v1\.[\w-]{16}\.[\w-]+\.[\w-]{22}$/);
  });

  it('uses a fresh IV each time: the same value never seals to the same text', () => {
    const cipher = new PiiCipher([key('k1')], 'k1');
    const sealed = new Set(Array.from({ length: 50 }, () => cipher.seal(contact, 'ctx')));
    expect(sealed.size).toBe(50);
    expect(new Set([...sealed].map((s) => s.split('.')[1])).size).toBe(50);
  });

  it('refuses a value that was altered, truncated, or moved to another row or column', () => {
    const cipher = new PiiCipher([key('k1')], 'k1');
    const sealed = cipher.seal(contact, 'leads.contact:ld_1');
    const [format, iv, body, tag] = sealed.split('.') as [string, string, string, string];
    const flipped = Buffer.from(body, 'base64url');
    flipped[0]! ^= 1;
    expect(() => cipher.open([format, iv, flipped.toString('base64url'), tag].join('.'), 'k1', 'leads.contact:ld_1')).toThrow(PiiUnreadable);
    expect(() => cipher.open([format, iv, body.slice(0, -4), tag].join('.'), 'k1', 'leads.contact:ld_1')).toThrow(PiiUnreadable);
    expect(() => cipher.open(sealed, 'k1', 'leads.contact:ld_2')).toThrow(PiiUnreadable);
    expect(() => cipher.open(sealed, 'k1', 'leads.consent:ld_1')).toThrow(PiiUnreadable);
    expect(() => cipher.open('{"email":"ada@example.com"}', 'k1', 'leads.contact:ld_1')).toThrow(PiiUnreadable);
  });

  it('seals with the active key and opens with whichever key the row names', () => {
    const old = key('2025');
    const current = key('2026');
    const before = new PiiCipher([old], '2025').seal(contact, 'ctx');
    const rotated = new PiiCipher([old, current], '2026');
    expect(rotated.activeKeyId).toBe('2026');
    expect(rotated.open(before, '2025', 'ctx')).toBe(contact);
    const after = rotated.seal(contact, 'ctx');
    expect(() => rotated.open(after, '2025', 'ctx')).toThrow(PiiUnreadable);
    expect(rotated.open(after, '2026', 'ctx')).toBe(contact);
  });

  it('names a key that is not configured', () => {
    const cipher = new PiiCipher([key('k1')], 'k1');
    expect(() => cipher.open(cipher.seal(contact, 'ctx'), 'retired', 'ctx')).toThrow(PiiKeyMissing);
    expect(() => cipher.open(cipher.seal(contact, 'ctx'), 'retired', 'ctx')).toThrow(/retired/);
    expect(() => new PiiCipher([key('k1')], 'k2')).toThrow(PiiKeyMissing);
    expect(() => new PiiCipher([{ id: 'short', key: randomBytes(16) }], 'short')).toThrow(/32 bytes/);
  });
});
