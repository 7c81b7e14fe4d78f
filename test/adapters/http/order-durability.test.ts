/**
 * Placing an order touches two stores: the engine's events (durable once in
 * the queue) and the order's row with its remembered answer (committed in
 * Postgres). A crash between the two must not leave what a client was told
 * pointing at nothing (found by test/faults/server-kill.test.ts: a 201
 * replayed for an Idempotency-Key after a kill, for an order the engine never
 * kept). So: the events are durable before the row commits, and at start an
 * order whose events survived but whose row did not is cancelled.
 */
import t from 'tap';
import { latLngToCell } from 'h3-js';
import { cancelUnrecordedOrders, orderHandlers } from '../../../adapters/http/handlers/orders.js';
import type { GatewayDeps } from '../../../adapters/http/gateway-deps.js';
import type { Reply } from '../../../adapters/http/http-io.js';
import { CatalogStore } from '../../../adapters/postgres/catalog-store.js';
import { migrate } from '../../../adapters/postgres/migrate.js';
import { MoneyStore } from '../../../adapters/postgres/money-store.js';
import { serverDatabase } from '../../../adapters/postgres/server-database.js';
import {
  type CustomerId,
  Engine,
  type OrderId,
  type Principal,
  type RestaurantId,
  SimulatedClock,
} from '../../../engine/index.js';
import { throwawayDatabase } from '../../support/pg.js';

const db = serverDatabase(await throwawayDatabase(t, 'order_durability'), { max: 4 });
t.teardown(() => db.close());
await migrate(db);
const catalog = new CatalogStore(db);
const clock = new SimulatedClock(Date.now());
const engine = new Engine({ clock, seed: 3 });
t.teardown(() => engine.stop());

const at = { lat: 19.076, lng: 72.8777 };
const restaurantId = 'r1' as RestaurantId;
engine.registerRestaurant({ restaurantId, location: at, prepMinutes: 10, capacity: 50 });
await catalog.transaction('setup', async (tx) => {
  await catalog.insertRestaurant(tx, {
    id: restaurantId,
    owner_user_id: null,
    name: 'Kitchen',
    description: null,
    lat: at.lat,
    lng: at.lng,
    h3_cell: latLngToCell(at.lat, at.lng, 9),
    address: {},
    cuisine_types: [],
    operating_hours: null,
    contact: null,
    prep_minutes: 10,
    capacity: 50,
  });
  await catalog.replaceMenu(tx, restaurantId, [
    {
      id: 'dal',
      category: 'Main',
      name: 'Dal',
      description: null,
      price_paise: 17_000,
      image_url: null,
      available: true,
      preparation_time: null,
      dietary_info: [],
    },
  ]);
});

/** The durability barrier: resolves at once while open, when opened while shut; `refuse` rejects the next call. */
const gate = {
  open: true,
  refuse: false,
  asked: 0,
  waiting: [] as (() => void)[],
  askedOnce: undefined as (() => void) | undefined,
  wait(): Promise<void> {
    gate.asked++;
    gate.askedOnce?.();
    if (gate.refuse) {
      gate.refuse = false;
      return Promise.reject(Object.assign(new Error('job queue: Redis refused'), { code: 'DEPENDENCY_UNAVAILABLE' }));
    }
    return gate.open ? Promise.resolve() : new Promise((r) => gate.waiting.push(r));
  },
  release(): void {
    gate.open = true;
    for (const r of gate.waiting.splice(0)) r();
  },
};
let ids = 0;
const deps: GatewayDeps = {
  engine,
  commands: engine,
  catalog,
  money: new MoneyStore(db),
  clock,
  probes: {},
  cipher: undefined,
  durable: () => gate.wait(),
  newId: () => `order-${++ids}`,
  config: {
    version: 'test',
    timeZone: 'Asia/Kolkata',
    upi: { payeeVpa: 'x@upi', payeeName: 'X', merchantCode: '5812' },
    defaultPrepMinutes: 15,
    defaultCapacity: 20,
  },
};
const handlers = orderHandlers(deps);
const customer: Principal = {
  uid: 'c1',
  role: 'customer',
  email: 'c1@example.test',
  phone: '+919000000001',
  customerId: 'c1' as CustomerId,
  expiresAt: Date.now() + 3_600_000,
  revocationChecked: false,
};

