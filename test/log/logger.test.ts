// Whatever a log call is handed, personal data is censored before the line is written.
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { CENSOR, createLogger } from '../../src/log/logger.ts';

function capture(): { log: ReturnType<typeof createLogger>; lines: () => Array<Record<string, any>>; text: () => string } {
  const chunks: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  return {
    log: createLogger({ level: 'trace', destination }),
    lines: () => chunks.join('').split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, any>),
    text: () => chunks.join(''),
  };
}

const contact = { first_name: 'Ada', last_name: 'Lovelace', email: 'ada@example.com', phone: '+13105550142', address: '1 Main St' };
const consent = { tcpa: true, ip: '203.0.113.7', trusted_form_cert_url: 'https://cert.trustedform.com/abc' };
const values = ['Ada', 'Lovelace', 'ada@example.com', '+13105550142', '1 Main St', '203.0.113.7', 'cert.trustedform.com/abc'];

describe('the logger', () => {
  it('censors contact and consent wherever a log object nests them, up to a post body inside an error', () => {
    const { log, lines, text } = capture();
    const error = Object.assign(new Error('post failed'), { contact, request: { body: { contact, consent } } });
    log.info({ contact, consent }, 'at the top');
    log.info({ lead: { id: 'ld_1', contact, consent, data: { state: 'CA' } } }, 'in a lead');
    log.warn({ body: { lead: { contact } } }, 'three levels down');
    log.error({ err: error }, 'in an error');
    log.debug({ email: contact.email, phone: contact.phone, buyer: { email: 'ops@buyer.example' } }, 'fields on their own');

    for (const value of values) expect(text()).not.toContain(value);
    expect(text()).not.toContain('ops@buyer.example');
    const [top, inLead, deep, inError, alone] = lines();
    expect(top).toMatchObject({ contact: CENSOR, consent: CENSOR });
    // Everything else stays as it was: only personal data is taken out.
    expect(inLead).toMatchObject({ lead: { id: 'ld_1', contact: CENSOR, consent: CENSOR, data: { state: 'CA' } } });
    expect(deep).toMatchObject({ body: { lead: { contact: CENSOR } } });
    expect(inError).toMatchObject({ err: { message: 'post failed', contact: CENSOR, request: { body: { contact: CENSOR, consent: CENSOR } } } });
    expect(alone).toMatchObject({ email: CENSOR, phone: CENSOR, buyer: { email: CENSOR } });
  });

  it('leaves the caller\'s objects untouched', () => {
    const { log } = capture();
    const lead = { contact: { ...contact } };
    log.info({ lead }, 'logged');
    expect(lead.contact.email).toBe('ada@example.com');
  });
});
