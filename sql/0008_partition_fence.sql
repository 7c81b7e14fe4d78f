-- 0008_partition_fence: the fencing token of each partition (docs/scale.md). A partition's owner
--   holds a lease in NATS JetStream KV; the KV revision of the write that acquired it is its
--   token, higher for every later owner. Each fenced write first raises the stored token to its
--   own (sql/statements/fence-raise.sql) in the transaction of the write; a token below the stored
--   one is refused and the transaction writes nothing, so an owner paused past its lease cannot
--   write after a newer owner has. Rows are never deleted: a token only ever rises.

CREATE TABLE partition_fence (
  partition text PRIMARY KEY,
  token     bigint NOT NULL CHECK (token > 0),
  raised_at timestamptz NOT NULL DEFAULT now()
);
