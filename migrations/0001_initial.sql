-- leadex initial schema. Money is stored in integer cents; the API speaks decimal dollars.
-- Personal data (contact, consent) lives only in leads.

create table verticals (
  key             text primary key,
  fields          jsonb not null,
  max_shared      integer not null default 3,
  exclusive_days  integer not null default 30,
  duplicate_days  integer not null default 30,
  created_at      timestamptz not null default now(),
  updated_at      timestamptz not null default now()
);

create table affiliates (
  id            text primary key,
  name          text not null,
  payout        jsonb not null,
  status        text not null default 'active',
  api_key_hash  text not null unique,
  created_at    timestamptz not null default now(),
  updated_at    timestamptz not null default now()
);

create table buyers (
  id                  text primary key,
  name                text not null,
  balance_cents       bigint not null default 0,
  credit_limit_cents  bigint not null default 0,
  status              text not null default 'active',
  api_key_hash        text not null unique,
  created_at          timestamptz not null default now(),
  updated_at          timestamptz not null default now()
);

create table campaigns (
  id              text primary key,
  buyer_id        text not null references buyers (id),
  name            text not null,
  vertical        text not null references verticals (key),
  mode            text not null,
  pricing         jsonb not null,
  ping_url        text,
  post_url        text not null,
  headers         jsonb not null default '{}',
  timeout_ms      integer not null default 500,
  filters         jsonb,
  schedule        jsonb,
  caps            jsonb not null default '[]',
  max_per_minute  integer,
  dedupe_days     integer not null default 30,
  priority        integer not null default 0,
  weight          double precision not null default 1,
  status          text not null default 'active',
  signing_secret  text not null,
  created_at      timestamptz not null default now(),
  updated_at      timestamptz not null default now()
);
create index campaigns_vertical on campaigns (vertical) where status <> 'deleted';
create index campaigns_buyer on campaigns (buyer_id);

create table leads (
  id                text primary key,
  affiliate_id      text not null references affiliates (id),
  vertical          text not null,
  ping_id           text not null,
  data              jsonb not null,
  contact           jsonb not null,
  consent           jsonb not null,
  source            jsonb not null default '{}',
  email_sha256      text,
  phone_sha256      text,
  status            text not null,
  mode              text,
  reasons           jsonb not null default '[]',
  price_cents       bigint not null default 0,
  payout_cents      bigint not null default 0,
  min_payout_cents  bigint,
  idempotency_key   text,
  request_hash      text,
  response          jsonb not null,
  created_at        timestamptz not null default now()
);
create unique index leads_idempotency on leads (affiliate_id, idempotency_key) where idempotency_key is not null;
create index leads_affiliate_created on leads (affiliate_id, created_at);
create index leads_email on leads (email_sha256, created_at) where email_sha256 is not null;
create index leads_phone on leads (phone_sha256, created_at) where phone_sha256 is not null;
create index leads_ping on leads (ping_id);

-- Two-phase pings: written with the audit batch so the hot path does not wait on them.
create table pings (
  id                text primary key,
  lead_id           text not null,
  affiliate_id      text not null,
  vertical          text not null,
  data              jsonb not null,
  email_sha256      text,
  phone_sha256      text,
  min_payout_cents  bigint,
  status            text not null,
  mode              text,
  payout_cents      bigint,
  expires_at        timestamptz,
  created_at        timestamptz not null default now()
);

create table sales (
  id             text primary key,
  lead_id        text not null references leads (id),
  campaign_id    text not null references campaigns (id),
  buyer_id       text not null references buyers (id),
  affiliate_id   text not null references affiliates (id),
  vertical       text not null,
  mode           text not null,
  price_cents    bigint not null,
  payout_cents   bigint not null,
  bid_id         text,
  buyer_lead_id  text,
  redirect_url   text,
  email_sha256   text,
  phone_sha256   text,
  created_at     timestamptz not null default now(),
  unique (lead_id, buyer_id)
);
create index sales_campaign_created on sales (campaign_id, created_at);
create index sales_buyer_email on sales (buyer_id, email_sha256, created_at) where email_sha256 is not null;
create index sales_buyer_phone on sales (buyer_id, phone_sha256, created_at) where phone_sha256 is not null;

-- Every bid answer (or its absence), one row per campaign pinged or priced.
create table bids (
  id            bigserial primary key,
  ping_id       text not null,
  lead_id       text not null,
  campaign_id   text not null,
  buyer_id      text not null,
  amount_cents  bigint,
  bid_id        text,
  outcome       text not null,
  reason        text,
  latency_ms    integer,
  created_at    timestamptz not null
);
create index bids_ping on bids (ping_id);
create index bids_campaign_created on bids (campaign_id, created_at);

-- The per-lead timeline: every decision, to the millisecond.
create table events (
  id           bigserial primary key,
  lead_id      text not null,
  at           timestamptz not null,
  type         text not null,
  campaign_id  text,
  detail       jsonb not null default '{}'
);
create index events_lead on events (lead_id, id);
