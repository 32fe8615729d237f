// Personal data shown to operators only on request (?reveal=contact); otherwise enough to
// recognise a lead, not to contact the person.
export function maskContact(contact: Record<string, unknown>): Record<string, unknown> {
  const masked: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(contact)) {
    if (typeof value !== 'string' || value === '') masked[key] = value;
    // Too short to show a first character without showing all of it.
    else if (value.length < 3) masked[key] = '***';
    else if (key === 'email') masked[key] = maskEmail(value);
    else if (key === 'phone') masked[key] = `${value.slice(0, 3)}${'*'.repeat(Math.max(0, value.length - 5))}${value.slice(-2)}`;
    else masked[key] = `${value[0]}${'*'.repeat(Math.min(8, value.length - 1))}`;
  }
  return masked;
}

function maskEmail(email: string): string {
  const at = email.indexOf('@');
  if (at < 1) return '***';
  return `${email[0]}***${email.slice(at)}`;
}

/**
 * The consent record is personal data too: an IP address, a certificate URL, and a disclosure text
 * that often quotes the consumer's name or number. Only whether consent was given (booleans) and
 * when (captured_at) stay visible.
 */
export function maskConsent(consent: Record<string, unknown>): Record<string, unknown> {
  const masked: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(consent)) {
    masked[key] = key === 'captured_at' || typeof value === 'boolean' || value === null ? value : '***';
  }
  return masked;
}
