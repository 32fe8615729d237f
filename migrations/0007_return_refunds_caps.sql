-- A campaign may choose to get back the cap usage of a sale whose return was approved.
alter table campaigns add column return_refunds_caps boolean not null default false;
