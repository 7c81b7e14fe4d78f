-- 0004_push: push tokens per party, the at-most-once record of pushes, and stored notifications.
-- push_tokens gains the party a token pushes for (`customer:<id>`, `restaurant:<id>`, `rider:<id>`: a
--   restaurant's staff all hear its orders) and the app version; a token is one device, so
--   registering it again (another user on that device) moves it.
-- push_sends: one row per (notification, token), inserted before the send under the primary key,
--   so a push is sent at most once across retries and restarts. state: claimed (sending; a crash
--   here loses the push rather than repeating it), sent, retry (FCM said try later: may be claimed
--   again), dropped (token deleted), failed.
-- notifications: what each party was told, for `GET /notifications?since=`; the id is the one
--   the push and the stream message carry.

ALTER TABLE push_tokens
  ADD COLUMN party        text NOT NULL DEFAULT '',
  ADD COLUMN app_version  text;
CREATE INDEX push_tokens_party_idx ON push_tokens (party);

CREATE TABLE push_sends (
  notification_id  text NOT NULL,
  token            text NOT NULL,
  state            text NOT NULL CHECK (state IN ('claimed', 'sent', 'retry', 'dropped', 'failed')),
  attempts         integer NOT NULL DEFAULT 1,
  detail           text,
  updated_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (notification_id, token)
);

CREATE TABLE notifications (
  pos              bigserial,
  id               text PRIMARY KEY,
  party            text NOT NULL,
  order_id         text,
  kind             text NOT NULL,
  title            text NOT NULL,
  body             text NOT NULL,
  data             jsonb NOT NULL,
  created_at       timestamptz NOT NULL DEFAULT now()
);
-- A party's notifications in the order they were stored (`since` pages on pos).
CREATE INDEX notifications_party_idx ON notifications (party, pos);

-- Chat per order has two conversations: the customer with the rider, the customer with the restaurant.
ALTER TABLE chat_messages ADD COLUMN channel text NOT NULL DEFAULT 'rider' CHECK (channel IN ('rider', 'restaurant'));
CREATE INDEX chat_messages_channel_idx ON chat_messages (order_id, channel, id);
