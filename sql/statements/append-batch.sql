-- append-batch: stores one batch of engine events in one statement (one round trip, one implicit
-- transaction: the three writes commit together or not at all).
-- 1. The events, one multi-row insert, skipping any already stored: the key (aggregate,
--    aggregate_id, seq) makes a batch written twice insert nothing.
-- 2. The newest state row of each actor, only forward: a stored row with a higher or equal seq is
--    kept (a late or repeated batch changes nothing). The caller passes at most one row per actor.
-- 3. The engine's id counter, only ever raised (batches may land out of order); 0 leaves it.
-- 4. The seed status word and rider of each order whose state row moved forward, copied to its
--    orders row (sql/0005_order_status.sql), again only forward by seq. Driven by step 2's rows, so
--    a batch locks an order's state row before its orders row, in key order as step 2 does.
-- 5. The refunds: every stored order_cancelled event with refundDue whose order has a captured
--    payment gets one refund row and its outbox row (the transactional outbox: they commit with the
--    durable record of the cancellation, or not at all). The key `refund-<payment id>` makes a batch
--    written twice, and a capture webhook that asks too, one refund.
-- 0. A fenced batch (a partition's owner: docs/scale.md) first raises the partition's fencing token,
--    as sql/statements/fence-raise.sql does, holding its row lock to the end of the statement; a
--    token below the stored one admits nothing, and every step below then writes nothing. In one
--    statement, so a fenced batch costs one round trip, as an unfenced one does.
-- Both inserts take their row locks in key order, so overlapping batches do not deadlock.
-- Parameters: $1 the events as one JSON array of {a: aggregate, i: aggregate id, s: seq, ty: type,
-- ms: at (engine epoch ms), b: the event}; $2 the actors' rows as one JSON array of {a, i, s,
-- l: live, e: ended_at (engine ms, 0 while live), r: the row, w: the order's seed status (null for
-- riders and restaurants), rd: its rider id}, at most one per actor; $3 the id counter; $4 the
-- partition of a fenced batch (null unfenced), stamped on the state rows it moves forward
-- (sql/0009_state_partition.sql); $5 its fencing token (null unfenced).
-- One JSON document per set rather than a text[] of JSON texts: the client writes the batch in one
-- JSON.stringify and sends it unescaped (array literals escape every quote of every row), and
-- Postgres parses each body once either way.
-- Answers n: how many events were new; admitted: false when the fence refused the batch; stored:
-- the partition's token before this statement (for the refusal's message).
WITH fence AS (
  INSERT INTO partition_fence AS f (partition, token)
  SELECT $4::text, $5::bigint WHERE $4::text IS NOT NULL
  ON CONFLICT (partition) DO UPDATE SET token = excluded.token, raised_at = now()
    WHERE f.token <= excluded.token
  RETURNING token
), admitted AS (
  SELECT $4::text IS NULL OR EXISTS (SELECT 1 FROM fence) AS ok
), ev AS (
  SELECT * FROM json_to_recordset($1::json) AS u(a text, i text, s int, ty text, ms float8, b json)
  WHERE (SELECT ok FROM admitted)
), st AS (
  SELECT * FROM json_to_recordset($2::json) AS u(a text, i text, s int, l bool, e float8, r json, w text, rd text)
  WHERE (SELECT ok FROM admitted)
), ins AS (
  INSERT INTO engine_events (aggregate, aggregate_id, seq, type, at, body)
  SELECT a, i, s, ty, to_timestamp(ms / 1000.0), b
  FROM ev
  ORDER BY a, i, s
  ON CONFLICT DO NOTHING
  RETURNING 1
), state AS (
  INSERT INTO engine_state (aggregate, aggregate_id, seq, live, ended_at, row, partition)
  SELECT a, i, s, l, e::bigint, r, $4::text
  FROM st
  ORDER BY a, i
  ON CONFLICT (aggregate, aggregate_id) DO UPDATE
    SET seq = excluded.seq, live = excluded.live, ended_at = excluded.ended_at, row = excluded.row,
        partition = excluded.partition
    WHERE engine_state.seq < excluded.seq
  RETURNING aggregate, aggregate_id, seq
), meta AS (
  INSERT INTO engine_meta (key, value)
  SELECT 'id_counter', $3::bigint WHERE $3::bigint > 0 AND (SELECT ok FROM admitted)
  ON CONFLICT (key) DO UPDATE SET value = greatest(engine_meta.value, excluded.value)
  RETURNING 1
), ord AS (
  UPDATE orders o SET seed_status = u.w, rider_id = u.rd, status_seq = state.seq
  FROM state JOIN st AS u ON u.a = state.aggregate AND u.i = state.aggregate_id
  WHERE state.aggregate = 'order' AND u.w IS NOT NULL AND o.id = state.aggregate_id AND o.status_seq < state.seq
  RETURNING 1
), refund AS (
  INSERT INTO refunds (id, payment_id, order_id, idempotency_key, amount_paise, reason, status)
  SELECT gen_random_uuid()::text, p.id, p.order_id, 'refund-' || p.id, p.amount_paise,
         'order_' || (u.b->>'reason'), 'requested'
  FROM ev AS u
  JOIN payments p ON p.order_id = u.i AND p.status = 'captured'
  WHERE u.a = 'order' AND u.ty = 'order_cancelled' AND (u.b->>'refundDue')::boolean
  ON CONFLICT (idempotency_key) DO NOTHING
  RETURNING id, payment_id, order_id, idempotency_key, amount_paise, reason
), refund_outbox AS (
  INSERT INTO outbox (topic, key, payload)
  SELECT 'payment.refund', idempotency_key,
         jsonb_build_object('refund_id', id, 'payment_id', payment_id, 'order_id', order_id,
                            'amount_paise', amount_paise, 'reason', reason)
  FROM refund
  ON CONFLICT (key) DO NOTHING
  RETURNING 1
)
SELECT (SELECT count(*)::int FROM ins) AS n, (SELECT ok FROM admitted) AS admitted,
       (SELECT token FROM partition_fence WHERE partition = $4::text) AS stored
