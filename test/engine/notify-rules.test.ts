/**
 * Who is told what (engine/notify-rules.ts) and who may chat
 * (engine/chat-rules.ts), from engine events of a simulated city: pure, no I/O.
 */
import fc from 'fast-check';
import t from 'tap';
import { chatAccess, checkChatBody, ChatLimits } from '../../engine/chat-rules.js';
import { noticesFor, refundNotice, remindersDue, type OrderFacts } from '../../engine/notify-rules.js';
import type { CustomerId, OrderId, Principal, RestaurantId, RiderId } from '../../protocol/index.js';
import { cust, world } from './world.js';

const facts = (w: ReturnType<typeof world>, id: OrderId): OrderFacts => {
  const v = w.engine.getOrder(id);
  if (!v.ok) throw new Error(v.detail);
  return {
    id,
    customerId: v.value.customerId,
    restaurantId: v.value.restaurantId,
    riderId: v.value.riderId,
    offerId: v.value.offer?.offerId ?? null,
    offerExpiresAt: v.value.offer?.expiresAt ?? 0,
    restaurantAcceptBy: 0,
  };
};

t.test(
  'a delivery: the restaurant hears the new order, the customer each step, a connected rider nothing',
  async (t) => {
    const w = world();
    const r = w.restaurant('r1');
    const d = w.rider('d1');
    const placed = w.engine.placeOrder({
      customerId: cust('c1'),
      restaurantId: r,
      drop: { lat: 12.95, lng: 77.62 },
      paid: false,
    });
    if (!placed.ok) throw new Error(placed.detail);
    const o = placed.value;
    const n0 = w.events.length;
    w.engine.confirmPayment(o);
    w.engine.restaurantAccept(o, { prepMinutes: 0 });
    w.engine.acceptOffer(d, o);
    w.engine.pickedUp(d, o);
    w.engine.delivered(d, o);
    const notices = w.events
      .slice(n0)
      .flatMap((e) => noticesFor(e, facts(w, o), { connected: true, state: 'online.offered', offerId: null }));
    t.same(
      notices.map((n) => `${n.party}:${n.kind}`),
      [
        'restaurant:r1:new_order',
        'customer:c1:confirmed',
        'customer:c1:rider_assigned',
        'customer:c1:picked_up',
        'customer:c1:delivered',
      ],
    );
    t.equal(new Set(notices.map((n) => n.id)).size, notices.length, 'ids unique');
    t.ok(
      notices.every((n) => !/\d+\.\d{3,}/.test(n.body + n.title)),
      'no coordinates in texts',
    );
    t.equal(notices[0]!.priority, 'high');
  },
);

t.test('cancellations: the restaurant only for orders it knew of; the assigned rider told', async (t) => {
  const w = world();
  const r = w.restaurant('r1');
  const unpaid = w.engine.placeOrder({
    customerId: cust('c1'),
    restaurantId: r,
    drop: { lat: 12.95, lng: 77.62 },
    paid: false,
  });
  if (!unpaid.ok) throw new Error(unpaid.detail);
  const n0 = w.events.length;
  w.engine.cancelOrder({ orderId: unpaid.value, by: 'customer' });
  const a = w.events.slice(n0).flatMap((e) => noticesFor(e, facts(w, unpaid.value)));
  t.same(
    a.map((n) => n.party),
    ['customer:c1'],
    'an unpaid order: the restaurant never heard of it',
  );
  const d = w.rider('d1');
  const o = w.order(r, { prepMinutes: 0 });
  w.engine.acceptOffer(d, o);
  const n1 = w.events.length;
  w.engine.cancelOrder({ orderId: o, by: 'admin' });
  const b = w.events.slice(n1).flatMap((e) => noticesFor(e, facts(w, o)));
  t.same(b.map((n) => `${n.party}:${n.kind}`).sort(), [
    'customer:c1:cancelled',
    'restaurant:r1:order_cancelled',
    'rider:d1:job_cancelled',
  ]);
  t.match(
    b.find((n) => n.party === 'customer:c1'),
    { body: /refund/ },
  );
});

t.test('reminders: one per whole interval waited, none after the deadline', async (t) => {
  const order = { id: 'o1' as OrderId, restaurantId: 'r1' as RestaurantId, paidAt: 0, acceptBy: 300_000 };
  t.same(remindersDue([order], 59_999), []);
  t.same(
    remindersDue([order], 60_000).map((n) => n.id),
    ['remind.o1.1'],
  );
  t.same(
    remindersDue([order], 125_000).map((n) => n.id),
    ['remind.o1.2'],
  );
  t.same(remindersDue([order], 300_000), [], 'the accept deadline has passed');
});

