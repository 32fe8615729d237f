// The circuit breaker thresholds of a campaign that sets none, or leaves some out.
import type { BreakerSettings, Campaign } from './types.ts';

export const DEFAULT_BREAKER: Readonly<BreakerSettings> = Object.freeze({
  error_threshold_percentage: 50,
  volume_threshold: 10,
  rolling_window_ms: 10_000,
  reset_timeout_ms: 5_000,
});

export function breakerSettingsOf(campaign: Pick<Campaign, 'breaker'>): BreakerSettings {
  return campaign.breaker ?? { ...DEFAULT_BREAKER };
}
