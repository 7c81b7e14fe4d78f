-- 0004_money: payments through a gateway, refunds followed to their end.
-- payments.captured_at: when the capture was recorded (the settlement report's day).
-- payments.gateway_order_id: the gateway's payment order (Razorpay `order_...`), made by POST /payments;
--   webhooks and reconciliation find the payment by it.
-- refunds: the order they give money back for, when the gateway accepted them and when they ended,
--   and why an operator must look (status 'failed': rejected by the gateway, or refund.failed).
-- outbox.last_error: the relay's latest failure, for operators.
-- A refund row is written with its outbox row in the statement that stores the order's
-- cancellation event (sql/statements/append-batch.sql), or by the webhook or reconciliation when a
-- capture lands after the cancellation; its key `refund-<payment id>` makes all of them one refund.

ALTER TABLE payments
  ADD COLUMN gateway_order_id  text,
  ADD COLUMN captured_at       timestamptz;
CREATE UNIQUE INDEX payments_gateway_order_key ON payments (gateway_order_id) WHERE gateway_order_id IS NOT NULL;

ALTER TABLE refunds
  ADD COLUMN order_id     text,
  ADD COLUMN accepted_at  timestamptz,
  ADD COLUMN settled_at   timestamptz,
  ADD COLUMN failure      text;
-- Showing an order's refund (GET /orders/{id}); the settlement report per restaurant.
CREATE INDEX refunds_order_idx ON refunds (order_id);
-- Reconciliation's scan for captured payments of cancelled orders without a refund, recent ones only.
CREATE INDEX payments_captured_idx ON payments (captured_at) WHERE status = 'captured';
-- The refund a gateway webhook names.
CREATE UNIQUE INDEX refunds_gateway_ref_key ON refunds (gateway_ref) WHERE gateway_ref IS NOT NULL;

ALTER TABLE outbox
  ADD COLUMN last_error  text;
