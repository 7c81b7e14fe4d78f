-- 0003_gateway: what the REST gateway stores beside the engine's own log.
-- Profiles, restaurant details and menus in the seed API's shapes; the order as the customer
-- placed it (address, items with prices copied from the menu, payment method, tracking id);
-- UPI payment requests; and the results of POSTs made with an Idempotency-Key.

ALTER TABLE users
  ADD COLUMN address      jsonb,
  ADD COLUMN preferences  jsonb;

ALTER TABLE restaurants
  ADD COLUMN description      text,
  ADD COLUMN address          jsonb NOT NULL DEFAULT '{}',
  ADD COLUMN cuisine_types    text[] NOT NULL DEFAULT '{}',
  ADD COLUMN operating_hours  jsonb,
  ADD COLUMN contact          jsonb;

ALTER TABLE menu_items
  ADD COLUMN category          text NOT NULL DEFAULT '',
  ADD COLUMN image_url         text,
  ADD COLUMN preparation_time  integer,
  ADD COLUMN dietary_info      text[] NOT NULL DEFAULT '{}';

ALTER TABLE riders
  ADD COLUMN license_number  text,
  ADD COLUMN documents       jsonb NOT NULL DEFAULT '{}';

ALTER TABLE orders
  ADD COLUMN delivery_address       jsonb,
  ADD COLUMN payment_method         text NOT NULL DEFAULT 'UPI' CHECK (payment_method IN ('UPI', 'CASH')),
  ADD COLUMN payer_vpa              text,
  ADD COLUMN tracking_id            text,
  ADD COLUMN estimated_delivery_at  timestamptz;
-- Customers and support look an order up by its tracking id.
CREATE UNIQUE INDEX orders_tracking_key ON orders (tracking_id) WHERE tracking_id IS NOT NULL;

ALTER TABLE order_items
  ADD COLUMN special_instructions  text;

ALTER TABLE payments
  ADD COLUMN customer_id     text,
  ADD COLUMN transaction_id  text,
  ADD COLUMN payer_vpa       text,
  ADD COLUMN payment_url     text,
  ADD COLUMN expires_at      timestamptz;
-- The reference (tr) of the UPI link: the gateway's callbacks name it.
CREATE UNIQUE INDEX payments_transaction_key ON payments (transaction_id) WHERE transaction_id IS NOT NULL;
-- At most one live payment request per order: a second POST /payments for it is refused.
CREATE UNIQUE INDEX payments_one_open_per_order ON payments (order_id) WHERE status IN ('created', 'pending', 'captured');

-- POST results by (caller, Idempotency-Key): a retry gets the first answer, never a second order or payment.
CREATE TABLE idempotency_keys (
  principal      text NOT NULL,
  key            text NOT NULL,
  route          text NOT NULL,
  request_hash   text NOT NULL,                -- sha256 of method, path and body: the same key with another request is refused
  status         integer NOT NULL,
  response       jsonb NOT NULL,
  created_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (principal, key)
);
-- Pruning keys older than the retention (24 h by default).
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);

-- "Restaurants near me": a bounding box on coordinates, then exact distance in the application.
CREATE INDEX restaurants_lat_lng_idx ON restaurants (lat, lng);
