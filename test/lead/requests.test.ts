import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Vertical } from '../../src/catalog/types.ts';
import { InvalidInput } from '../../src/errors/problems.ts';
import { parseDirectLead, parsePingRequest, parsePostRequest } from '../../src/lead/requests.ts';

const autoInsurance: Vertical = {
  key: 'auto_insurance',
  fields: [
    { name: 'state', type: 'string', required: true },
    { name: 'zip', type: 'string', required: true },
    { name: 'age', type: 'integer', required: true },
    { name: 'credit', type: 'string', required: false, enum: ['poor', 'fair', 'good', 'excellent'] },
  ],
  max_shared: 3,
  exclusive_days: 30,
  duplicate_days: 30,
};
const findVertical = (key: string) => (key === autoInsurance.key ? autoInsurance : undefined);
const sha256 = (value: string) => createHash('sha256').update(value).digest('hex');

// The example lead of PROTOCOL.md section 2.
function protocolLead(): Record<string, unknown> {
  return {
    vertical: 'auto_insurance',
    data: { state: 'CA', zip: '90210', age: 34, credit: 'good' },
    contact: {
      first_name: 'Ada', last_name: 'Lovelace', email: 'ada@example.com',
      phone: '+13105550142', address: '1 Main St', city: 'Beverly Hills',
    },
    consent: {
      tcpa: true, text: 'I agree to be contacted', captured_at: '2026-11-22T10:00:00Z',
      ip: '203.0.113.7', trusted_form_cert_url: 'https://cert.trustedform.com/abc123',
    },
    source: { sub_id: 'fb-campaign-12', url: 'https://example.com/quote' },
  };
}

/** The InvalidInput the call throws; fails the test if it throws anything else or nothing. */
function refusal(call: () => unknown): InvalidInput {
  try {
    call();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidInput);
    return error as InvalidInput;
  }
  throw new Error('expected an InvalidInput');
}

const paths = (error: InvalidInput) => error.errors.map((e) => e.path);

