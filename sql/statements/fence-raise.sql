-- fence-raise: admits a fenced write of a partition, in the write's transaction. Stores the token
-- when the partition has none, raises the stored token when this one is higher, keeps it when
-- equal (the same owner writing again); in each case answers one row and holds the row's lock to
-- the end of the transaction, so a newer owner's raise waits for a write already admitted. A token
-- below the stored one matches no row (the update's WHERE fails): the caller refuses the write.
-- Parameters: $1 partition text, $2 token bigint (the lease's KV revision). Answers token.
INSERT INTO partition_fence AS f (partition, token) VALUES ($1, $2)
ON CONFLICT (partition) DO UPDATE SET token = excluded.token, raised_at = now()
  WHERE f.token <= excluded.token
RETURNING token
