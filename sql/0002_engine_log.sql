-- 0002_engine_log: what the write-behind worker writes.
-- engine_events: the append-only log of every engine event, unique on (aggregate, aggregate_id, seq),
--   so a batch written twice inserts nothing the second time (INSERT ... ON CONFLICT DO NOTHING).
--   `pos` orders the whole log for readers that follow it ("all since").
-- order_events: the order part of that log, as the product reads it (unique on order id, sequence).
-- engine_state: the latest state of each actor (the engine's snapshot row after its latest event),
--   upserted only forward (a row with a lower seq never overwrites a higher one); recovery loads it.
-- engine_meta: small engine-wide values recovery needs (the seeded id counter), only ever raised.

CREATE TABLE engine_events (
  pos            bigserial,
  aggregate      text NOT NULL CHECK (aggregate IN ('order', 'rider', 'restaurant')),
  aggregate_id   text NOT NULL,
  seq            integer NOT NULL CHECK (seq >= 1),
  type           text NOT NULL,
  at             timestamptz NOT NULL,
  body           json NOT NULL,               -- json, not jsonb: read whole, queried by the columns above; cheaper to write
  PRIMARY KEY (aggregate, aggregate_id, seq)   -- the history of one actor, in order
);
-- Readers following the whole log.
CREATE UNIQUE INDEX engine_events_pos_key ON engine_events (pos);

CREATE VIEW order_events AS
  SELECT aggregate_id AS order_id, seq, type, at, body FROM engine_events WHERE aggregate = 'order';

CREATE TABLE engine_state (
  aggregate      text NOT NULL CHECK (aggregate IN ('order', 'rider', 'restaurant')),
  aggregate_id   text NOT NULL,
  seq            integer NOT NULL,
  live           boolean NOT NULL,             -- false once an order has ended
  ended_at       bigint NOT NULL DEFAULT 0,    -- engine ms; 0 while live
  row            json NOT NULL,               -- json, not jsonb: never queried inside, only loaded whole; cheaper to write
  PRIMARY KEY (aggregate, aggregate_id)
);
-- Recovery: every live actor, and orders ended within the retention window.
CREATE INDEX engine_state_ended_idx ON engine_state (ended_at) WHERE NOT live;

CREATE TABLE engine_meta (
  key            text PRIMARY KEY,
  value          bigint NOT NULL
);
