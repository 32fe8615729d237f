-- Per-campaign circuit breaker thresholds, and a bound on the time spent posting to one campaign.
-- Both nullable: null means the exchange defaults (breaker) or only the post deadline (post).
alter table campaigns add column breaker jsonb;
alter table campaigns add column post_timeout_ms integer;
