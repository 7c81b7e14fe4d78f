import t from 'tap';
import {
  checkInvariants,
  type CancelledBy,
  type ErrorCode,
  type OrderId,
  type Result,
  type RiderId,
} from '../../engine/index.js';
import { cust, near, rest, rid, seqGaps, world, type World } from './world.js';

/**
 * Every order state × every command, through the Engine on a simulated clock.
 * A legal command moves the order to the expected state and emits the expected
 * events; an illegal one answers a coded rejection and changes nothing.
 */

const STATES = [
  'awaiting_payment',
  'awaiting_restaurant',
  'preparing',
  'dispatching.searching',
  'dispatching.offered',
  'assigned',
  'picked_up',
  'delivered',
  'cancelled',
] as const;
type State = (typeof STATES)[number];

interface Scene {
  w: World;
  o: OrderId;
  a: RiderId;
  b: RiderId;
}

/** A world with restaurant r1, idle rider `a` 200 m away, offline rider `b`, and one order driven to `state`. */
function sceneAt(state: State): Scene {
  const w = world();
  const r1 = w.restaurant('r1');
  w.restaurant('r2', near(500, 180));
  const a = w.rider('a', near(200));
  const b = rid('b');
  w.engine.registerRider({ riderId: b });
  const prep = state === 'preparing' || state === 'cancelled' ? 30 : 0;
  if (state === 'dispatching.searching') w.engine.riderBreak(a);
  const o = w.order(r1, {
    paid: state !== 'awaiting_payment',
    accept: state !== 'awaiting_restaurant',
    prepMinutes: prep,
  });
  if (state === 'assigned' || state === 'picked_up' || state === 'delivered') w.engine.acceptOffer(a, o);
  if (state === 'picked_up' || state === 'delivered') w.engine.pickedUp(a, o);
  if (state === 'delivered') w.engine.delivered(a, o);
  if (state === 'cancelled') w.engine.cancelOrder({ orderId: o, by: 'admin' });
  if (w.orderState(o) !== state) throw new Error(`scene for ${state} reached ${w.orderState(o)}`);
  return { w, o, a, b };
}

const cancel =
  (by: CancelledBy) =>
  ({ w, o }: Scene) =>
    w.engine.cancelOrder({ orderId: o, by });
const COMMANDS: Record<string, (s: Scene) => Result<unknown>> = {
  confirmPayment: ({ w, o }) => w.engine.confirmPayment(o),
  failPayment: ({ w, o }) => w.engine.failPayment(o),
  restaurantAccept: ({ w, o }) => w.engine.restaurantAccept(o, { restaurantId: rest('r1'), prepMinutes: 30 }),
  restaurantReject: ({ w, o }) => w.engine.restaurantReject(o, { restaurantId: rest('r1') }),
  foodReady: ({ w, o }) => w.engine.foodReady(o, { restaurantId: rest('r1') }),
  'acceptOffer(a)': ({ w, o, a }) => w.engine.acceptOffer(a, o),
  'acceptOffer(b)': ({ w, o, b }) => w.engine.acceptOffer(b, o),
  'declineOffer(a)': ({ w, o, a }) => w.engine.declineOffer(a, o),
  'declineOffer(b)': ({ w, o, b }) => w.engine.declineOffer(b, o),
  'pickedUp(a)': ({ w, o, a }) => w.engine.pickedUp(a, o),
  'pickedUp(b)': ({ w, o, b }) => w.engine.pickedUp(b, o),
  'delivered(a)': ({ w, o, a }) => w.engine.delivered(a, o),
  'delivered(b)': ({ w, o, b }) => w.engine.delivered(b, o),
  'cancel(customer)': cancel('customer'),
  'cancel(restaurant)': cancel('restaurant'),
  'cancel(admin)': cancel('admin'),
  'cancel(system)': cancel('system'),
};

