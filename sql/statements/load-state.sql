-- load-state: what recovery loads: every restaurant and rider, every live order, and orders that
-- ended at or after $1 (engine ms; older ones are past retention and stay only in storage).
SELECT aggregate, row FROM engine_state WHERE live
UNION ALL
SELECT aggregate, row FROM engine_state WHERE NOT live AND ended_at >= $1
