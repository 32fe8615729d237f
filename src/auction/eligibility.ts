// Section 5.1: who may see a lead at all. Pure: the caller brings the clock and the counters.
import type { Buyer, Campaign } from '../catalog/types.ts';
import { matchesFilter } from './filters.ts';
import { isOpen } from './schedule.ts';

export type ExclusionReason =
  | 'campaign_paused'
  | 'buyer_inactive'
  | 'buyer_unknown'
  | 'filter_mismatch'
  | 'outside_schedule'
  | 'cap_reached'
  | 'paced'
  | 'insufficient_budget'
  | 'already_bought'
  | 'consumer_exclusive'
  | 'breaker_open';

/** The checks that need nothing but the campaign, its buyer, the lead's data and the time. */
export function staticExclusion(
  campaign: Campaign,
  buyer: Buyer | undefined,
  data: Record<string, unknown>,
  nowMs: number,
): ExclusionReason | null {
  if (campaign.status !== 'active') return 'campaign_paused';
  if (!buyer) return 'buyer_unknown';
  if (buyer.status !== 'active') return 'buyer_inactive';
  if (!isOpen(campaign.schedule, nowMs)) return 'outside_schedule';
  if (!matchesFilter(campaign.filters, data)) return 'filter_mismatch';
  return null;
}