const who = (role: Principal['role'], over: Partial<Principal> = {}): Principal => ({
  uid: `u-${role}`,
  role,
  email: 'x@example.com',
  phone: '+910000000000',
  expiresAt: 0,
  revocationChecked: true,
  ...over,
});

t.test('chat: parties only, admins read, closed after a day', async (t) => {
  const o = { customerId: 'c1', restaurantId: 'r1', riderId: 'd1', endedAt: 0 };
  const customer = who('customer', { uid: 'c1', customerId: 'c1' as CustomerId });
  const rider = who('rider', { riderId: 'd1' as RiderId });
  const restaurant = who('restaurant', { restaurantId: 'r1' as RestaurantId });
  t.match(chatAccess(customer, o, 'rider', 'write', 0), { ok: true, value: 'rider:d1' });
  t.match(chatAccess(customer, o, 'restaurant', 'write', 0), { ok: true, value: 'restaurant:r1' });
  t.match(chatAccess(rider, o, 'rider', 'write', 0), { ok: true, value: 'customer:c1' });
  t.match(chatAccess(rider, o, 'restaurant', 'read', 0), { ok: false, code: 'AUTH_OBJECT_FORBIDDEN' });
  t.match(chatAccess(restaurant, o, 'rider', 'read', 0), { ok: false, code: 'AUTH_OBJECT_FORBIDDEN' });
  t.match(chatAccess(who('rider', { riderId: 'd2' as RiderId }), o, 'rider', 'read', 0), {
    ok: false,
    code: 'AUTH_OBJECT_FORBIDDEN',
  });
  t.match(chatAccess(who('admin'), o, 'rider', 'read', 0), { ok: true });
  t.match(chatAccess(who('admin'), o, 'rider', 'write', 0), { ok: false });
  t.match(chatAccess(who('admin', { revocationChecked: false }), o, 'rider', 'read', 0), { ok: false });
  const ended = { ...o, endedAt: 1_000 };
  t.match(chatAccess(customer, ended, 'rider', 'write', 2_000), { ok: false, code: 'CHAT_CLOSED' });
  t.match(chatAccess(customer, ended, 'rider', 'read', 1_000 + ChatLimits.READ_AFTER_END_MS), { ok: true });
  t.match(chatAccess(customer, ended, 'rider', 'read', 1_001 + ChatLimits.READ_AFTER_END_MS), {
    ok: false,
    code: 'CHAT_CLOSED',
  });
  t.match(chatAccess(customer, { ...o, riderId: null }, 'rider', 'write', 0), { ok: false, code: 'CHAT_CLOSED' });
});

t.test('chat bodies: text of 1..1000 characters, trimmed; anything else refused with INVALID_ARGUMENT', async (t) => {
  fc.assert(
    fc.property(fc.anything(), (x) => {
      const r = checkChatBody(x);
      if (r.ok)
        return (
          typeof x === 'string' &&
          r.value === x.trim() &&
          r.value.length > 0 &&
          // eslint-disable-next-line @typescript-eslint/no-misused-spread -- code points, as the limit counts them
          [...r.value].length <= ChatLimits.MAX_CHARS
        );
      return r.code === 'INVALID_ARGUMENT';
    }),
  );
  t.match(checkChatBody('🛵'.repeat(1000)), { ok: true }, 'characters, not UTF-16 units');
  t.match(checkChatBody('a\u0000b'), { ok: false });
  t.match(checkChatBody('line one\nline two'), { ok: true });
});

t.test('a refund is told to the customer once accepted and once completed, each under its own id', async (t) => {
  const base = {
    refundId: 'rf1',
    orderId: 'o1' as OrderId,
    customerId: 'c1',
    message: 'Your refund of ₹280.00 is on its way',
  };
  const accepted = refundNotice({ ...base, stage: 'accepted' });
  const completed = refundNotice({ ...base, stage: 'completed', message: 'Your refund of ₹280.00 has been completed' });
  t.match(accepted, { id: 'refund.rf1.accepted', party: 'customer:c1', kind: 'refund', title: 'Refund on its way' });
  t.match(completed, { id: 'refund.rf1.completed', title: 'Refund completed', body: /completed/ });
  t.equal(accepted.collapseKey, completed.collapseKey, 'the settled notice replaces the accepted one on the device');
  t.not(accepted.id, completed.id);
});
