import t, { type Test } from 'tap';
import {
  checkInvariants,
  defaultEngineConfig as D,
  type ErrorCode,
  type OrderId,
  type Result,
  type RiderId,
} from '../../engine/index.js';
import { near, seqGaps, world, type World } from './world.js';

/** Rider lifecycle through the Engine: every state × every lifecycle command, grace periods, reassignment. */

const STATES = [
  'offline',
  'online.idle',
  'disconnected',
  'on_break',
  'online.offered',
  'online.to_pickup',
  'online.at_pickup',
  'online.delivering',
] as const;
type State = (typeof STATES)[number];

interface Scene {
  w: World;
  a: RiderId;
  o: OrderId | undefined;
}

/** Restaurant r1 at the centre, rider `a` 200 m away driven to `state` (with order `o` for job states). */
function sceneAt(state: State): Scene {
  const w = world();
  const r1 = w.restaurant('r1');
  const a = w.rider('a', near(200));
  let o: OrderId | undefined;
  if (state === 'offline') w.engine.riderOffline(a);
  if (state === 'disconnected') w.engine.riderDisconnected(a);
  if (state === 'on_break') w.engine.riderBreak(a);
  if (state.startsWith('online.') && state !== 'online.idle') o = w.order(r1);
  if (o && state !== 'online.offered') w.engine.acceptOffer(a, o);
  w.clock.advance(1_000);
  if (o && state === 'online.at_pickup') w.move(a, near(20));
  if (o && state === 'online.delivering') w.engine.pickedUp(a, o);
  const want = state === 'disconnected' ? 'online.idle' : state;
  if (w.riderState(a) !== want) throw new Error(`scene for ${state} reached ${w.riderState(a)}`);
  return { w, a, o };
}

const COMMANDS: Record<string, (w: World, a: RiderId) => Result<unknown>> = {
  online: (w, a) => w.engine.riderOnline(a),
  offline: (w, a) => w.engine.riderOffline(a),
  break: (w, a) => w.engine.riderBreak(a),
  resume: (w, a) => w.engine.riderResume(a),
  disconnect: (w, a) => w.engine.riderDisconnected(a),
  reconnect: (w, a) => w.engine.riderReconnected(a),
};

type Legal = { to: string; events: string[]; order?: string };
const DISCONNECT = (s: string): Legal => ({ to: s, events: ['rider_disconnected'] });
const REASSIGN: Legal = {
  to: 'offline',
  events: ['rider_offline', 'order_unassigned', 'rider_released', 'order_no_rider'],
  order: 'dispatching.searching',
};
const LEGAL: Record<State, Record<string, Legal>> = {
  offline: { online: { to: 'online.idle', events: ['rider_online'] } },
  'online.idle': {
    offline: { to: 'offline', events: ['rider_offline'] },
    break: { to: 'on_break', events: ['rider_break_started'] },
    disconnect: DISCONNECT('online.idle'),
  },
  disconnected: {
    offline: { to: 'offline', events: ['rider_offline'] },
    break: { to: 'on_break', events: ['rider_break_started'] },
    reconnect: { to: 'online.idle', events: ['rider_reconnected'] },
  },
  on_break: {
    offline: { to: 'offline', events: ['rider_offline'] },
    resume: { to: 'online.idle', events: ['rider_break_ended'] },
    disconnect: DISCONNECT('on_break'),
  },
  'online.offered': {
    offline: {
      to: 'offline',
      events: ['rider_offline', 'order_offer_ended', 'rider_offer_ended', 'order_no_rider'],
      order: 'dispatching.searching',
    },
    disconnect: DISCONNECT('online.offered'),
  },
  'online.to_pickup': { offline: REASSIGN, disconnect: DISCONNECT('online.to_pickup') },
  'online.at_pickup': { offline: REASSIGN, disconnect: DISCONNECT('online.at_pickup') },
  'online.delivering': { disconnect: DISCONNECT('online.delivering') },
};

const refusal = (state: State, cmd: string): ErrorCode =>
  state === 'online.delivering' && cmd === 'offline' ? 'RIDER_HAS_ACTIVE_JOB' : 'RIDER_INVALID_TRANSITION';

function healthy(t: Test, w: World, label = '') {
  t.same(checkInvariants(w.engine), [], `${label}invariants hold`);
  t.same(seqGaps(w.events), [], `${label}seq gap-free`);
  t.same(w.badAt, [], `${label}events at clock time`);
  t.same(w.errors, [], `${label}nothing logged`);
}