type Legal = { to: State; events: string[] };
const CANCELLED: Legal = { to: 'cancelled', events: ['order_cancelled'] };
const WITHDRAWN: Legal = { to: 'cancelled', events: ['rider_offer_ended', 'order_cancelled'] };
const RELEASED: Legal = { to: 'cancelled', events: ['rider_released', 'order_cancelled'] };
const ALL_PARTIES = {
  'cancel(customer)': CANCELLED,
  'cancel(restaurant)': CANCELLED,
  'cancel(admin)': CANCELLED,
  'cancel(system)': CANCELLED,
};

/** The legal commands of each state; everything else is refused. */
const LEGAL: Record<State, Record<string, Legal>> = {
  awaiting_payment: {
    confirmPayment: { to: 'awaiting_restaurant', events: ['order_payment_confirmed'] },
    failPayment: CANCELLED,
    ...ALL_PARTIES,
  },
  awaiting_restaurant: {
    restaurantAccept: { to: 'preparing', events: ['order_accepted'] },
    restaurantReject: CANCELLED,
    ...ALL_PARTIES,
  },
  preparing: {
    foodReady: {
      to: 'dispatching.offered',
      events: [
        'order_food_ready',
        'restaurant_kitchen_learned',
        'order_dispatchable',
        'order_offered',
        'rider_offered',
      ],
    },
    'cancel(restaurant)': CANCELLED,
    'cancel(admin)': CANCELLED,
    'cancel(system)': CANCELLED,
  },
  'dispatching.searching': {
    foodReady: { to: 'dispatching.searching', events: ['order_food_ready', 'restaurant_kitchen_learned'] },
    'cancel(restaurant)': CANCELLED,
    'cancel(admin)': CANCELLED,
    'cancel(system)': CANCELLED,
  },
  'dispatching.offered': {
    foodReady: { to: 'dispatching.offered', events: ['order_food_ready', 'restaurant_kitchen_learned'] },
    'acceptOffer(a)': { to: 'assigned', events: ['order_assigned', 'rider_assigned'] },
    'declineOffer(a)': {
      to: 'dispatching.searching',
      events: ['order_offer_ended', 'rider_offer_ended', 'order_no_rider'],
    },
    'cancel(restaurant)': WITHDRAWN,
    'cancel(admin)': WITHDRAWN,
    'cancel(system)': WITHDRAWN,
  },
  assigned: {
    foodReady: { to: 'assigned', events: ['order_food_ready', 'restaurant_kitchen_learned'] },
    'pickedUp(a)': { to: 'picked_up', events: ['order_picked_up', 'rider_picked_up'] },
    'cancel(restaurant)': RELEASED,
    'cancel(admin)': RELEASED,
    'cancel(system)': RELEASED,
  },
  picked_up: {
    'delivered(a)': { to: 'delivered', events: ['order_delivered', 'rider_delivered'] },
    'cancel(admin)': RELEASED,
    'cancel(system)': RELEASED,
  },
  delivered: {},
  cancelled: {},
};

/** The code an illegal command answers. */
function refusal(state: State, cmd: string): ErrorCode {
  const terminal = state === 'delivered' || state === 'cancelled';
  if (cmd.startsWith('cancel(')) return terminal ? 'ORDER_INVALID_TRANSITION' : 'ORDER_CANCEL_NOT_ALLOWED';
  if (cmd.startsWith('acceptOffer') || cmd.startsWith('declineOffer')) return 'OFFER_NOT_FOUND';
  if (cmd === 'pickedUp(a)' && state === 'picked_up') return 'ORDER_INVALID_TRANSITION';
  if (cmd === 'delivered(a)' && state === 'assigned') return 'ORDER_INVALID_TRANSITION';
  if (cmd.startsWith('pickedUp') || cmd.startsWith('delivered')) return 'RIDER_NOT_ASSIGNED';
  return 'ORDER_INVALID_TRANSITION';
}

