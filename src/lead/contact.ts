// Normalising contact details once, here, is what makes duplicate checks and buyer-side
// matching work: the same consumer must always hash to the same value.
import { hash } from 'node:crypto';
import { parsePhoneNumberFromString } from 'libphonenumber-js';

// A deliberately conservative subset of RFC 5322: dot-atom local part and a DNS host name with
// an alphabetic (or punycode) TLD. Quoted local parts, IP-literal domains and non-ASCII
// addresses are refused: buyers' CRMs and dialers reject them anyway.
const LOCAL_PART = /^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/;
const DOMAIN_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const TLD = /^(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})$/;

export function normalizeEmail(raw: string): string | null {
  const email = raw.trim().toLowerCase();
  if (email.length > 254) return null;
  const at = email.lastIndexOf('@');
  if (at <= 0) return null;
  const local = email.slice(0, at);
  const labels = email.slice(at + 1).split('.');
  if (local.length > 64 || !LOCAL_PART.test(local)) return null;
  if (labels.length < 2 || !labels.every((label) => DOMAIN_LABEL.test(label))) return null;
  return TLD.test(labels.at(-1) ?? '') ? email : null;
}

/** E.164, or null. National-format input is read as a US number. */
export function normalizePhone(raw: string): string | null {
  const phone = parsePhoneNumberFromString(raw.trim(), 'US');
  return phone?.isValid() ? phone.number : null;
}

// One-shot: no Hash object per call, whose native half the garbage collector would have to
// finalise (every lead hashes its contact, so these add up).
export function sha256Hex(value: string): string {
  return hash('sha256', value, 'hex');
}

export interface ContactHashes {
  email_sha256?: string;
  phone_sha256?: string;
}

/** Expects already-normalised values (see normalizeEmail / normalizePhone). */
export function contactHashes(normalized: { email?: string | null; phone?: string | null }): ContactHashes {
  const hashes: ContactHashes = {};
  if (normalized.email) hashes.email_sha256 = sha256Hex(normalized.email);
  if (normalized.phone) hashes.phone_sha256 = sha256Hex(normalized.phone);
  return hashes;
}
