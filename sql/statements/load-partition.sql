-- load-partition: what rebuilding one partition loads (docs/scale.md, "Rebuilding one partition"):
-- the rows whose latest state its owners wrote (stamped with it), and the rows no owner has
-- stamped (written by a single-process server), for the partition map to assign; of each, every
-- restaurant and rider, every live order, and orders that ended at or after $1 (engine ms).
-- $2 the partition. Answers aggregate, row, and whether the row is stamped with the partition.
SELECT aggregate, row, partition IS NOT NULL AS stamped FROM engine_state
WHERE live AND (partition = $2 OR partition IS NULL)
UNION ALL
SELECT aggregate, row, partition IS NOT NULL AS stamped FROM engine_state
WHERE NOT live AND ended_at >= $1 AND (partition = $2 OR partition IS NULL)