describe('parseDirectLead', () => {
  it('accepts the protocol example and derives the contact hashes', () => {
    const lead = parseDirectLead(protocolLead(), findVertical);
    expect(lead.vertical).toBe(autoInsurance);
    expect(lead.data).toEqual({ state: 'CA', zip: '90210', age: 34, credit: 'good' });
    expect(lead.contact).toMatchObject({ first_name: 'Ada', email: 'ada@example.com', phone: '+13105550142', city: 'Beverly Hills' });
    expect(lead.consent).toMatchObject({ tcpa: true, ip: '203.0.113.7' });
    expect(lead.source).toEqual({ sub_id: 'fb-campaign-12', url: 'https://example.com/quote' });
    expect(lead.hashes).toEqual({ email_sha256: sha256('ada@example.com'), phone_sha256: sha256('+13105550142') });
    expect(lead.min_payout).toBeNull();
  });

  it('normalises contact e-mail and national US phone', () => {
    const body = protocolLead();
    body.contact = { email: '  ADA@Example.com ', phone: '(310) 555-0142' };
    const lead = parseDirectLead(body, findVertical);
    expect(lead.contact).toEqual({ email: 'ada@example.com', phone: '+13105550142' });
    expect(lead.hashes.phone_sha256).toBe(sha256('+13105550142'));
  });

  it('needs only one of e-mail and phone; the absent one is null', () => {
    const phoneOnly = protocolLead();
    phoneOnly.contact = { phone: '3105550142' };
    expect(parseDirectLead(phoneOnly, findVertical).contact).toEqual({ email: null, phone: '+13105550142' });
    expect(parseDirectLead(phoneOnly, findVertical).hashes).toEqual({ phone_sha256: sha256('+13105550142') });

    const emailOnly = protocolLead();
    emailOnly.contact = { email: 'ada@example.com', phone: '' };
    expect(parseDirectLead(emailOnly, findVertical).contact).toEqual({ email: 'ada@example.com', phone: null });
  });

  it('refuses a contact with neither e-mail nor phone, naming both', () => {
    const body = protocolLead();
    body.contact = { first_name: 'Ada' };
    const error = refusal(() => parseDirectLead(body, findVertical));
    expect(error.errors).toEqual([{ path: 'contact', message: expect.stringMatching(/email.*phone/) }]);
  });

  it('names an invalid e-mail and an invalid phone', () => {
    const body = protocolLead();
    body.contact = { email: 'ada at example', phone: '555-0142' };
    expect(paths(refusal(() => parseDirectLead(body, findVertical)))).toEqual(['contact.email', 'contact.phone']);
  });

  it('refuses non-string and over-long contact fields', () => {
    const body = protocolLead();
    body.contact = { email: 'ada@example.com', zip: 90210, address: 'x'.repeat(513) };
    expect(paths(refusal(() => parseDirectLead(body, findVertical)))).toEqual(['contact.zip', 'contact.address']);
  });

  it('refuses a body that is not an object, with path ""', () => {
    for (const body of [null, [], 'lead', 42, undefined]) {
      const error = refusal(() => parseDirectLead(body, findVertical));
      expect(error.errors).toEqual([{ path: '', message: 'body must be a JSON object' }]);
    }
  });

  it('refuses an unknown vertical and still lists the other errors', () => {
    const body = protocolLead();
    body.vertical = 'pet_insurance';
    body.data = { note: 'ada@example.com' };
    body.consent = { text: 'hi' };
    const error = refusal(() => parseDirectLead(body, findVertical));
    expect(error.errors).toEqual([
      { path: 'vertical', message: "unknown vertical 'pet_insurance'" },
      { path: 'data.note', message: 'looks like an e-mail address: personal data belongs in contact' },
      { path: 'consent.tcpa', message: 'is required' },
    ]);
    expect(error.status).toBe(400);
    expect(error.message).toBe('3 fields are invalid');
  });

  it('lists every missing part of an empty body', () => {
    const error = refusal(() => parseDirectLead({}, findVertical));
    expect(paths(error)).toEqual(['vertical', 'data', 'contact', 'consent']);
    expect(error.errors.every((e) => e.message === 'is required')).toBe(true);
  });

  it('validates data against the vertical with paths under data', () => {
    const body = protocolLead();
    body.data = { state: 'CA', age: 34.5, credit: 'great', color: 'red' };
    expect(paths(refusal(() => parseDirectLead(body, findVertical)))).toEqual(['data.zip', 'data.age', 'data.credit', 'data.color']);
  });

  it.each([
    ['tcpa not a boolean', { tcpa: 'yes' }, 'consent.tcpa'],
    ['captured_at not RFC 3339', { tcpa: true, captured_at: '22/11/2026' }, 'consent.captured_at'],
    ['ip not an address', { tcpa: true, ip: '203.0.113' }, 'consent.ip'],
    ['cert url not a URL', { tcpa: true, trusted_form_cert_url: 'javascript:alert(1)' }, 'consent.trusted_form_cert_url'],
    ['text not a string', { tcpa: true, text: 5 }, 'consent.text'],
    ['consent not an object', 'yes', 'consent'],
  ])('checks consent: %s', (_label, consent, path) => {
    const body = { ...protocolLead(), consent };
    expect(paths(refusal(() => parseDirectLead(body, findVertical)))).toEqual([path]);
  });

  it('accepts tcpa false (quality checks reject the lead later), IPv6 and extra consent keys', () => {
    const body = { ...protocolLead(), consent: { tcpa: false, ip: '2001:db8::7', jornaya_leadid: 'abc' } };
    expect(parseDirectLead(body, findVertical).consent).toEqual({ tcpa: false, ip: '2001:db8::7', jornaya_leadid: 'abc' });
  });

  it('defaults source to {} and refuses a source that is not an object', () => {
    const { source: _omitted, ...withoutSource } = protocolLead();
    expect(parseDirectLead(withoutSource, findVertical).source).toEqual({});
    expect(paths(refusal(() => parseDirectLead({ ...protocolLead(), source: 'fb' }, findVertical)))).toEqual(['source']);
  });

  it('accepts a min_payout of money and refuses anything else', () => {
    expect(parseDirectLead({ ...protocolLead(), min_payout: 12.5 }, findVertical).min_payout).toBe(12.5);
    expect(parseDirectLead({ ...protocolLead(), min_payout: 0.29 }, findVertical).min_payout).toBe(0.29);
    // 92233720368547760 was found by test/http/property.test.ts: its cents overflowed the bigint column (a 503).
    for (const minPayout of [-1, 1.234, '10', Number.NaN, 92233720368547760, 10_000_000_000.01]) {
      expect(paths(refusal(() => parseDirectLead({ ...protocolLead(), min_payout: minPayout }, findVertical)))).toEqual(['min_payout']);
    }
  });

  it('only ever throws InvalidInput, always with at least one error carrying a path (property)', () => {
    const arbitraryBody = fc.oneof(
      fc.jsonValue(),
      // Also bodies shaped roughly like a lead, so the deeper parsers are exercised too.
      fc.record(
        { vertical: fc.oneof(fc.constant('auto_insurance'), fc.jsonValue()), data: fc.jsonValue(), contact: fc.jsonValue(), consent: fc.jsonValue(), source: fc.jsonValue(), min_payout: fc.jsonValue() },
        { requiredKeys: [] },
      ),
    );
    fc.assert(
      fc.property(arbitraryBody, (body) => {
        try {
          parseDirectLead(body, findVertical);
        } catch (error) {
          expect(error).toBeInstanceOf(InvalidInput);
          const { errors } = error as InvalidInput;
          expect(errors.length).toBeGreaterThan(0);
          for (const e of errors) {
            expect(typeof e.path).toBe('string');
            expect(typeof e.message).toBe('string');
          }
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('parsePingRequest', () => {
  const hashes = { email_sha256: sha256('ada@example.com'), phone_sha256: sha256('+13105550142') };

  it('accepts vertical, data, contact_hashes and min_payout', () => {
    const ping = parsePingRequest({ vertical: 'auto_insurance', data: { state: 'CA', zip: '90210', age: 34 }, contact_hashes: hashes, min_payout: 5 }, findVertical);
    expect(ping).toEqual({ vertical: autoInsurance, data: { state: 'CA', zip: '90210', age: 34 }, hashes, min_payout: 5 });
  });

  it('needs no contact_hashes', () => {
    expect(parsePingRequest({ vertical: 'auto_insurance', data: { state: 'CA', zip: '90210', age: 34 } }, findVertical).hashes).toEqual({});
  });

  it('refuses contact and consent: personal data never goes in a ping', () => {
    const body = { vertical: 'auto_insurance', data: { state: 'CA', zip: '90210', age: 34 }, contact: { email: 'ada@example.com' }, consent: { tcpa: true } };
    expect(paths(refusal(() => parsePingRequest(body, findVertical)))).toEqual(['contact', 'consent']);
  });

  it('refuses hashes that are not 64 lowercase hex characters', () => {
    const body = { vertical: 'auto_insurance', data: { state: 'CA', zip: '90210', age: 34 }, contact_hashes: { email_sha256: hashes.email_sha256.toUpperCase(), phone_sha256: 'abc' } };
    expect(paths(refusal(() => parsePingRequest(body, findVertical)))).toEqual(['contact_hashes.email_sha256', 'contact_hashes.phone_sha256']);
  });

  it('names the vertical, data and min_payout errors together', () => {
    const error = refusal(() => parsePingRequest({ data: { phone: '310-555-0142' }, min_payout: -2 }, findVertical));
    expect(paths(error)).toEqual(['vertical', 'data.phone', 'min_payout']);
    expect(error.errors[0]).toEqual({ path: 'vertical', message: 'is required' });
  });

  it('refuses a body that is not an object', () => {
    expect(paths(refusal(() => parsePingRequest('ping', findVertical)))).toEqual(['']);
  });
});

describe('parsePostRequest', () => {
  const post = () => ({
    ping_id: 'pg_123',
    contact: { first_name: 'Ada', email: 'Ada@Example.com', phone: '310-555-0142' },
    consent: { tcpa: true },
  });

  it('accepts ping_id, contact and consent; data is null and source {} when absent', () => {
    expect(parsePostRequest(post())).toEqual({
      ping_id: 'pg_123',
      data: null,
      contact: { first_name: 'Ada', email: 'ada@example.com', phone: '+13105550142' },
      consent: { tcpa: true },
      source: {},
      hashes: { email_sha256: sha256('ada@example.com'), phone_sha256: sha256('+13105550142') },
    });
  });

  it('returns data as sent for the caller to compare with the ping', () => {
    expect(parsePostRequest({ ...post(), data: { state: 'CA', anything: [1] }, source: { sub_id: 's1' } })).toMatchObject({
      data: { state: 'CA', anything: [1] },
      source: { sub_id: 's1' },
    });
  });

  it('names each invalid part', () => {
    const error = refusal(() => parsePostRequest({ ping_id: '', data: [1], contact: { phone: '12' }, consent: {} }));
    expect(paths(error)).toEqual(['ping_id', 'data', 'contact.phone', 'consent.tcpa']);
    expect(error.message).toBe('4 fields are invalid');
  });

  it('requires ping_id, contact and consent', () => {
    expect(paths(refusal(() => parsePostRequest({})))).toEqual(['ping_id', 'contact', 'consent']);
  });
});
