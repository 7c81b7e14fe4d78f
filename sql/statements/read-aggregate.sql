-- read-aggregate: the events of one actor after a seq, in order (served by the primary key).
-- $1 aggregate, $2 aggregate id, $3 after seq.
SELECT body FROM engine_events WHERE aggregate = $1 AND aggregate_id = $2 AND seq > $3 ORDER BY seq
