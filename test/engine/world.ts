import {
  Engine,
  SimulatedClock,
  type EngineConfigInput,
  type EngineEvent,
  type OrderId,
  type RestaurantId,
  type RiderId,
  type CustomerId,
  type MatchInfo,
  offsetM,
} from '../../engine/index.js';

/** Bengaluru, Koramangala: the centre of every test city. */
export const CENTRE = { lat: 12.9352, lng: 77.6245 } as const;

export const rid = (s: string) => s as RiderId;
export const oid = (s: string) => s as OrderId;
export const rest = (s: string) => s as RestaurantId;
export const cust = (s: string) => s as CustomerId;

/** A point `m` metres from the centre along `bearing` degrees. */
export const near = (m: number, bearing = 90) => offsetM(CENTRE.lat, CENTRE.lng, bearing, m);

/** An engine on a simulated clock with its event log, plus shorthands. */
export function world(config: EngineConfigInput = {}, seed = 7) {
  const clock = new SimulatedClock();
  /** Whatever the engine reported through its logger (a deadline handler that threw, say). */
  const errors: unknown[] = [];
  /** Every match the engine reported (candidates, ring, distance). */
  const matches: MatchInfo[] = [];
  const engine = new Engine({
    clock,
    config,
    seed,
    logger: { error: (m, d) => errors.push([m, d]) },
    onMatch: (m) => matches.push(m),
  });
  const events: EngineEvent[] = [];
  /** Events whose `at` was not the clock's time when they were emitted. */
  const badAt: EngineEvent[] = [];
  engine.subscribe((e) => {
    events.push(e);
    if (e.at !== clock.now()) badAt.push(e);
  });
  return {
    clock,
    engine,
    events,
    errors,
    badAt,
    matches,
    types: () => events.map((e) => e.type),
    /** Events of one aggregate id. */
    of: (id: string) => events.filter((e) => e.id === id),
    /** Types of the events emitted since the log had `n` entries. */
    since: (n: number) => events.slice(n).map((e) => e.type),
    orderState: (o: OrderId) => {
      const v = engine.getOrder(o);
      return v.ok ? v.value.state : v.code;
    },
    riderState: (r: RiderId) => {
      const v = engine.getRider(r);
      return v.ok ? v.value.state : v.code;
    },
    restaurant(id = 'r1', at: { lat: number; lng: number } = CENTRE, prepMinutes = 10, capacity = 20) {
      const res = engine.registerRestaurant({ restaurantId: rest(id), location: at, prepMinutes, capacity });
      if (!res.ok) throw new Error(res.detail);
      return rest(id);
    },
    /** A rider online and idle at `at`, with a fresh position. */
    rider(id: string, at: { lat: number; lng: number } = near(300)) {
      const r = rid(id);
      const a = engine.registerRider({ riderId: r });
      if (!a.ok) throw new Error(a.detail);
      engine.riderOnline(r);
      engine.updateRiderPosition(r, at.lat, at.lng, 5, NaN, 0, clock.now());
      return r;
    },
    move(r: RiderId, at: { lat: number; lng: number }) {
      return engine.updateRiderPosition(r, at.lat, at.lng, 5, NaN, 0, clock.now());
    },
    /** A paid order at restaurant `r`, accepted with `prepMinutes` (0 = dispatch now). */
    order(r: RestaurantId, opts: { id?: string; prepMinutes?: number; accept?: boolean; paid?: boolean } = {}) {
      const placed = engine.placeOrder({
        ...(opts.id ? { orderId: oid(opts.id) } : {}),
        customerId: cust('c1'),
        restaurantId: r,
        drop: near(2000, 0),
        paid: opts.paid ?? true,
      });
      if (!placed.ok) throw new Error(placed.detail);
      if (opts.accept !== false && (opts.paid ?? true)) {
        const acc = engine.restaurantAccept(placed.value, { prepMinutes: opts.prepMinutes ?? 0 });
        if (!acc.ok) throw new Error(acc.detail);
      }
      return placed.value;
    },
  };
}

export type World = ReturnType<typeof world>;

/** Per aggregate id, are the event seqs exactly 1, 2, 3, ...? Answers the ids where they are not. */
export function seqGaps(events: readonly EngineEvent[]): string[] {
  const last = new Map<string, number>();
  const bad = new Set<string>();
  for (const e of events) {
    const key = `${e.aggregate}:${e.id}`;
    const prev = last.get(key) ?? 0;
    if (e.seq !== prev + 1) bad.add(key);
    last.set(key, e.seq);
  }
  return [...bad];
}
