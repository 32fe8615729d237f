// `data` is sent to every eligible buyer in pings, before anyone has paid; an e-mail address
// or phone number smuggled into it would hand the consumer to buyers who never bought them.
import { searchPhoneNumbersInText } from 'libphonenumber-js';
import type { FieldError } from '../errors/problems.ts';

// Any word of the value counts: "call ada@example.com" leaks just as well. Splitting into words
// first and anchoring the pattern keeps the match linear; an unanchored search is quadratic on
// long strings, which would let one request pin the CPU.
const WORD_SEPARATORS = /[\s<>()[\]",;:']+/;
const EMAIL_WORD = /^[^@]+@[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}\.?$/i;

// Below ten digits nothing is a full phone number, and zips, ages, years and prices all live there.
const MIN_PHONE_DIGITS = 10;

export function looksLikeEmail(value: unknown): boolean {
  if (typeof value !== 'string' || !value.includes('@')) return false;
  return value.split(WORD_SEPARATORS).some((word) => word.includes('@') && EMAIL_WORD.test(word));
}

export function looksLikePhone(value: unknown): boolean {
  let text: string;
  if (typeof value === 'string') text = value;
  // Only whole numbers can be phone numbers; String() of a non-safe integer is exponent notation anyway.
  else if (typeof value === 'number' && Number.isSafeInteger(value)) text = String(value);
  else return false;
  if (countDigits(text) < MIN_PHONE_DIGITS) return false;
  // `extended` means "possible" leniency: a well-formed but unassigned number still identifies
  // someone once it is assigned, and invented numbers have no business in `data` either.
  for (const found of searchPhoneNumbersInText(text, { defaultCountry: 'US', extended: true })) {
    if (countDigits(found.number.number) >= MIN_PHONE_DIGITS) return true;
  }
  return false;
}

export function findPersonalData(data: Record<string, unknown>, pathPrefix: string): FieldError[] {
  const errors: FieldError[] = [];
  visit(data, pathPrefix, errors);
  return errors;
}

function visit(value: unknown, path: string, errors: FieldError[]): void {
  if (Array.isArray(value)) {
    value.forEach((item, index) => visit(item, join(path, String(index)), errors));
  } else if (value !== null && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) visit(item, join(path, key), errors);
  } else if (looksLikeEmail(value)) {
    errors.push({ path, message: 'looks like an e-mail address: personal data belongs in contact' });
  } else if (looksLikePhone(value)) {
    errors.push({ path, message: 'looks like a phone number: personal data belongs in contact' });
  }
}

function join(prefix: string, key: string): string {
  return prefix === '' ? key : `${prefix}.${key}`;
}

function countDigits(text: string): number {
  let digits = 0;
  for (const char of text) if (char >= '0' && char <= '9') digits++;
  return digits;
}
