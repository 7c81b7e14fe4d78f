-- fence-read: the stored fencing token of a partition (no row: never claimed).
-- Parameters: $1 partition text. Answers token.
SELECT token FROM partition_fence WHERE partition = $1
