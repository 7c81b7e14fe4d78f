-- 0005_order_status: the seed status word of each order (protocol/rest/order-status.ts) and its
-- rider, kept on the order row so `GET /orders?status=` pages in SQL on an index.
-- seed_status: the word REST shows (placed, confirmed, preparing, ready, in_transit, delivered,
--   cancelled). The write-behind sets it with each batch (sql/statements/append-batch.sql), only
--   forward by the order's event seq (status_seq); placing an order sets it from the live engine.
-- rider_id: now kept current the same way (the order's rider, null while none), so a rider's
--   history filters on the row instead of the engine's JSON state.
ALTER TABLE orders
  ADD COLUMN seed_status  text NOT NULL DEFAULT 'placed'
    CHECK (seed_status IN ('placed', 'confirmed', 'preparing', 'ready', 'in_transit', 'delivered', 'cancelled')),
  ADD COLUMN status_seq   integer NOT NULL DEFAULT 0;

-- Backfill, once: the same mapping as seedStatus(), from the stored engine state where there is
-- one and from the final state copied into `status` where retention pruned it.
WITH cur AS (
  SELECT o.id,
         COALESCE(s.seq, 0) AS seq,
         COALESCE(CASE json_typeof(s.row->'value')
                    WHEN 'string' THEN s.row->>'value'
                    WHEN 'object' THEN (SELECT k || '.' || (s.row->'value'->>k) FROM json_object_keys(s.row->'value') k LIMIT 1)
                  END, o.status) AS state,
         COALESCE((s.row->'context'->>'foodReady')::boolean, false) AS food_ready,
         COALESCE(s.row->'context'->>'riderId', o.rider_id) AS rider
  FROM orders o LEFT JOIN engine_state s ON s.aggregate = 'order' AND s.aggregate_id = o.id
)
UPDATE orders o SET
  status_seq = cur.seq,
  rider_id = cur.rider,
  seed_status = CASE
    WHEN cur.food_ready AND cur.state IN ('preparing', 'dispatching.searching', 'dispatching.offered', 'assigned') THEN 'ready'
    WHEN cur.state = 'preparing' THEN 'confirmed'
    WHEN cur.state IN ('dispatching.searching', 'dispatching.offered', 'assigned') THEN 'preparing'
    WHEN cur.state = 'picked_up' THEN 'in_transit'
    WHEN cur.state IN ('delivered', 'cancelled') THEN cur.state
    ELSE 'placed'
  END
FROM cur WHERE cur.id = o.id;

-- A customer's, a restaurant's and a rider's orders in one status, newest first (the list's order).
CREATE INDEX orders_customer_status_idx ON orders (customer_id, seed_status, placed_at DESC, id);
CREATE INDEX orders_restaurant_status_idx ON orders (restaurant_id, seed_status, placed_at DESC, id);
CREATE INDEX orders_rider_status_idx ON orders (rider_id, seed_status, placed_at DESC, id) WHERE rider_id IS NOT NULL;
-- An admin's list of every order in one status.
CREATE INDEX orders_status_idx ON orders (seed_status, placed_at DESC, id);
