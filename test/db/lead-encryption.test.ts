// Personal data at rest: what Postgres holds for a lead's contact and consent is ciphertext, and
// keys can rotate without losing the rows written under the old one.
import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LeadRepository } from '../../src/db/lead-repository.ts';
import type { NewLead } from '../../src/db/schema.ts';
import { PiiCipher, PiiKeyMissing, PiiUnreadable } from '../../src/pii/cipher.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { leadRecord } from '../support/lead-records.ts';

let database: TestDatabase;
const oldKey = { id: 'k2025', key: randomBytes(32) };
const newKey = { id: 'k2026', key: randomBytes(32) };

const contact = { first_name: 'Ada', last_name: 'Lovelace', email: 'ada.crypt@example.com', phone: '+13105550142', address: '1 Main St' };
const consent = { tcpa: true, text: 'I agree to be called', captured_at: '2026-11-22T10:00:00Z', ip: '203.0.113.77', trusted_form_cert_url: 'https://cert.trustedform.com/abc123' };
const personalValues = [...Object.values(contact), ...Object.values(consent)].filter((v): v is string => typeof v === 'string');

let n = 0;
function newLead(): NewLead {
  n += 1;
  return leadRecord(`ld_enc_${n}`, 'af_enc', {
    contact: JSON.stringify(contact),
    consent: JSON.stringify(consent),
    source: JSON.stringify({ sub_id: 's-1' }),
  });
}

/**
 * The row exactly as Postgres stores it, every column as text, with each sealed value replaced by
 * a placeholder: a random ciphertext may by chance spell a short value ("Ada" turned up once), and
 * plaintext cannot hide inside a sealed value, whose parts are base64url only.
 */
async function rawRow(id: string): Promise<string> {
  const result = await sql<{ row: string }>`select leads::text as row from leads where id = ${id}`.execute(database.db);
  return result.rows[0]!.row.replace(/v1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+/g, '<sealed>');
}

beforeAll(async () => {
  database = await createTestDatabase('lead_encryption');
  await database.db.insertInto('affiliates').values({ id: 'af_enc', name: 'A', payout: '{"type":"fixed","amount":1}', status: 'active', api_key_hash: 'h-enc' }).execute();
});

afterAll(async () => {
  await database?.close();
});

describe('leads at rest', () => {
  it('hold no plaintext contact or consent value, only ciphertext and the id of the key that sealed it', async () => {
    const leads = new LeadRepository(database.db, new PiiCipher([oldKey], oldKey.id));
    const lead = newLead();
    await leads.recordLead(lead, []);

    const raw = await rawRow(lead.id);
    expect(raw.match(/<sealed>/g)).toHaveLength(2);
    for (const value of personalValues) expect(raw).not.toContain(value);
    expect(raw).not.toContain('first_name');
    const row = await database.db.selectFrom('leads').select(['contact', 'consent', 'pii_key_id', 'data']).where('id', '=', lead.id).executeTakeFirstOrThrow();
    expect(row.pii_key_id).toBe(oldKey.id);
    expect(row.contact).toMatch(/^v1\./);
    expect(row.consent).toMatch(/^v1\./);
    // What buyers price on and what duplicate checks use stays readable.
    expect(row.data).toEqual({ state: 'CA' });

    expect(await leads.getLead(lead.id)).toMatchObject({ id: lead.id, contact, consent });
    expect(await leads.findByPing(lead.ping_id)).toMatchObject({ contact, consent });
  });

  it('stay readable after rotating to a new active key, while new rows use the new key', async () => {
    const before = new LeadRepository(database.db, new PiiCipher([oldKey], oldKey.id));
    const old = newLead();
    await before.recordLead(old, []);

    const rotated = new LeadRepository(database.db, new PiiCipher([oldKey, newKey], newKey.id));
    const fresh = newLead();
    await rotated.recordLead(fresh, []);
    const keyIds = await database.db.selectFrom('leads').select(['id', 'pii_key_id']).where('id', 'in', [old.id, fresh.id]).orderBy('id').execute();
    expect(keyIds).toEqual([{ id: old.id, pii_key_id: oldKey.id }, { id: fresh.id, pii_key_id: newKey.id }]);
    expect((await rotated.getLead(old.id))?.contact).toEqual(contact);
    expect((await rotated.getLead(fresh.id))?.consent).toEqual(consent);

    // Retiring the old key too early is a loud error naming it, not garbage.
    const retired = new LeadRepository(database.db, new PiiCipher([newKey], newKey.id));
    await expect(retired.getLead(old.id)).rejects.toThrow(PiiKeyMissing);
    await expect(retired.getLead(old.id)).rejects.toThrow(new RegExp(oldKey.id));
    expect((await retired.getLead(fresh.id))?.contact).toEqual(contact);
  });

  it('refuse ciphertext moved from one lead to another', async () => {
    const leads = new LeadRepository(database.db, new PiiCipher([oldKey], oldKey.id));
    const [a, b] = [newLead(), newLead()];
    await leads.recordLead(a, []);
    await leads.recordLead(b, []);
    await sql`update leads set contact = (select contact from leads where id = ${a.id}) where id = ${b.id}`.execute(database.db);
    await expect(leads.getLead(b.id)).rejects.toThrow(PiiUnreadable);
    expect((await leads.getLead(a.id))?.contact).toEqual(contact);
  });

  it('written before encryption (null key id) are read as they are, then sealed in place', async () => {
    const legacy = newLead();
    await database.db.insertInto('leads').values({ ...legacy, pii_key_id: null }).execute();
    const leads = new LeadRepository(database.db, new PiiCipher([oldKey, newKey], newKey.id));
    expect((await leads.getLead(legacy.id))?.contact).toEqual(contact);
    expect(await rawRow(legacy.id)).toContain(contact.email);

    expect(await leads.sealLegacyRows(2)).toBe(1);
    expect(await leads.sealLegacyRows(2)).toBe(0);
    const raw = await rawRow(legacy.id);
    expect(raw.match(/<sealed>/g)).toHaveLength(2);
    for (const value of personalValues) expect(raw).not.toContain(value);
    expect(await leads.getLead(legacy.id)).toMatchObject({ contact, consent });
    const row = await database.db.selectFrom('leads').select('pii_key_id').where('id', '=', legacy.id).executeTakeFirstOrThrow();
    expect(row.pii_key_id).toBe(newKey.id);
  });
});
