-- Budgets: a buyer without a balance is not budgeted; setting a balance starts a new budget
-- epoch, so spending (counted in the store per epoch) counts again from the new balance.
alter table buyers alter column balance_cents drop not null;
alter table buyers alter column balance_cents drop default;
alter table buyers add column budget_epoch integer not null default 0;
