-- Buyer returns (PROTOCOL section 7) and the money ledger.

-- One return per sale, ever: a denied return is not asked again.
create table returns (
  id            text primary key,
  sale_id       text not null unique references sales (id),
  lead_id       text not null references leads (id),
  buyer_id      text not null references buyers (id),
  affiliate_id  text not null references affiliates (id),
  campaign_id   text not null references campaigns (id),
  reason        text not null,
  detail        text,
  status        text not null,
  -- Copied from the sale: what an approval credits the buyer and claws back from the affiliate.
  price_cents   bigint not null,
  payout_cents  bigint not null,
  -- Set when the exchange approved a duplicate on its own records: which record proved it.
  proof         jsonb,
  decided_by    text,
  note          text,
  created_at    timestamptz not null default now(),
  decided_at    timestamptz,
  check (status in ('pending', 'approved', 'denied')),
  check (reason in ('duplicate', 'invalid_contact', 'fraud', 'other'))
);
create index returns_status on returns (status, id);
create index returns_buyer on returns (buyer_id, id);

-- Every movement of money, signed from the account holder's side: a buyer's sale is negative,
-- its return credit positive; an affiliate's payout is positive, its clawback negative.
-- Rows are only ever added; a correction is a new row.
create table ledger (
  id            bigserial primary key,
  at            timestamptz not null default now(),
  account_type  text not null,
  account_id    text not null,
  amount_cents  bigint not null,
  kind          text not null,
  sale_id       text,
  return_id     text,
  check (account_type in ('buyer', 'affiliate'))
);
create index ledger_account on ledger (account_type, account_id, id);
create index ledger_sale on ledger (sale_id) where sale_id is not null;
-- A return moves each kind of money at most once, whatever retries or races do.
create unique index ledger_return_once on ledger (return_id, kind) where return_id is not null;

create function ledger_is_append_only() returns trigger language plpgsql as $$
begin
  raise exception 'the ledger is append-only: % of ledger rows is not allowed', tg_op;
end
$$;
create trigger ledger_append_only before update or delete on ledger
  for each row execute function ledger_is_append_only();
