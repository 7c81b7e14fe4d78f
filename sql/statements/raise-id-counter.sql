-- raise-id-counter: records the engine's id counter, only ever raising it (batches may land out of order).
-- $1 the counter.
INSERT INTO engine_meta (key, value) VALUES ('id_counter', $1)
ON CONFLICT (key) DO UPDATE SET value = greatest(engine_meta.value, excluded.value)