for (const state of STATES) {
  t.test(`rider in ${state}`, async (t) => {
    for (const [cmd, run] of Object.entries(COMMANDS)) {
      const { w, a, o } = sceneAt(state);
      w.clock.advance(1_000);
      const before = JSON.stringify(w.engine.toSnapshot());
      const n = w.events.length;
      const res = run(w, a);
      const legal = LEGAL[state][cmd];
      if (legal) {
        t.ok(res.ok, `${cmd} is allowed`);
        t.equal(w.riderState(a), legal.to, `${cmd} moves ${state} to ${legal.to}`);
        t.same(w.since(n), legal.events, `${cmd} emits ${legal.events.join(', ')}`);
        if (legal.order && o) t.equal(w.orderState(o), legal.order, `${cmd}: the order is ${legal.order}`);
      } else {
        t.match(res, { ok: false, code: refusal(state, cmd) }, `${cmd} is refused in ${state}`);
        t.equal(w.events.length, n, `${cmd}: no event`);
        t.equal(JSON.stringify(w.engine.toSnapshot()), before, `${cmd}: state unchanged`);
      }
      healthy(t, w, `${cmd}: `);
    }
  });
}

t.test('unknown riders are RIDER_NOT_FOUND', async (t) => {
  const w = world();
  for (const [cmd, run] of Object.entries(COMMANDS))
    t.match(run(w, 'ghost' as RiderId), { ok: false, code: 'RIDER_NOT_FOUND' }, cmd);
  t.match(w.engine.registerRider({ riderId: 'bad id' as RiderId }), { ok: false, code: 'INVALID_ARGUMENT' });
  t.match(w.engine.registerRider({ riderId: 'x' as RiderId, capacity: 0 }), { ok: false, code: 'INVALID_ARGUMENT' });
  w.rider('a');
  t.match(w.engine.registerRider({ riderId: 'a' as RiderId }), { ok: false, code: 'RIDER_EXISTS' });
  t.same(w.types(), ['rider_registered', 'rider_online'], 'only a was registered and put online');
});

t.test('reconnecting within grace keeps everything; a disconnected rider gets no offers', async (t) => {
  const w = world();
  const r1 = w.restaurant();
  const a = w.rider('a', near(200));
  const b = w.rider('b', near(900));
  t.ok(w.engine.riderDisconnected(a).ok);
  t.match(w.events.at(-1), { type: 'rider_disconnected', graceUntil: w.clock.now() + D.disconnectGraceMs });
  const o1 = w.order(r1);
  t.equal(
    w.engine.getOrder(o1).ok && (w.engine.getOrder(o1) as { value: { riderId: string } }).value.riderId,
    b,
    'b, not the nearer disconnected a',
  );
  w.clock.advance(D.disconnectGraceMs - 1);
  t.ok(w.engine.riderReconnected(a).ok);
  w.clock.advance(10 * D.disconnectGraceMs);
  t.equal(w.riderState(a), 'online.idle', 'grace never fires after reconnecting');
  w.move(a, near(200));
  const o2 = w.order(r1);
  t.match(w.events.filter((e) => e.type === 'order_offered').at(-1), { id: o2, riderId: a }, 'a is offered again');
  healthy(t, w);
});

t.test('grace expiry: idle and on break go offline', async (t) => {
  for (const onBreak of [false, true]) {
    const w = world();
    const a = w.rider('a', near(200));
    if (onBreak) w.engine.riderBreak(a);
    const t0 = w.clock.now();
    w.engine.riderDisconnected(a);
    w.clock.advance(D.disconnectGraceMs);
    t.equal(w.riderState(a), 'offline');
    t.match(w.events.at(-1), { type: 'rider_offline', reason: 'grace_expired', at: t0 + D.disconnectGraceMs });
    healthy(t, w, onBreak ? 'break: ' : 'idle: ');
  }
});

