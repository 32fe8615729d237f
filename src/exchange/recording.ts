// Section 5.8: the lead and its sales are durably recorded before the affiliate gets its answer.
// Once a buyer has accepted a post the lead is in its hands, so a database blip at that moment
// must not turn the sale into an unrecorded one: the write is retried for a while. A lead that
// did not sell gets a single attempt; its affiliate can simply send it again.
import type { NewLead, NewSale } from '../db/schema.ts';
import { isConnectionFailure, isUniqueViolation } from '../db/pg-errors.ts';
import type { ExchangeDeps, ExchangeSettings } from './types.ts';

const RETRY_MS = 100;

/** How long a sale accepted by its buyers keeps trying to reach the database. */
export function recordPatienceMs(settings: ExchangeSettings): number {
  return settings.postDeadlineMs;
}

/** The longest a lead request can take: ping phase, posting, then recording. */
export function longestAnswerMs(settings: ExchangeSettings): number {
  return settings.tmaxMs + settings.postDeadlineMs + recordPatienceMs(settings);
}

export async function recordLeadDurably(
  deps: Pick<ExchangeDeps, 'leads' | 'availability' | 'clock'>,
  lead: NewLead,
  sales: NewSale[],
  settings: ExchangeSettings,
): Promise<void> {
  const giveUpAt = deps.clock.now() + (sales.length > 0 ? recordPatienceMs(settings) : 0);
  for (let attempt = 1; ; attempt++) {
    try {
      await deps.leads.recordLead(lead, sales);
      return;
    } catch (error) {
      // The connection may have died after the commit but before its acknowledgement.
      if (attempt > 1 && isUniqueViolation(error) && (await deps.leads.getLead(lead.id)) !== undefined) return;
      if (!isConnectionFailure(error)) throw error;
      deps.availability.reportFailure('postgres');
      if (deps.clock.now() + RETRY_MS > giveUpAt) throw error;
      await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
    }
  }
}
