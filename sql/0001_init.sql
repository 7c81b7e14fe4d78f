-- 0001_init: the product's tables of record.
-- Users, restaurants and menus, riders (documents; bank details encrypted at rest by the
-- application with AES-256-GCM under ENCRYPTION_KEY, stored as bytea, never in clear), orders
-- and their items, the sampled rider position trail, payments and refunds, the webhook inbox and
-- the outbox (written in the same transaction as the money change they belong to), chat messages
-- and push tokens. Ids are text: UUIDs or the engine's slugs (protocol/ids.ts).
-- Every index names the query it serves.

CREATE TABLE users (
  id             text PRIMARY KEY,            -- Firebase uid
  role           text NOT NULL CHECK (role IN ('customer', 'restaurant', 'rider', 'admin')),
  email          text,
  phone          text,
  display_name   text,
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now()
);
-- Sign-in lookups and the roles command find users by email or phone.
CREATE UNIQUE INDEX users_email_key ON users (lower(email)) WHERE email IS NOT NULL;
CREATE UNIQUE INDEX users_phone_key ON users (phone) WHERE phone IS NOT NULL;

CREATE TABLE restaurants (
  id             text PRIMARY KEY,
  owner_user_id  text REFERENCES users (id),
  name           text NOT NULL,
  lat            double precision NOT NULL,
  lng            double precision NOT NULL,
  h3_cell        text NOT NULL,               -- resolution of engine config indexResolution
  prep_minutes   real NOT NULL CHECK (prep_minutes > 0),
  capacity       integer NOT NULL CHECK (capacity >= 1),
  status         text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'busy', 'closed')),
  created_at     timestamptz NOT NULL DEFAULT now()
);
-- "Restaurants near me": candidates by cell, then distance in the application.
CREATE INDEX restaurants_h3_cell_idx ON restaurants (h3_cell);
-- A restaurant user sees its own restaurants.
CREATE INDEX restaurants_owner_idx ON restaurants (owner_user_id);

CREATE TABLE menu_items (
  id             text PRIMARY KEY,
  restaurant_id  text NOT NULL REFERENCES restaurants (id) ON DELETE CASCADE,
  name           text NOT NULL,
  description    text,
  price_paise    integer NOT NULL CHECK (price_paise >= 0),
  available      boolean NOT NULL DEFAULT true,
  position       integer NOT NULL DEFAULT 0
);
-- The menu of one restaurant, in display order.
CREATE INDEX menu_items_restaurant_idx ON menu_items (restaurant_id, position);

CREATE TABLE riders (
  id               text PRIMARY KEY,
  user_id          text REFERENCES users (id),
  name             text NOT NULL,
  phone            text,
  vehicle          text,
  capacity         integer NOT NULL DEFAULT 1 CHECK (capacity BETWEEN 1 AND 8),
  -- AES-256-GCM: version byte || 12-byte IV || ciphertext || 16-byte tag (adapters/crypto/field-cipher.ts).
  bank_details_enc bytea,
  created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX riders_user_key ON riders (user_id) WHERE user_id IS NOT NULL;

CREATE TABLE rider_documents (
  id             bigserial PRIMARY KEY,
  rider_id       text NOT NULL REFERENCES riders (id) ON DELETE CASCADE,
  kind           text NOT NULL,               -- licence, id_proof, vehicle_rc...
  storage_url    text NOT NULL,
  status         text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'verified', 'rejected')),
  expires_on     date,
  uploaded_at    timestamptz NOT NULL DEFAULT now()
);
-- A rider's documents; the verification queue (pending first, oldest first).
CREATE INDEX rider_documents_rider_idx ON rider_documents (rider_id);
CREATE INDEX rider_documents_pending_idx ON rider_documents (uploaded_at) WHERE status = 'pending';

