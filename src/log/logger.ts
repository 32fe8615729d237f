// The process logger. Logs are shipped, kept and read far more widely than the leads table, so
// personal data must never reach them: whatever a log call is given, the contact and consent
// records (and their usual fields, should one be logged on its own) are censored, at any depth
// a log object plausibly nests them (a lead, a request body, an error's detail).
import { pino, type DestinationStream, type Level, type Logger } from 'pino';

const PERSONAL_KEYS = [
  'contact', 'consent', 'email', 'phone', 'first_name', 'last_name', 'address', 'trusted_form_cert_url',
];

export const REDACTED_PATHS: string[] = PERSONAL_KEYS.flatMap((key) => [key, `*.${key}`, `*.*.${key}`, `*.*.*.${key}`]);

export const CENSOR = '[personal data]';

export function createLogger(options: { level: Level | 'silent'; destination?: DestinationStream }): Logger {
  const settings = { level: options.level, redact: { paths: REDACTED_PATHS, censor: CENSOR } };
  return options.destination ? pino(settings, options.destination) : pino(settings);
}
