-- A direct auction's timeline (about 2 KB of JSON) crosses the size at which Postgres compresses a
-- row, and its default compressor, pglz, was the single costliest function of Postgres's work at
-- full load (load/README.md, "Costs found in place"). lz4 does the same job several times faster.
-- Only new rows are affected; old ones keep reading as they were written. A server built without
-- lz4 (PGlite is one) keeps pglz.
do $$
begin
  alter table event_chunks alter column events set compression lz4;
exception when feature_not_supported then
  null;
end
$$;
