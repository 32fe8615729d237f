-- The timeline is written a chunk at a time: the events of one lead that one audit batch carries
-- (a direct auction's whole timeline is usually one chunk) share one row. A row per event cost
-- Postgres more than anything else the exchange asks of it: ~16 events per auction, each a heap
-- tuple, two index entries and a sequence value. `events` stays as a view, one row per event.
create table event_chunks (
  id       bigserial primary key,
  lead_id  text not null,
  -- [{ "at": epoch ms, "type", "campaign_id", "detail" }, ...] in recorded order. json, not
  -- jsonb: stored as sent, with no conversion on the write path; reads convert what they read.
  events   json not null
);
create index event_chunks_lead on event_chunks (lead_id, id);

insert into event_chunks (lead_id, events)
select lead_id,
       json_agg(json_build_object('at', round(extract(epoch from at) * 1000), 'type', type, 'campaign_id', campaign_id, 'detail', detail) order by id)
from events
group by lead_id
order by min(id);

drop table events;

-- One row per event, ordered by id as the table was: a chunk's events follow its id, in order.
create view events as
select (c.id << 16) + e.n as id,
       c.lead_id,
       to_timestamp((e.event ->> 'at')::double precision / 1000) as at,
       e.event ->> 'type' as type,
       e.event ->> 'campaign_id' as campaign_id,
       coalesce((e.event -> 'detail')::jsonb, '{}'::jsonb) as detail
from event_chunks c
cross join lateral json_array_elements(c.events) with ordinality as e(event, n);

-- A row per ping answer (bids) duplicated the campaign.pinged event, and was read only to count a
-- campaign's pings and bids of the day for the operator's status view. Those counts are kept per
-- campaign and quarter of an hour instead (every timezone's offset is a whole number of quarter
-- hours, so a local day is a whole number of buckets), added to by each audit batch.
create table campaign_activity (
  campaign_id  text not null,
  bucket       timestamptz not null,
  pings        bigint not null default 0,
  bids         bigint not null default 0,
  primary key (campaign_id, bucket)
);

insert into campaign_activity (campaign_id, bucket, pings, bids)
select campaign_id, date_bin('15 minutes', created_at, timestamptz '1970-01-01 00:00:00+00'), count(*), count(amount_cents)
from bids
group by 1, 2;

drop table bids;
