// AES-256-GCM for personal data at rest. Each value gets a fresh random 96-bit IV; the 128-bit
// tag is stored with it, so a flipped bit, a truncated value or a value copied into another row
// or column fails to open instead of decrypting to garbage.
import { createCipheriv, createDecipheriv, createSecretKey, type KeyObject } from 'node:crypto';
import { pooledRandomBytes } from '../ids/random-pool.ts';
import { PII_KEY_BYTES, type PiiKey } from './key-list.ts';

const IV_BYTES = 12;
const TAG_BYTES = 16;
// Bumped if the algorithm or layout ever changes, so old values stay readable.
const FORMAT = 'v1';

export class PiiKeyMissing extends Error {}
export class PiiUnreadable extends Error {}

export class PiiCipher {
  /** The key new values are sealed with; stored next to each value so reads find it after a rotation. */
  readonly activeKeyId: string;
  // KeyObjects, not Buffers: a raw key is re-imported on every createCipheriv, which showed up in
  // the hot path's CPU profile.
  readonly #keys: Map<string, KeyObject>;

  constructor(keys: readonly PiiKey[], activeKeyId: string) {
    this.#keys = new Map();
    for (const { id, key } of keys) {
      if (key.length !== PII_KEY_BYTES) throw new RangeError(`PII key ${id} must be ${PII_KEY_BYTES} bytes, got ${key.length}`);
      this.#keys.set(id, createSecretKey(Buffer.from(key)));
    }
    if (!this.#keys.has(activeKeyId)) throw new PiiKeyMissing(`The active PII key ${activeKeyId} is not among the configured keys`);
    this.activeKeyId = activeKeyId;
  }

  get keyIds(): string[] {
    return [...this.#keys.keys()];
  }

  /**
   * `context` is authenticated, not stored: pass what the value belongs to (e.g. "leads:<id>:contact")
   * and pass the same to open().
   */
  seal(plaintext: string, context: string): string {
    // From the pooled CSPRNG (src/ids/random-pool.ts): fresh bytes each time, as GCM requires.
    const iv = pooledRandomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.#keys.get(this.activeKeyId)!, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(Buffer.from(context, 'utf8'));
    const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return [FORMAT, iv, ciphertext, cipher.getAuthTag()].map((part) => (typeof part === 'string' ? part : part.toString('base64url'))).join('.');
  }

  open(sealed: string, keyId: string, context: string): string {
    const key = this.#keys.get(keyId);
    if (!key) throw new PiiKeyMissing(`No PII key "${keyId}" is configured (PII_KEYS): rows written with it cannot be read`);
    const parts = sealed.split('.');
    if (parts.length !== 4 || parts[0] !== FORMAT) throw new PiiUnreadable(`Not a sealed ${FORMAT} value`);
    const iv = Buffer.from(parts[1]!, 'base64url');
    const ciphertext = Buffer.from(parts[2]!, 'base64url');
    const tag = Buffer.from(parts[3]!, 'base64url');
    if (iv.length !== IV_BYTES || tag.length !== TAG_BYTES) throw new PiiUnreadable('Sealed value has a malformed IV or tag');
    const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(Buffer.from(context, 'utf8'));
    decipher.setAuthTag(tag);
    try {
      return Buffer.concat([decipher.update(ciphertext), decipher.final()]).toString('utf8');
    } catch {
      throw new PiiUnreadable(`Sealed value does not authenticate under key "${keyId}": altered, moved or sealed with another key`);
    }
  }
}
