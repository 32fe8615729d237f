// PII_KEYS as written in the environment: "kid1:<base64 of 32 bytes>,kid2:<…>". Parsed here so the
// config schema can name the variable and the key in its message, and so the development key
// file (which holds one such entry) reads the same way.

export interface PiiKey {
  id: string;
  /** 32 bytes: an AES-256 key. */
  key: Buffer;
}

export const PII_KEY_BYTES = 32;

const KEY_ID = /^[A-Za-z0-9_-]{1,32}$/;
// Checked first because Buffer.from(…, 'base64') silently skips junk, which would turn a typo into
// another key. Either alphabet, padded or not (Node decodes them all).
const BASE64 = /^[A-Za-z0-9+/_-]+={0,2}$/;

export type KeyListResult = { ok: true; keys: PiiKey[] } | { ok: false; problems: string[] };

/** Never echoes key material in a problem: the message ends up in logs and terminals. */
export function parseKeyList(text: string): KeyListResult {
  const problems: string[] = [];
  const keys: PiiKey[] = [];
  const entries = text.split(',').map((entry) => entry.trim()).filter((entry) => entry !== '');
  if (entries.length === 0) return { ok: false, problems: ['must list at least one key as <id>:<base64 of 32 bytes>'] };
  entries.forEach((entry, index) => {
    const colon = entry.indexOf(':');
    const id = colon === -1 ? '' : entry.slice(0, colon);
    const encoded = colon === -1 ? '' : entry.slice(colon + 1).trim();
    const label = KEY_ID.test(id) ? `key "${id}"` : `entry ${index + 1}`;
    if (colon === -1) {
      problems.push(`${label} must be written <id>:<base64 of ${PII_KEY_BYTES} bytes>`);
      return;
    }
    if (!KEY_ID.test(id)) {
      problems.push(`${label}: the key id must be 1-32 letters, digits, _ or -`);
      return;
    }
    if (keys.some((k) => k.id === id)) {
      problems.push(`${label} is listed twice`);
      return;
    }
    if (!BASE64.test(encoded)) {
      problems.push(`${label} is not base64`);
      return;
    }
    const key = Buffer.from(encoded, 'base64');
    if (key.length !== PII_KEY_BYTES) {
      problems.push(`${label} must be ${PII_KEY_BYTES} bytes (AES-256), got ${key.length}`);
      return;
    }
    keys.push({ id, key });
  });
  return problems.length > 0 ? { ok: false, problems } : { ok: true, keys };
}

export function formatKeyEntry(key: PiiKey): string {
  return `${key.id}:${key.key.toString('base64')}`;
}
