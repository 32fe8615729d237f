// The three affiliate request bodies (PROTOCOL.md 3.1, 3.2). Each parser collects every error
// it can find before refusing, so an affiliate fixes an integration in one round trip.
import { z } from 'zod';
import { MONEY_MAX } from '../catalog/money.ts';
import type { Vertical } from '../catalog/types.ts';
import { InvalidInput, type FieldError } from '../errors/problems.ts';
import { contactHashes, normalizeEmail, normalizePhone, type ContactHashes } from './contact.ts';
import { fieldErrors } from '../errors/zod-errors.ts';
import { isPlainObject, validateData } from './data-schema.ts';
import { findPersonalData } from './pii.ts';

export interface LeadContact {
  email: string | null;
  phone: string | null;
  [field: string]: string | null;
}

export interface DirectLead {
  vertical: Vertical;
  data: Record<string, unknown>;
  contact: LeadContact;
  consent: Record<string, unknown>;
  source: Record<string, unknown>;
  hashes: ContactHashes;
  min_payout: number | null;
}

export interface PingRequest {
  vertical: Vertical;
  data: Record<string, unknown>;
  hashes: ContactHashes;
  min_payout: number | null;
}

export interface PostRequest {
  ping_id: string;
  data: Record<string, unknown> | null;
  contact: LeadContact;
  consent: Record<string, unknown>;
  source: Record<string, unknown>;
  hashes: ContactHashes;
}

type FindVertical = (key: string) => Vertical | undefined;

const requiredOr = (message: string) => (issue: { input?: unknown }): string =>
  issue.input === undefined ? 'is required' : message;

const objectSchema = z.record(z.string(), z.unknown(), { error: requiredOr('must be an object') });

const verticalSchema = z.string({ error: requiredOr('must be a string') }).min(1, 'is required');

// Money: the exchange currency with at most 2 decimals. Comparing against toFixed(2) accepts
// exactly the doubles that are nearest to some cent amount (0.29 passes although 0.29*100 is not whole).
const moneySchema = z
  .number({ error: 'must be a number' })
  .nonnegative('must not be negative')
  .max(MONEY_MAX, `must be at most ${MONEY_MAX}`)
  .refine((value) => Number(value.toFixed(2)) === value, 'must have at most 2 decimals');

const contactSchema = z.record(
  z.string(),
  z.string({ error: 'must be a string' }).max(512, 'must be at most 512 characters').nullable(),
  { error: requiredOr('must be an object of strings') },
);

const consentSchema = z.looseObject(
  {
    tcpa: z.boolean({ error: requiredOr('must be true or false') }),
    text: z.string({ error: 'must be a string' }).nullish(),
    captured_at: z.iso.datetime({ offset: true, error: 'must be an RFC 3339 date-time, e.g. 2026-11-22T10:00:00Z' }).nullish(),
    ip: z.union([z.ipv4(), z.ipv6()], { error: 'must be an IPv4 or IPv6 address' }).nullish(),
    trusted_form_cert_url: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).nullish(),
  },
  { error: requiredOr('must be an object') },
);

const sha256Schema = z
  .string({ error: 'must be a string' })
  .regex(/^[0-9a-f]{64}$/, 'must be a SHA-256 in 64 lowercase hex characters')
  .nullish();
const hashesSchema = z.object(
  { email_sha256: sha256Schema, phone_sha256: sha256Schema },
  { error: 'must be an object' },
);

// Built once: a zod schema is costly to construct (every .nullish() is a new schema), and these
// run on every lead.
const optionalObjectSchema = objectSchema.nullish();
const optionalMoneySchema = moneySchema.nullish();
const optionalHashesSchema = hashesSchema.nullish();

const pingIdSchema = z.string({ error: requiredOr('must be a string') }).min(1, 'is required').max(200, 'is not a ping id');

export function parseDirectLead(body: unknown, findVertical: FindVertical): DirectLead {
  const fields = requireObject(body);
  const errors: FieldError[] = [];
  const vertical = parseVertical(fields.vertical, findVertical, errors);
  const data = parseData(vertical, fields.data, errors);
  const contact = parseContact(fields.contact, errors);
  const consent = check(consentSchema, fields.consent, 'consent', errors);
  const source = check(optionalObjectSchema, fields.source, 'source', errors) ?? {};
  const minPayout = check(optionalMoneySchema, fields.min_payout, 'min_payout', errors) ?? null;
  if (errors.length > 0 || !vertical || !data || !contact || !consent) throw invalidInput(errors);
  return { vertical, data, contact, consent, source, hashes: contactHashes(contact), min_payout: minPayout };
}

