-- 0009_state_partition: the partition whose owner wrote each actor's latest state (docs/scale.md,
--   "Rebuilding one partition"). A fenced batch (one partition's owner) stamps the rows it moves
--   forward; an unfenced one (the single-process server) leaves null. A new owner rebuilds from
--   the rows stamped with its partition, plus the unstamped ones its partition map assigns to it,
--   so a rider stays with the partition that last wrote it until it is handed over.

ALTER TABLE engine_state ADD COLUMN partition text;
CREATE INDEX engine_state_partition_idx ON engine_state (partition);
