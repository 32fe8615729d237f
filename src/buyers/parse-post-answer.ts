// Section 4.2: turns a buyer's post answer into accepted / rejected / retryable / failed.
// Only 5xx is retryable here; timeouts and network errors are retried by the caller, which sees
// them before any answer exists.
import type { PostFailureReason } from './buyer-client.ts';

export type PostAnswer =
  | { kind: 'accepted'; buyerLeadId: string | null; redirectUrl: string | null }
  | { kind: 'rejected'; reason: string }
  | { kind: 'retryable'; reason: PostFailureReason; detail?: string }
  | { kind: 'failed'; reason: PostFailureReason; detail?: string };

const MAX_REASON_LENGTH = 200;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The redirect_url is handed to the affiliate, who may send the consumer's browser there, so only
 * absolute http(s) URLs pass: a `javascript:` URL from a buyer must not reach a landing page.
 */
function safeRedirectUrl(value: unknown): string | null {
  if (typeof value !== 'string' || value === '') return null;
  try {
    const url = new URL(value);
    return url.protocol === 'https:' || url.protocol === 'http:' ? url.href : null;
  } catch {
    return null;
  }
}

export function parsePostAnswer(status: number, body: string | null): PostAnswer {
  if (status >= 500) return { kind: 'retryable', reason: 'http_status', detail: `HTTP ${status}` };
  if (status >= 300 && status < 400) return { kind: 'failed', reason: 'redirect', detail: `HTTP ${status}` };
  if (status < 200 || status >= 300) return { kind: 'failed', reason: 'http_status', detail: `HTTP ${status}` };

  // A 2xx without a verdict is a final failure, not a retry: the buyer may well have taken the
  // lead, and the idempotency key only protects retries the buyer can recognise.
  if (body === null || body.trim() === '') return { kind: 'failed', reason: 'invalid_body', detail: 'empty body' };
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return { kind: 'failed', reason: 'invalid_body', detail: 'not JSON' };
  }
  if (!isPlainObject(parsed)) return { kind: 'failed', reason: 'invalid_body', detail: 'not a JSON object' };

  if (parsed.accepted === true) {
    const rawId = parsed.buyer_lead_id;
    const buyerLeadId =
      typeof rawId === 'string' ? rawId : typeof rawId === 'number' && Number.isFinite(rawId) ? String(rawId) : null;
    return { kind: 'accepted', buyerLeadId, redirectUrl: safeRedirectUrl(parsed.redirect_url) };
  }
  if (parsed.accepted === false) {
    const raw = typeof parsed.reason === 'string' ? parsed.reason.trim() : '';
    return { kind: 'rejected', reason: raw === '' ? 'rejected' : raw.slice(0, MAX_REASON_LENGTH) };
  }
  return { kind: 'failed', reason: 'invalid_body', detail: 'accepted is not a boolean' };
}