/** A POST /orders as the gateway hands it over, remembering its answer under `key` (or, with `key` null, as without an Idempotency-Key). */
const placing = (key: string | null, by = handlers) =>
  by.createOrder({
    req: {
      method: 'POST',
      path: '/orders',
      query: '',
      headers: {},
      params: {},
      requestId: key ?? 'no-key',
      remote: '127.0.0.1',
    },
    principal: customer,
    query: {},
    body: {
      restaurant_id: restaurantId,
      items: [{ menu_item_id: 'dal', quantity: 1 }],
      payment_method: { type: 'CASH' },
      delivery_address: {
        street: '1 Main St',
        city: 'Mumbai',
        state: 'MH',
        postal_code: '400001',
        country: 'India',
        latitude: 19.086,
        longitude: 72.8877,
      },
    },
    remember:
      key === null
        ? async () => {}
        : (tx, reply) =>
            catalog.storeReply(tx, customer.uid, key, {
              route: 'createOrder',
              request_hash: key,
              status: reply.status,
              response: reply.body,
            }),
    remembers: key !== null,
  });
const count = async (table: string) =>
  (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`)).rows[0]!.n;

t.test('the row and the remembered answer commit only once the events are durable', async (t) => {
  gate.open = false;
  const asked = new Promise<void>((r) => (gate.askedOnce = r));
  const answer = placing('key-1');
  await asked;
  gate.askedOnce = undefined;
  t.ok(engine.getOrder('order-1' as OrderId).ok, 'the engine has the order (in memory)');
  t.equal(await count('orders'), 0, 'no order row while its events are not durable');
  t.equal(await count('idempotency_keys'), 0, 'no remembered answer either');
  gate.release();
  const reply = (await answer) as Reply;
  t.equal(reply.status, 201);
  t.equal(await count('orders'), 1, 'the row once durable');
  t.equal(await count('idempotency_keys'), 1);
});

t.test('a refused barrier: no row, the order taken back, the client told 503', async (t) => {
  gate.refuse = true;
  await t.rejects(placing('key-2'), { code: 'DEPENDENCY_UNAVAILABLE' });
  t.equal(await count('orders'), 1, 'no second row');
  t.match(
    engine.getOrder('order-2' as OrderId),
    { ok: true, value: { state: 'cancelled' } },
    'the engine cancelled it',
  );
});

t.test('at start, a live order with no row (a crash between its events and its row) is cancelled', async (t) => {
  const orphan = engine.placeOrder({
    orderId: 'orphan' as OrderId,
    customerId: 'c2' as CustomerId,
    restaurantId,
    drop: { lat: 19.086, lng: 72.8877 },
    paid: true,
  });
  t.ok(orphan.ok);
  const before = await placing('key-3');
  t.equal((before as Reply).status, 201);
  const cancelled = await cancelUnrecordedOrders(engine, catalog);
  t.same(cancelled, ['orphan'], 'only the order without a row (not the recorded one, not the one already cancelled)');
  t.match(engine.getOrder('orphan' as OrderId), { ok: true, value: { state: 'cancelled' } });
  t.match(
    engine.getOrder('order-3' as OrderId),
    { ok: true, value: { state: 'awaiting_restaurant' } },
    'the recorded order is untouched',
  );
  t.same(await cancelUnrecordedOrders(engine, catalog), [], 'nothing left to cancel');
});

t.test('without an Idempotency-Key (no transaction): the row commits only once the events are durable', async (t) => {
  gate.open = false;
  const before = await count('orders');
  const asked = new Promise<void>((r) => (gate.askedOnce = r));
  const answer = placing(null);
  await asked;
  gate.askedOnce = undefined;
  t.equal(await count('orders'), before, 'no order row while its events are not durable');
  gate.release();
  t.equal(((await answer) as Reply).status, 201);
  t.equal(await count('orders'), before + 1, 'the row once durable');
  t.equal(await count('order_items'), before + 1, 'with its item, in the same statement');
});

t.test(
  'an order placed but not in what the server reads (a gateway whose mirror missed the relay) is taken back',
  async (t) => {
    gate.open = true;
    const blind = orderHandlers({ ...deps, engine: new Engine({ clock, seed: 4 }), commands: engine });
    const before = await count('orders');
    const id = `order-${ids + 1}`;
    const out = await placing(null, blind);
    t.match(
      out,
      { ok: false, code: 'DEPENDENCY_UNAVAILABLE', detail: /send it again/ },
      'a 503 asking for the order again',
    );
    t.match(
      engine.getOrder(id as OrderId),
      { ok: true, value: { state: 'cancelled' } },
      'the placed order is cancelled',
    );
    t.equal(await count('orders'), before, 'and nothing is recorded for it');
  },
);
