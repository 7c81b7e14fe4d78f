-- 0007_admin_actions: every action an operator takes through the admin service, with who took it.
-- One row per call of an action method (ForceAssign, Reassign, CancelOrder, SetRestaurantStatus,
--   DrainShard, SetDispatchConfig), refused or not: the admin's Firebase uid and email, the
--   method, the request as sent, and the outcome (ok, or the error code and detail). `after`
--   holds what the action left (the dispatch settings after a change, a shard's drained flag);
--   the server replays the latest settings and drains from here when it starts.

CREATE TABLE admin_actions (
  id         bigserial PRIMARY KEY,
  at         timestamptz NOT NULL DEFAULT now(),
  admin_uid  text NOT NULL,
  admin_email text NOT NULL,
  method     text NOT NULL,
  request    json NOT NULL,
  ok         boolean NOT NULL,
  code       text,
  detail     text,
  after      json
);
CREATE INDEX admin_actions_method_idx ON admin_actions (method, id);