for (const state of STATES) {
  t.test(`order in ${state}`, async (t) => {
    for (const [cmd, run] of Object.entries(COMMANDS)) {
      const s = sceneAt(state);
      const { w, o, a } = s;
      s.w.clock.advance(1_000);
      const before = JSON.stringify(w.engine.toSnapshot());
      const n = w.events.length;
      let res: Result<unknown> | undefined;
      t.doesNotThrow(() => (res = run(s)), `${cmd} does not throw`);
      const legal = LEGAL[state][cmd];
      if (legal) {
        t.ok(res?.ok, `${cmd} is allowed`);
        t.equal(w.orderState(o), legal.to, `${cmd} moves ${state} to ${legal.to}`);
        t.same(w.since(n), legal.events, `${cmd} emits ${legal.events.join(', ')}`);
        t.ok(
          w.events.slice(n).every((e) => e.at === w.clock.now()),
          `${cmd}: events carry the clock time`,
        );
        if (legal.to === 'cancelled') {
          const ev = w.events.at(-1)!;
          t.match(
            ev,
            { type: 'order_cancelled', fromState: state, refundDue: state !== 'awaiting_payment' },
            `${cmd}: refund due exactly when paid`,
          );
          const heldRider = ['dispatching.offered', 'assigned', 'picked_up'].includes(state);
          t.match(ev, { riderId: heldRider ? a : null }, `${cmd}: names the rider it released`);
          t.equal(
            w.riderState(a),
            state === 'dispatching.searching' ? 'on_break' : 'online.idle',
            `${cmd}: rider a is free`,
          );
        }
      } else {
        t.match(res, { ok: false, code: refusal(state, cmd) }, `${cmd} is refused in ${state}`);
        t.equal(w.events.length, n, `${cmd}: no event`);
        t.equal(JSON.stringify(w.engine.toSnapshot()), before, `${cmd}: state unchanged`);
      }
      t.same(seqGaps(w.events), [], `${cmd}: seq is gap-free per aggregate`);
      t.same(w.badAt, [], `${cmd}: every event at the clock time`);
      t.same(checkInvariants(w.engine), [], `${cmd}: invariants hold`);
      t.same(w.errors, [], `${cmd}: nothing logged`);
    }
  });
}

t.test('unknown orders are ORDER_NOT_FOUND for every command', async (t) => {
  const s = sceneAt('preparing');
  const ghost = { ...s, o: 'ghost' as OrderId };
  for (const [cmd, run] of Object.entries(COMMANDS)) {
    const n = s.w.events.length;
    const res = run(ghost);
    t.match(res, { ok: false, code: 'ORDER_NOT_FOUND' }, cmd);
    t.equal(s.w.events.length, n, `${cmd}: no event`);
  }
});

