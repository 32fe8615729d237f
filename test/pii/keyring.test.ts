// Where keys come from: PII_KEYS in production, a development key file under DATA_DIR on a fresh
// clone (so `npm start` keeps reading its own data after a restart).
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log/logger.ts';
import { DEV_KEY_FILE, openPiiCipher, readOrCreateKeyFile } from '../../src/pii/keyring.ts';

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'leadex-keys-'));
  dirs.push(dir);
  return dir;
}

function capturingLogger(): { log: ReturnType<typeof createLogger>; lines: () => Array<Record<string, unknown>> } {
  const chunks: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  const log = createLogger({ level: 'info', destination });
  return { log, lines: () => chunks.join('').split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>) };
}

describe('the PII keyring', () => {
  it('uses PII_KEYS when set, sealing with PII_KEY_ID, and warns about nothing', () => {
    const { log, lines } = capturingLogger();
    const keys = [{ id: 'a', key: randomBytes(32) }, { id: 'b', key: randomBytes(32) }];
    const cipher = openPiiCipher({ PII_KEYS: keys, PII_KEY_ID: 'b', DATA_DIR: tempDir() }, log);
    expect(cipher.activeKeyId).toBe('b');
    expect(cipher.keyIds).toEqual(['a', 'b']);
    expect(lines()).toEqual([]);
  });

  it('without PII_KEYS, creates a development key file (0600) under DATA_DIR once and reuses it after a restart', () => {
    const dataDir = join(tempDir(), 'nested', 'data');
    const first = capturingLogger();
    const cipher = openPiiCipher({ DATA_DIR: dataDir }, first.log);
    const file = join(dataDir, DEV_KEY_FILE);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(first.lines()).toEqual([expect.objectContaining({ level: 40, key_file: file, msg: expect.stringContaining('PII_KEYS is not set') })]);

    const sealed = cipher.seal('{"email":"ada@example.com"}', 'ctx');
    const restarted = openPiiCipher({ DATA_DIR: dataDir }, capturingLogger().log);
    expect(restarted.open(sealed, cipher.activeKeyId, 'ctx')).toBe('{"email":"ada@example.com"}');
    // The file holds exactly a PII_KEYS entry, so moving to configured keys keeps old rows readable.
    const entry = readFileSync(file, 'utf8').trim();
    expect(entry).toMatch(/^dev:[A-Za-z0-9+/]{43}=$/);
  });

  it('several processes creating the key file at once all end up with the same key', async () => {
    const file = join(tempDir(), DEV_KEY_FILE);
    const module = new URL('../../src/pii/keyring.ts', import.meta.url).href;
    const script = `import { readOrCreateKeyFile } from ${JSON.stringify(module)};
      process.stdout.write(readOrCreateKeyFile(${JSON.stringify(file)}).key.toString('hex'));`;
    const keys = await Promise.all(
      Array.from({ length: 4 }, () => new Promise<string>((resolve, reject) => {
        execFile(process.execPath, ['--input-type=module', '-e', script], (error, stdout) => (error ? reject(error) : resolve(stdout)));
      })),
    );
    expect(keys.every((k) => /^[0-9a-f]{64}$/.test(k))).toBe(true);
    expect(new Set(keys).size).toBe(1);
    expect(readOrCreateKeyFile(file).key.toString('hex')).toBe(keys[0]);
  });

  it('refuses a damaged key file instead of silently making a new key', () => {
    const file = join(tempDir(), DEV_KEY_FILE);
    writeFileSync(file, 'dev:not-a-key\n');
    expect(() => readOrCreateKeyFile(file)).toThrow(new RegExp(`${DEV_KEY_FILE}.*must hold one`));
    expect(() => openPiiCipher({ DATA_DIR: join(file, '..') }, capturingLogger().log)).toThrow(/PII_KEYS is not set and the development key could not be used/);
  });

  it('with DATA_DIR memory:// keeps the key in memory only, and says so loudly only when the database outlives the process', () => {
    const embedded = capturingLogger();
    openPiiCipher({ DATA_DIR: 'memory://' }, embedded.log);
    expect(embedded.lines().map((l) => l.level)).toEqual([30]);
    const external = capturingLogger();
    openPiiCipher({ DATA_DIR: 'memory://', DATABASE_URL: 'postgres://db/leadex' }, external.log);
    expect(external.lines().map((l) => l.level)).toEqual([40]);
  });
});
