-- read-since: up to $2 events stored after log position $1, in log order (engine_events_pos_key).
SELECT pos, body FROM engine_events WHERE pos > $1 ORDER BY pos LIMIT $2
