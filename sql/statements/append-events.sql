-- append-events: appends a batch of engine events in one multi-row insert, skipping any already
-- stored: the key (aggregate, aggregate_id, seq) makes a batch written twice insert nothing.
-- Parameters, one array element per event: $1 aggregate text[], $2 aggregate id text[], $3 seq int[],
-- $4 type text[], $5 at (engine epoch ms) float8[], $6 the event as JSON text[].
-- Answers n: how many events were new.
WITH ins AS (
  INSERT INTO engine_events (aggregate, aggregate_id, seq, type, at, body)
  SELECT a, i, s, ty, to_timestamp(ms / 1000.0), b::json
  FROM unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::float8[], $6::text[]) AS u(a, i, s, ty, ms, b)
  ORDER BY a, i, s
  ON CONFLICT DO NOTHING
  RETURNING 1
)
SELECT count(*)::int AS n FROM ins
