// Where the PII keys come from. Production sets PII_KEYS (and PII_KEY_ID when rotating). A fresh
// clone has neither, and `npm start` must still work and still read its own data after a restart:
// then a development key is generated once and kept in a file under DATA_DIR, next to the
// embedded database it protects.
import { randomBytes } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { PiiCipher } from './cipher.ts';
import { formatKeyEntry, parseKeyList, PII_KEY_BYTES, type PiiKey } from './key-list.ts';

export interface KeyringConfig {
  PII_KEYS?: PiiKey[] | undefined;
  PII_KEY_ID?: string | undefined;
  DATA_DIR: string;
  DATABASE_URL?: string | undefined;
}

export const DEV_KEY_FILE = 'pii-dev.key';
const DEV_KEY_ID = 'dev';

export function openPiiCipher(config: KeyringConfig, log: Logger): PiiCipher {
  if (config.PII_KEYS && config.PII_KEYS.length > 0) {
    return new PiiCipher(config.PII_KEYS, config.PII_KEY_ID ?? config.PII_KEYS[0]!.id);
  }
  if (config.DATA_DIR === 'memory://') {
    // Nothing this process writes outlives it unless the database is external: only then say so loudly.
    const level = config.DATABASE_URL ? 'warn' : 'info';
    log[level]('PII_KEYS is not set and DATA_DIR is memory://: personal data is encrypted with a key that dies with this process');
    return processPiiCipher();
  }
  const file = join(config.DATA_DIR, DEV_KEY_FILE);
  let key: PiiKey;
  try {
    key = readOrCreateKeyFile(file);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`PII_KEYS is not set and the development key could not be used: ${reason}. Set PII_KEYS (see README, Security)`, { cause: error });
  }
  log.warn(
    { key_file: file },
    'PII_KEYS is not set: personal data is encrypted with a development key kept in the key file. Set PII_KEYS in production ' +
      '(include this file\'s entry in it to keep reading what was written with it)',
  );
  return new PiiCipher([key], key.id);
}

let processCipher: PiiCipher | undefined;

/**
 * One random key per process: for runtimes built without a configured key (tests, the in-memory
 * demo). Shared so several exchange nodes in one process read each other's rows.
 */
export function processPiiCipher(): PiiCipher {
  processCipher ??= new PiiCipher([{ id: 'process', key: randomBytes(PII_KEY_BYTES) }], 'process');
  return processCipher;
}

/** The key in `file`, creating it (0600) when absent; safe when several nodes start at once. */
export function readOrCreateKeyFile(file: string): PiiKey {
  const existing = readKeyFile(file);
  if (existing) return existing;
  mkdirSync(join(file, '..'), { recursive: true });
  const draft = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
  writeFileSync(draft, `${formatKeyEntry({ id: DEV_KEY_ID, key: randomBytes(PII_KEY_BYTES) })}\n`, { mode: 0o600, flag: 'wx' });
  try {
    // link() fails if the name exists: whoever links first wins, the others read the winner's key.
    linkSync(draft, file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  } finally {
    unlinkSync(draft);
  }
  const created = readKeyFile(file);
  if (!created) throw new Error(`The PII key file ${file} vanished while it was being created`);
  return created;
}

function readKeyFile(file: string): PiiKey | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  const parsed = parseKeyList(text.trim());
  if (!parsed.ok || parsed.keys.length !== 1) {
    throw new Error(`The PII key file ${file} must hold one <id>:<base64 of ${PII_KEY_BYTES} bytes> entry${parsed.ok ? '' : `: ${parsed.problems.join('; ')}`}`);
  }
  return parsed.keys[0]!;
}