export function parsePingRequest(body: unknown, findVertical: FindVertical): PingRequest {
  const fields = requireObject(body);
  const errors: FieldError[] = [];
  for (const key of ['contact', 'consent']) {
    if (Object.hasOwn(fields, key)) {
      errors.push({ path: key, message: 'personal data never goes in a ping: send contact_hashes here and contact and consent in the post' });
    }
  }
  const vertical = parseVertical(fields.vertical, findVertical, errors);
  const data = parseData(vertical, fields.data, errors);
  const hashes = check(optionalHashesSchema, fields.contact_hashes, 'contact_hashes', errors);
  const minPayout = check(optionalMoneySchema, fields.min_payout, 'min_payout', errors) ?? null;
  if (errors.length > 0 || !vertical || !data) throw invalidInput(errors);
  return { vertical, data, hashes: definedHashes(hashes), min_payout: minPayout };
}

export function parsePostRequest(body: unknown): PostRequest {
  const fields = requireObject(body);
  const errors: FieldError[] = [];
  const pingId = check(pingIdSchema, fields.ping_id, 'ping_id', errors);
  const data = check(optionalObjectSchema, fields.data, 'data', errors) ?? null;
  const contact = parseContact(fields.contact, errors);
  const consent = check(consentSchema, fields.consent, 'consent', errors);
  const source = check(optionalObjectSchema, fields.source, 'source', errors) ?? {};
  if (errors.length > 0 || pingId === undefined || !contact || !consent) throw invalidInput(errors);
  return { ping_id: pingId, data, contact, consent, source, hashes: contactHashes(contact) };
}

function requireObject(body: unknown): Record<string, unknown> {
  if (isPlainObject(body)) return body;
  const message = 'body must be a JSON object';
  throw new InvalidInput(message, [{ path: '', message }]);
}

function invalidInput(errors: FieldError[]): InvalidInput {
  const count = new Set(errors.map((error) => error.path)).size;
  return new InvalidInput(`${count} ${count === 1 ? 'field is' : 'fields are'} invalid`, errors);
}

/** The parsed value, or undefined with the reasons appended to `errors`. */
function check<T>(schema: z.ZodType<T>, value: unknown, path: string, errors: FieldError[]): T | undefined {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  errors.push(...fieldErrors(result.error.issues, path, 'is not an accepted field'));
  return undefined;
}

function parseVertical(value: unknown, findVertical: FindVertical, errors: FieldError[]): Vertical | undefined {
  const key = check(verticalSchema, value, 'vertical', errors);
  if (key === undefined) return undefined;
  const vertical = findVertical(key);
  if (!vertical) errors.push({ path: 'vertical', message: `unknown vertical '${key}'` });
  return vertical;
}

function parseData(vertical: Vertical | undefined, value: unknown, errors: FieldError[]): Record<string, unknown> | undefined {
  if (vertical) {
    const result = validateData(vertical, value, 'data');
    if (result.ok) return result.data;
    errors.push(...result.errors);
    return undefined;
  }
  // Without a vertical the fields cannot be checked, but the shape and a PII leak still can.
  if (!isPlainObject(value)) {
    errors.push({ path: 'data', message: value === undefined ? 'is required' : 'must be an object' });
  } else {
    errors.push(...findPersonalData(value, 'data'));
  }
  return undefined;
}

function parseContact(value: unknown, errors: FieldError[]): LeadContact | undefined {
  const contact = check(contactSchema, value, 'contact', errors);
  if (!contact) return undefined;
  // Web forms post empty inputs as "": an empty address is no address, not an invalid one.
  const email = blankToNull(contact.email);
  const phone = blankToNull(contact.phone);
  if (email === null && phone === null) {
    errors.push({ path: 'contact', message: 'needs an email or a phone (or both)' });
    return undefined;
  }
  const normalizedEmail = email === null ? null : normalizeEmail(email);
  if (email !== null && normalizedEmail === null) {
    errors.push({ path: 'contact.email', message: 'is not a valid e-mail address' });
  }
  const normalizedPhone = phone === null ? null : normalizePhone(phone);
  if (phone !== null && normalizedPhone === null) {
    errors.push({ path: 'contact.phone', message: 'is not a valid phone number: use E.164 (+13105550142) or a US national number' });
  }
  return { ...contact, email: normalizedEmail, phone: normalizedPhone };
}

function blankToNull(value: string | null | undefined): string | null {
  return value === undefined || value === null || value.trim() === '' ? null : value;
}

function definedHashes(hashes: { email_sha256?: string | null; phone_sha256?: string | null } | null | undefined): ContactHashes {
  const result: ContactHashes = {};
  if (hashes?.email_sha256) result.email_sha256 = hashes.email_sha256;
  if (hashes?.phone_sha256) result.phone_sha256 = hashes.phone_sha256;
  return result;
}
