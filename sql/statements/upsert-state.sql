-- upsert-state: stores the latest state row of each actor in a batch, only forward: a stored row
-- with a higher or equal seq is kept (a late or repeated batch changes nothing).
-- The caller passes at most one row per actor. Parameters, one element per actor: $1 aggregate
-- text[], $2 aggregate id text[], $3 seq int[], $4 live bool[], $5 ended_at (engine ms, 0 while
-- live) float8[], $6 the row as JSON text[].
INSERT INTO engine_state (aggregate, aggregate_id, seq, live, ended_at, row)
SELECT a, i, s, l, e::bigint, r::json
FROM unnest($1::text[], $2::text[], $3::int[], $4::bool[], $5::float8[], $6::text[]) AS u(a, i, s, l, e, r)
ORDER BY a, i  -- one lock order for every batch: overlapping batches do not deadlock
ON CONFLICT (aggregate, aggregate_id) DO UPDATE
  SET seq = excluded.seq, live = excluded.live, ended_at = excluded.ended_at, row = excluded.row
  WHERE engine_state.seq < excluded.seq