t.test('placement and argument checks answer codes and change nothing', async (t) => {
  const w = world({ maxDeliveryDistanceM: 5_000 });
  const r1 = w.restaurant('r1', near(0), 10, 1);
  const r2 = w.restaurant('r2', near(500, 180));
  const place = (over: Record<string, unknown> = {}) =>
    w.engine.placeOrder({ customerId: cust('c1'), restaurantId: r1, drop: near(1000, 0), paid: true, ...over });
  const refuse = (label: string, run: () => Result<unknown>, code: ErrorCode) => {
    const before = JSON.stringify(w.engine.toSnapshot());
    const n = w.events.length;
    t.match(run(), { ok: false, code }, label);
    t.equal(w.events.length, n, `${label}: no event`);
    t.equal(JSON.stringify(w.engine.toSnapshot()), before, `${label}: state unchanged`);
  };
  refuse('unknown restaurant', () => place({ restaurantId: rest('nope') }), 'RESTAURANT_NOT_FOUND');
  refuse('bad customer id', () => place({ customerId: 'no spaces allowed' }), 'INVALID_ARGUMENT');
  refuse('bad order id', () => place({ orderId: '' }), 'INVALID_ARGUMENT');
  refuse('NaN drop', () => place({ drop: { lat: NaN, lng: 77 } }), 'INVALID_ARGUMENT');
  refuse('drop out of range', () => place({ drop: { lat: 91, lng: 77 } }), 'INVALID_ARGUMENT');
  refuse('drop too far', () => place({ drop: near(6_000, 0) }), 'OUT_OF_SERVICE_AREA');

  const o = place({ orderId: 'o1' });
  t.ok(o.ok, 'first order placed');
  refuse(
    'duplicate id',
    () =>
      w.engine.placeOrder({
        orderId: 'o1' as OrderId,
        customerId: cust('c2'),
        restaurantId: r2,
        drop: near(900),
        paid: true,
      }),
    'ORDER_EXISTS',
  );
  refuse('capacity 1 is full', () => place(), 'RESTAURANT_AT_CAPACITY');
  refuse(
    'accept with a negative prep',
    () => w.engine.restaurantAccept('o1' as OrderId, { prepMinutes: -1 }),
    'INVALID_ARGUMENT',
  );
  refuse(
    'accept with a NaN prep',
    () => w.engine.restaurantAccept('o1' as OrderId, { prepMinutes: NaN }),
    'INVALID_ARGUMENT',
  );
  refuse(
    'accept with a 241 min prep',
    () => w.engine.restaurantAccept('o1' as OrderId, { prepMinutes: 241 }),
    'INVALID_ARGUMENT',
  );
  refuse(
    'accept by another restaurant',
    () => w.engine.restaurantAccept('o1' as OrderId, { restaurantId: r2 }),
    'RESTAURANT_NOT_OWNER',
  );
  refuse(
    'reject by another restaurant',
    () => w.engine.restaurantReject('o1' as OrderId, { restaurantId: r2 }),
    'RESTAURANT_NOT_OWNER',
  );
  refuse(
    'cancel by an unknown party',
    () => w.engine.cancelOrder({ orderId: 'o1' as OrderId, by: 'courier' as CancelledBy }),
    'INVALID_ARGUMENT',
  );
  t.ok(w.engine.restaurantAccept('o1' as OrderId, { restaurantId: r1, prepMinutes: 30 }).ok, 'the owner accepts');
  refuse(
    'food ready by another restaurant',
    () => w.engine.foodReady('o1' as OrderId, { restaurantId: r2 }),
    'RESTAURANT_NOT_OWNER',
  );

  t.ok(w.engine.cancelOrder({ orderId: 'o1' as OrderId, by: 'restaurant' }).ok, 'cancelling frees the slot');
  t.ok(place().ok, 'a new order fits');

  t.ok(w.engine.setRestaurantStatus(r2, 'busy').ok, 'r2 busy');
  refuse('busy restaurant', () => place({ restaurantId: r2 }), 'RESTAURANT_BUSY');
  t.ok(w.engine.setRestaurantStatus(r2, 'closed').ok, 'r2 closed');
  refuse('closed restaurant', () => place({ restaurantId: r2 }), 'RESTAURANT_CLOSED');
  t.same(checkInvariants(w.engine), []);
});

t.test('capacity frees at pickup, not at assignment', async (t) => {
  const w = world();
  const r1 = w.restaurant('r1', near(0), 10, 1);
  const a = w.rider('a', near(100));
  const o = w.order(r1);
  t.ok(w.engine.acceptOffer(a, o).ok);
  t.match(w.engine.placeOrder({ customerId: cust('c2'), restaurantId: r1, drop: near(900), paid: true }), {
    ok: false,
    code: 'RESTAURANT_AT_CAPACITY',
  });
  t.ok(w.engine.pickedUp(a, o).ok);
  t.ok(
    w.engine.placeOrder({ customerId: cust('c2'), restaurantId: r1, drop: near(900), paid: true }).ok,
    'slot free once picked up',
  );
  t.same(checkInvariants(w.engine), []);
});
