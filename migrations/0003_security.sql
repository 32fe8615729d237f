-- Personal data encrypted at rest: leads.contact and leads.consent now hold AES-256-GCM sealed
-- text (src/pii/cipher.ts) and pii_key_id names the key that sealed them, so keys can rotate.
-- Rows written before this migration keep their JSON text with a null key id; the exchange seals
-- them at its next start (LeadRepository.sealLegacyRows).
alter table leads alter column contact type text using contact::text;
alter table leads alter column consent type text using consent::text;
alter table leads add column pii_key_id text;
create index leads_unsealed on leads (id) where pii_key_id is null;

-- Per-affiliate rate limit on the lead endpoints; null means the configured default
-- (AFFILIATE_RATE_PER_S, AFFILIATE_RATE_BURST).
alter table affiliates add column rate_limit_per_s double precision check (rate_limit_per_s > 0);
alter table affiliates add column rate_limit_burst integer check (rate_limit_burst >= 1);