CREATE TABLE orders (
  id             text PRIMARY KEY,
  customer_id    text NOT NULL,
  restaurant_id  text NOT NULL,
  rider_id       text,
  status         text NOT NULL,               -- the engine's order state
  drop_lat       double precision NOT NULL,
  drop_lng       double precision NOT NULL,
  total_paise    integer NOT NULL DEFAULT 0 CHECK (total_paise >= 0),
  placed_at      timestamptz NOT NULL,
  ended_at       timestamptz
);
-- Order history of a customer, of a restaurant and of a rider, newest first.
CREATE INDEX orders_customer_idx ON orders (customer_id, placed_at DESC);
CREATE INDEX orders_restaurant_idx ON orders (restaurant_id, placed_at DESC);
CREATE INDEX orders_rider_idx ON orders (rider_id, placed_at DESC) WHERE rider_id IS NOT NULL;
-- Live orders (operators' console).
CREATE INDEX orders_live_idx ON orders (placed_at) WHERE ended_at IS NULL;

CREATE TABLE order_items (
  order_id       text NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
  line           integer NOT NULL,
  menu_item_id   text NOT NULL,
  name           text NOT NULL,               -- copied: the menu may change after the order
  unit_paise     integer NOT NULL CHECK (unit_paise >= 0),
  quantity       integer NOT NULL CHECK (quantity >= 1),
  PRIMARY KEY (order_id, line)
);

-- Sampled, not every fix: the engine keeps positions in memory; the trail is for disputes and replay.
CREATE TABLE rider_positions (
  rider_id       text NOT NULL,
  at             timestamptz NOT NULL,
  lat            double precision NOT NULL,
  lng            double precision NOT NULL,
  accuracy_m     real,
  heading        real,
  speed_mps      real,
  PRIMARY KEY (rider_id, at)                   -- a rider's trail over a time range
);
-- Pruning old samples.
CREATE INDEX rider_positions_at_brin ON rider_positions USING brin (at);

CREATE TABLE payments (
  id             text PRIMARY KEY,             -- ours; sent to the gateway as its reference
  order_id       text NOT NULL,
  gateway        text NOT NULL,
  gateway_ref    text,                         -- the gateway's payment id, once known
  amount_paise   integer NOT NULL CHECK (amount_paise > 0),
  status         text NOT NULL CHECK (status IN ('created', 'pending', 'captured', 'failed', 'expired')),
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX payments_order_idx ON payments (order_id);
CREATE UNIQUE INDEX payments_gateway_ref_key ON payments (gateway, gateway_ref) WHERE gateway_ref IS NOT NULL;
-- Reconciliation: payments stuck in pending, oldest first.
CREATE INDEX payments_stuck_idx ON payments (updated_at) WHERE status IN ('created', 'pending');

CREATE TABLE refunds (
  id               text PRIMARY KEY,
  payment_id       text NOT NULL REFERENCES payments (id),
  idempotency_key  text NOT NULL UNIQUE,        -- sent as X-Refund-Idempotency: one refund per key, whatever is retried
  amount_paise     integer NOT NULL CHECK (amount_paise > 0),
  reason           text NOT NULL,
  status           text NOT NULL CHECK (status IN ('requested', 'pending', 'processed', 'failed')),
  gateway_ref      text,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX refunds_payment_idx ON refunds (payment_id);
CREATE INDEX refunds_stuck_idx ON refunds (updated_at) WHERE status IN ('requested', 'pending');

-- Gateway webhooks, inserted in the same transaction as the change they cause: a redelivery hits the key and changes nothing.
CREATE TABLE webhook_inbox (
  gateway        text NOT NULL,
  event_id       text NOT NULL,
  event_type     text NOT NULL,
  payload        jsonb NOT NULL,
  received_at    timestamptz NOT NULL DEFAULT now(),
  processed_at   timestamptz,
  PRIMARY KEY (gateway, event_id)
);
CREATE INDEX webhook_inbox_unprocessed_idx ON webhook_inbox (received_at) WHERE processed_at IS NULL;

-- Calls to make to the outside world (gateway requests, pushes), written with the state change and relayed after commit.
CREATE TABLE outbox (
  id             bigserial PRIMARY KEY,
  topic          text NOT NULL,
  key            text NOT NULL UNIQUE,         -- idempotency key of the call
  payload        jsonb NOT NULL,
  created_at     timestamptz NOT NULL DEFAULT now(),
  attempts       integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  sent_at        timestamptz
);
-- The relay's poll: unsent rows due now, in order.
CREATE INDEX outbox_due_idx ON outbox (next_attempt_at, id) WHERE sent_at IS NULL;

CREATE TABLE chat_messages (
  id             bigserial PRIMARY KEY,
  order_id       text NOT NULL,
  sender_id      text NOT NULL,
  sender_role    text NOT NULL CHECK (sender_role IN ('customer', 'restaurant', 'rider', 'admin', 'system')),
  body           text NOT NULL CHECK (length(body) <= 2000),
  client_msg_id  text,                        -- dedupes a client's resend
  sent_at        timestamptz NOT NULL DEFAULT now()
);
-- The conversation of one order, in order.
CREATE INDEX chat_messages_order_idx ON chat_messages (order_id, id);
CREATE UNIQUE INDEX chat_messages_client_key ON chat_messages (sender_id, client_msg_id) WHERE client_msg_id IS NOT NULL;

CREATE TABLE push_tokens (
  token          text PRIMARY KEY,
  user_id        text NOT NULL,
  platform       text NOT NULL CHECK (platform IN ('android', 'ios', 'web')),
  created_at     timestamptz NOT NULL DEFAULT now(),
  last_seen_at   timestamptz NOT NULL DEFAULT now()
);
-- Pushes go to every token of a user; stale tokens are pruned by last use.
CREATE INDEX push_tokens_user_idx ON push_tokens (user_id);
CREATE INDEX push_tokens_last_seen_idx ON push_tokens (last_seen_at);