t.test('grace expiry while offered passes the offer to the next rider', async (t) => {
  const w = world({ offerTimeoutMs: 5 * 60_000 });
  const r1 = w.restaurant();
  const a = w.rider('a', near(200));
  const b = w.rider('b', near(900));
  const o = w.order(r1);
  w.engine.riderDisconnected(a);
  w.move(b, near(900));
  w.clock.advance(D.disconnectGraceMs);
  t.equal(w.riderState(a), 'offline');
  t.match(w.of(o).slice(-2), [
    { type: 'order_offer_ended', riderId: a, outcome: 'withdrawn' },
    { type: 'order_offered', riderId: b },
  ]);
  t.match(w.engine.acceptOffer(a, o), { ok: false, code: 'OFFER_EXPIRED' });
  healthy(t, w);
});

for (const stage of ['to_pickup', 'at_pickup'] as const) {
  t.test(`grace expiry in ${stage}: the order is reassigned, never back to the lost rider`, async (t) => {
    const w = world();
    const r1 = w.restaurant();
    const a = w.rider('a', near(200));
    const b = w.rider('b', near(900));
    const o = w.order(r1);
    t.ok(w.engine.acceptOffer(a, o).ok);
    w.clock.advance(1_000);
    if (stage === 'at_pickup') w.move(a, near(10));
    t.equal(w.riderState(a), `online.${stage}`);
    w.engine.riderDisconnected(a);
    w.move(b, near(900));
    w.clock.advance(D.disconnectGraceMs);
    t.match(w.of(o).slice(-2), [
      { type: 'order_unassigned', riderId: a, reason: 'rider_offline' },
      { type: 'order_offered', riderId: b },
    ]);
    t.match(w.engine.pickedUp(a, o), { ok: false, code: 'RIDER_NOT_ASSIGNED' }, 'the lost rider cannot pick up');
    w.engine.riderOnline(a);
    w.move(a, near(50));
    t.ok(w.engine.declineOffer(b, o).ok, 'b declines');
    t.equal(w.orderState(o), 'dispatching.searching', 'a, back and nearest, is not offered it again');
    healthy(t, w);
  });
}

t.test('an assigned rider going offline with nobody else around: the order keeps searching', async (t) => {
  const w = world();
  const r1 = w.restaurant();
  const a = w.rider('a', near(200));
  const o = w.order(r1);
  w.clock.advance(10_000);
  t.ok(w.engine.acceptOffer(a, o).ok);
  w.clock.advance(10 * 60_000);
  t.ok(w.engine.riderOffline(a).ok);
  t.equal(w.orderState(o), 'dispatching.searching', 'searching, not cancelled');
  const c = w.rider('c', near(400));
  w.clock.advance(D.dispatchRetryMs);
  t.match(w.events.filter((e) => e.type === 'order_offered').at(-1), { id: o, riderId: c }, 'offered to the newcomer');
  t.ok(w.engine.acceptOffer(c, o).ok && w.engine.pickedUp(c, o).ok && w.engine.delivered(c, o).ok, 'and delivered');
  healthy(t, w);
});

t.test('grace expiry while delivering cancels the order as rider_lost', async (t) => {
  const w = world();
  const r1 = w.restaurant();
  const a = w.rider('a', near(200));
  const o = w.order(r1);
  w.engine.acceptOffer(a, o);
  w.engine.pickedUp(a, o);
  t.match(w.engine.riderOffline(a), { ok: false, code: 'RIDER_HAS_ACTIVE_JOB' }, 'cannot go offline with food');
  w.engine.riderDisconnected(a);
  w.clock.advance(D.disconnectGraceMs);
  t.equal(w.riderState(a), 'offline');
  t.match(w.events.at(-1), {
    type: 'order_cancelled',
    id: o,
    by: 'system',
    reason: 'rider_lost',
    fromState: 'picked_up',
    refundDue: true,
    riderId: a,
  });
  t.match(w.engine.delivered(a, o), { ok: false, code: 'RIDER_NOT_ASSIGNED' });
  healthy(t, w);
});

t.test('going offline while disconnected ends the grace period', async (t) => {
  const w = world();
  const a = w.rider('a', near(200));
  w.engine.riderDisconnected(a);
  t.ok(w.engine.riderOffline(a).ok);
  w.clock.advance(D.disconnectGraceMs / 2);
  t.ok(w.engine.riderOnline(a).ok, 'back online, connected');
  const n = w.events.length;
  w.clock.advance(D.disconnectGraceMs);
  t.equal(w.riderState(a), 'online.idle', 'the old grace deadline does not take the rider offline');
  t.same(w.since(n), [], 'no event');
  healthy(t, w);
});
