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
-- Both inserts take their row locks in key order, so overlapping batches do not deadlock.
-- Parameters, one array element per event: $1 aggregate text[], $2 aggregate id text[], $3 seq
-- int[], $4 type text[], $5 at (engine epoch ms) float8[], $6 the event as JSON text[]; one element
-- per actor: $7 aggregate text[], $8 aggregate id text[], $9 seq int[], $10 live bool[],
-- $11 ended_at (engine ms, 0 while live) float8[], $12 the row as JSON text[]; $13 the id counter;
-- again one element per actor (null for riders and restaurants): $14 the order's seed status
-- text[], $15 its rider id text[]; $16 the partition of a fenced batch (null unfenced), stamped on the
-- state rows it moves forward (sql/0009_state_partition.sql).
-- Answers n: how many events were new.
WITH ins AS (
  INSERT INTO engine_events (aggregate, aggregate_id, seq, type, at, body)
  SELECT a, i, s, ty, to_timestamp(ms / 1000.0), b::json
  FROM unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::float8[], $6::text[]) AS u(a, i, s, ty, ms, b)
  ORDER BY a, i, s
  ON CONFLICT DO NOTHING
  RETURNING 1
), state AS (
  INSERT INTO engine_state (aggregate, aggregate_id, seq, live, ended_at, row, partition)
  SELECT a, i, s, l, e::bigint, r::json, $16::text
  FROM unnest($7::text[], $8::text[], $9::int[], $10::bool[], $11::float8[], $12::text[]) AS u(a, i, s, l, e, r)
  ORDER BY a, i
  ON CONFLICT (aggregate, aggregate_id) DO UPDATE
    SET seq = excluded.seq, live = excluded.live, ended_at = excluded.ended_at, row = excluded.row,
        partition = excluded.partition
    WHERE engine_state.seq < excluded.seq
  RETURNING aggregate, aggregate_id, seq
), meta AS (
  INSERT INTO engine_meta (key, value)
  SELECT 'id_counter', $13::bigint WHERE $13::bigint > 0
  ON CONFLICT (key) DO UPDATE SET value = greatest(engine_meta.value, excluded.value)
  RETURNING 1
), ord AS (
  UPDATE orders o SET seed_status = u.w, rider_id = u.r, status_seq = state.seq
  FROM state JOIN unnest($7::text[], $8::text[], $14::text[], $15::text[]) AS u(a, i, w, r)
    ON u.a = state.aggregate AND u.i = state.aggregate_id
  WHERE state.aggregate = 'order' AND u.w IS NOT NULL AND o.id = state.aggregate_id AND o.status_seq < state.seq
  RETURNING 1
), refund AS (
  INSERT INTO refunds (id, payment_id, order_id, idempotency_key, amount_paise, reason, status)
  SELECT gen_random_uuid()::text, p.id, p.order_id, 'refund-' || p.id, p.amount_paise,
         'order_' || (u.b::json->>'reason'), 'requested'
  FROM unnest($1::text[], $2::text[], $4::text[], $6::text[]) AS u(a, i, ty, b)
  JOIN payments p ON p.order_id = u.i AND p.status = 'captured'
  WHERE u.a = 'order' AND u.ty = 'order_cancelled' AND (u.b::json->>'refundDue')::boolean
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
SELECT count(*)::int AS n FROM ins
