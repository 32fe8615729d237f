// The bodies and queries of the returns API, parsed into what the use case needs or refused
// with every problem listed.
import { z } from 'zod';
import { parseOrThrow } from '../errors/zod-errors.ts';
import { RETURN_REASONS, RETURN_STATUSES, type ReturnReason, type ReturnStatus } from './types.ts';

export interface ReturnRequest {
  lead_id: string;
  reason: ReturnReason;
  detail: string | null;
}

const returnRequest = z.strictObject({
  lead_id: z.string({ error: 'is required' }).min(1, 'is required').max(128),
  reason: z.enum(RETURN_REASONS, { error: `must be one of ${RETURN_REASONS.join(', ')}` }),
  detail: z.string({ error: 'must be a string' }).trim().max(2000).nullish(),
});

export function parseReturnRequest(value: unknown): ReturnRequest {
  const parsed = parseOrThrow(returnRequest, value, 'Invalid return');
  return { lead_id: parsed.lead_id, reason: parsed.reason, detail: parsed.detail || null };
}

const decision = z.strictObject({
  note: z.string({ error: 'must be a string' }).trim().max(2000).nullish(),
});

/** The operator's optional note on an approval or denial (shown to the buyer). */
export function parseDecision(value: unknown): { note: string | null } {
  return { note: parseOrThrow(decision, value, 'Invalid decision').note || null };
}

const statusFilter = z.object({
  status: z.enum(RETURN_STATUSES, { error: `must be one of ${RETURN_STATUSES.join(', ')}` }).optional(),
  buyer_id: z.string().min(1).max(128).optional(),
});

export function parseReturnFilter(query: Record<string, string>): { status: ReturnStatus | null; buyerId: string | null } {
  const parsed = parseOrThrow(statusFilter, query, 'Invalid query');
  return { status: parsed.status ?? null, buyerId: parsed.buyer_id ?? null };
}
