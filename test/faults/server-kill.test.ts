/**
 * `kill -9` of the server under load (the durability issue): the server runs
 * as a child process (`node --import tsx scripts/server.ts`, what `npm start`
 * runs) on a throwaway Postgres database and a Redis of this test's own (AOF,
 * `appendfsync always`, `noeviction`: the production setting; the server is
 * what dies, but an own Redis keeps this test's keys and fsyncs away from the
 * shared one and its other users). Customers place cash orders, restaurants
 * confirm them, riders take the offers over their WebSockets and carry the
 * orders, all at once, and every acknowledged answer is written down: a 2xx
 * over REST, an ASSIGNED frame on a rider socket. The server is killed with
 * SIGKILL in the middle of that, twice, and restarted on the same database
 * and queue (on a new port: the pinned uWS build cannot bind the old one while
 * the killed server's connections sit in TIME_WAIT). After each restart:
 *
 * - every acknowledged order is there, at least as far as it was acknowledged
 *   (a confirmed order is at least confirmed, an assigned one is with the
 *   rider that was told ASSIGNED, and so on), and none is cancelled;
 * - an order placed by a request the kill cut off is asked for again with the
 *   same Idempotency-Key: answered 201 (new or replayed), it must be a real
 *   order the engine drives, like any other;
 * - no order was ever assigned to two riders (ASSIGNED frames);
 * - every order can be carried on to delivered by the restarted server.
 *
 * At the end the server is stopped cleanly, the engine is rebuilt in this
 * process as a start would (Postgres and what is still queued) and checked
 * with the engine's own invariants (no rider holds two jobs, no order has two
 * riders), every order row is checked to have its engine order and every
 * engine order without a row to have been cancelled at start, and the event
 * log is read for the two rules over the whole history.
 */
import t from 'tap';
import { randomBytes, randomUUID } from 'node:crypto';
import http from 'node:http';
import { deleteApp, initializeApp } from 'firebase-admin/app';
import { getAuth } from 'firebase-admin/auth';
import { recoverEngine } from '../../adapters/persistence/recovery.js';
import { PgEventStore } from '../../adapters/postgres/pg-event-store.js';
import { serverDatabase } from '../../adapters/postgres/server-database.js';
import { BullmqQueue } from '../../adapters/queue/bullmq-queue.js';
import { hrStopwatch, systemClock } from '../../adapters/system-clock.js';
import { checkInvariants, type EventBatch, offsetM, type OrderId, resolveConfig } from '../../engine/index.js';
import { Frame, RIDER_PATH, RiderClient } from '../../protocol/index.js';
import { until } from '../contracts/job-queue.contract.js';
import { useAuthEmulator } from '../support/firebase-emulator.js';
import { makeUser, type TestUser } from '../support/firebase-users.js';
import { throwawayDatabase } from '../support/pg.js';
import { startRedis } from '../support/redis-server.js';
import { seed } from '../support/rest-server.js';
import { spawnServer, type ServerProcess } from '../support/server-process.js';
import { nodeSocket } from '../support/ws-harness.js';

const WORKERS = 4;
const RIDERS = 10;
/** Acknowledgements in a server's life before it is killed. */
const KILL_AFTER = [30, 30];

// ─── Ranks: how far an order has got ─────────────────────────────────────────
const PLACED = 0;
const CONFIRMED = 1;
const ASSIGNED = 2;
const PICKED_UP = 3;
const DELIVERED = 4;
const RANK_NAME = ['placed', 'confirmed', 'assigned', 'picked_up', 'delivered'];
/** The rank of an engine order state; -1 for cancelled. */
function rankOf(state: string): number {
  if (state === 'placed' || state === 'awaiting_payment' || state === 'awaiting_restaurant') return PLACED;
  if (state === 'preparing' || state.startsWith('dispatching')) return CONFIRMED;
  if (state === 'assigned') return ASSIGNED;
  if (state === 'picked_up') return PICKED_UP;
  if (state === 'delivered') return DELIVERED;
  return -1;
}

interface Shop {
  id: string;
  owner: TestUser;
  item: string;
  at: { latitude: number; longitude: number };
}
interface Rider {
  id: string;
  user: TestUser;
  client: RiderClient;
  at: { lat: number; lng: number };
  readyIn: number;
  /** Per life, the WELCOME.last_seq that server gave the rider. */
  readonly welcomed: Map<number, number>;
  /** The first life in which the rider was told ASSIGNED (its ACCEPT answered, so its seq stored). */
  assignedIn: number;
}
interface Order {
  readonly id: string;
  readonly shop: Shop;
  /** How far the server acknowledged it (2xx, ASSIGNED), and to which rider. */
  acked: number;
  ackedRider: string | undefined;
  /** How far it was last seen (GET); seen is not acknowledged. */
  seen: number;
  seenRider: string | undefined;
  seenState: string;
  /** A replayed 201 (Idempotency-Key) after a kill. */
  replayed: boolean;
}
interface Unanswered {
  key: string;
  customer: TestUser;
  shop: Shop;
  body: unknown;
}

/** The server died under a request: what it was doing may or may not have happened. */
class ServerGone extends Error {}

/** One life of the server, from start to kill. */
interface Life {
  readonly n: number;
  readonly srv: ServerProcess;
  readonly agent: http.Agent;
  dead: boolean;
  acks: number;
}

/** Wakes whoever waits for a condition on the shared state; re-checked on every notify. */
const waiters = new Set<() => void>();
const notify = () => {
  for (const w of [...waiters]) w();
};
function when(cond: () => boolean, what: string, ms: number, life?: Life): Promise<void> {
  if (cond()) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      waiters.delete(check);
      reject(new Error(`timed out after ${ms} ms waiting for ${what}`));
    }, ms).unref();
    const check = () => {
      if (life?.dead) {
        clearTimeout(timer);
        waiters.delete(check);
        reject(new ServerGone());
        return;
      }
      if (!cond()) return;
      clearTimeout(timer);
      waiters.delete(check);
      resolve();
    };
    waiters.add(check);
  });
}

function request(
  life: Life,
  method: string,
  path: string,
  token: string | undefined,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: any; headers: http.IncomingHttpHeaders }> {
  if (life.dead) return Promise.reject(new ServerGone());
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port: life.srv.port,
        method,
        path,
        agent: life.agent,
        headers: {
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          ...(payload ? { 'content-type': 'application/json', 'content-length': String(payload.length) } : {}),
          ...headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', () => reject(new ServerGone()));
        res.on('end', () => {
          if (!res.complete) {
            reject(new ServerGone());
            return;
          }
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown = text;
          try {
            parsed = text === '' ? null : JSON.parse(text);
          } catch {
            /* kept as text */
          }
          resolve({ status: res.statusCode ?? 0, body: parsed, headers: res.headers });
        });
      },
    );
    let hung = false;
    // A connection refused or reset: the server is gone. No answer at all from a live server is a failure.
    req.on('error', (err) => reject(hung ? err : new ServerGone()));
    req.setTimeout(30_000, () => {
      hung = true;
      req.destroy(new Error(`${method} ${path}: no answer within 30 s`));
    });
    req.end(payload);
  });
}

t.test(
  'kill -9 of the server under load, twice: nothing acknowledged is lost, no order has two riders, no rider two jobs',
  async (t) => {
    const t0 = performance.now();
    const lap = (what: string) => t.comment(`${((performance.now() - t0) / 1000).toFixed(1)} s: ${what}`);

    // ─── Services: own Redis, throwaway database, the Auth emulator ───────────
    const redis = await startRedis(t, [
      '--appendonly',
      'yes',
      '--appendfsync',
      'always',
      '--maxmemory-policy',
      'noeviction',
    ]);
    const dbUrl = await throwawayDatabase(t, 'server_kill');
    const emu = await useAuthEmulator(t);
    const prefix = `kill${process.pid}${randomBytes(3).toString('hex')}`;
    const env: Record<string, string> = {
      NODE_ENV: 'test',
      SERVER_HOST: '127.0.0.1',
      SERVER_PORT: '0',
      DATABASE_URL: dbUrl,
      REDIS_URL: `redis://${redis.host}:${redis.port}`,
      QUEUE_PREFIX: prefix,
      // A batch held by the killed server's worker is run again after this long (BullMQ's lock), not 30 s.
      QUEUE_LOCK_MS: '3000',
      FIREBASE_AUTH_EMULATOR_HOST: emu.host,
      FIREBASE_PROJECT_ID: emu.projectId,
      ENCRYPTION_KEY: randomBytes(32).toString('hex'),
      REST_RATE_PER_S: '100000',
      REST_RATE_BURST: '100000',
    };
    // firebase-admin in this process (users, claims) talks to the emulator too.
    process.env['FIREBASE_AUTH_EMULATOR_HOST'] = emu.host;
    const app = initializeApp({ projectId: emu.projectId }, `server-kill-${randomUUID()}`);
    t.teardown(() => deleteApp(app));
    const auth = getAuth(app);

    // ─── Users ────────────────────────────────────────────────────────────────
    const shopIds = [randomUUID(), randomUUID()];
    const riderIds = Array.from({ length: RIDERS }, () => randomUUID());
    const [admin, customerA, customerB, customerC, ...rest] = await Promise.all([
      makeUser(auth, { label: 'admin', claims: { role: 'admin' } }),
      makeUser(auth, { label: 'customer' }),
      makeUser(auth, { label: 'customer' }),
      makeUser(auth, { label: 'customer' }),
      ...shopIds.map((id) =>
        makeUser(auth, { label: 'restaurant', claims: { role: 'restaurant', restaurant_id: id } }),
      ),
      ...riderIds.map((id) => makeUser(auth, { label: 'rider', claims: { role: 'rider', rider_id: id } })),
    ]);
    const customers = [customerA, customerB, customerC];
    const shopOwners = rest.slice(0, 2);
    const riderUsers = rest.slice(2);
    lap('users made');

    // ─── The server's lives ───────────────────────────────────────────────────
    // Each life listens on a port of its own: the pinned uWebSockets.js build binds without SO_REUSEADDR, so
    // the killed server's port is refused while its connections sit in TIME_WAIT (a minute on Linux).
    const lives: Life[] = [];
    const start = async (): Promise<Life> => {
      const srv = await spawnServer(t, env);
      const life: Life = {
        n: lives.length + 1,
        srv,
        agent: new http.Agent({ keepAlive: true, maxSockets: 32 }),
        dead: false,
        acks: 0,
      };
      lives.push(life);
      return life;
    };
    const current = () => lives[lives.length - 1]!;

    let life = await start();
    t.match(
      life.srv.cmdline(),
      /node.*--import tsx scripts\/server\.ts/,
      'the child is node running the server (no npm wrapper)',
    );
    t.match(
      life.srv.log(),
      /server: Postgres behind BullMQ; AOF appendfsync always/,
      'the server reports the durability Redis gives',
    );
    lap(`server 1 listening on ${life.srv.port} (pid ${life.srv.pid})`);

    // ─── Restaurants with menus, riders online near them ──────────────────────
    const origin = seed.restaurant.address;
    const shops: Shop[] = [];
    for (const [i, owner] of shopOwners.entries()) {
      const at =
        i === 0
          ? { latitude: origin.latitude, longitude: origin.longitude }
          : (() => {
              const p = offsetM(origin.latitude, origin.longitude, 0, 1_200);
              return { latitude: p.lat, longitude: p.lng };
            })();
      const r = await request(life, 'POST', '/restaurants', owner.token, {
        ...seed.restaurant,
        name: `Kitchen ${i}`,
        address: { ...seed.restaurant.address, ...at },
      });
      if (r.status !== 201) throw new Error(`POST /restaurants: ${r.status} ${JSON.stringify(r.body)}`);
      const m = await request(life, 'PUT', `/restaurants/${r.body.id}/menu`, owner.token, seed.menu);
      if (m.status !== 200) throw new Error(`PUT menu: ${m.status} ${JSON.stringify(m.body)}`);
      const item = (m.body.categories[0].items as { name: string; id: string }[]).find(
        (x) => x.name === 'Butter Chicken',
      )!.id;
      shops.push({ id: r.body.id, owner, item, at });
    }

    const orders = new Map<string, Order>();
    const unanswered = new Set<Unanswered>();
    const problems: string[] = [];
    const assignedTo = new Map<string, Set<string>>();
    const riders: Rider[] = [];
    for (const [i, user] of riderUsers.entries()) {
      const id = riderIds[i]!;
      const at = offsetM(origin.latitude, origin.longitude, (i * 360) / RIDERS, 300 + 60 * i);
      for (const [method, path, body, want] of [
        ['POST', '/delivery-persons', seed.deliveryPerson, 201],
        ['PUT', '/delivery-persons/status', { status: 'online' }, 200],
        ['PUT', '/delivery-persons/location', { ...seed.location, latitude: at.lat, longitude: at.lng }, 200],
      ] as const) {
        const r = await request(life, method, path, user.token, body);
        if (r.status !== want) throw new Error(`rider ${i}: ${method} ${path}: ${r.status} ${JSON.stringify(r.body)}`);
      }
      const rider: Rider = {
        id,
        user,
        at,
        readyIn: 0,
        welcomed: new Map(),
        assignedIn: Infinity,
        client: new RiderClient({
          // The app dials wherever the server is now (see start()).
          url: RIDER_PATH,
          getToken: () => user.token,
          random: () => 0.5,
          socket: (path, protocols, token) =>
            nodeSocket(`ws://127.0.0.1:${current().srv.port}${path}`, protocols, token),
          backoff: { initialMs: 50, maxMs: 400 },
          onFrame: (f) => {
            switch (f.type) {
              case Frame.WELCOME:
                rider.welcomed.set(current().n, f.lastSeq);
                // A fresh fix (positions are not events: a restarted engine knows the last one stored), then a
                // ping: its PONG says the fix was applied, so the rider is matchable in this life.
                rider.client.sendPosition({
                  lat: at.lat,
                  lng: at.lng,
                  accuracy: 5,
                  heading: NaN,
                  speed: 0,
                  at: Date.now(),
                });
                rider.client.ping();
                return;
              case Frame.PONG:
                rider.readyIn = current().n;
                {
                  notify();
                  return;
                }
              case Frame.OFFER: {
                rider.client.accept(f.orderId);
                return;
              }
              case Frame.ASSIGNED: {
                rider.assignedIn = Math.min(rider.assignedIn, current().n);
                const set = assignedTo.get(f.orderId) ?? new Set<string>();
                set.add(id);
                assignedTo.set(f.orderId, set);
                const o = orders.get(f.orderId);
                if (o && o.acked < ASSIGNED) {
                  o.acked = ASSIGNED;
                  o.ackedRider = id;
                  current().acks++;
                }
                notify();
                return;
              }
            }
          },
        }),
      };
      riders.push(rider);
    }
    const riderById = new Map(riders.map((r) => [r.id, r]));
    t.teardown(() => {
      for (const r of riders) r.client.stop();
    });
    for (const r of riders) r.client.start();
    await when(() => riders.every((r) => r.readyIn === 1), 'every rider on its socket', 15_000);
    lap(`${shops.length} restaurants, ${riders.length} riders online`);

    // ─── Load ────────────────────────────────────────────────────────────────
    const ack = (l: Life) => {
      l.acks++;
      notify();
    };

    const orderBody = (shop: Shop) => ({
      ...seed.order(shop.id, [{ menu_item_id: shop.item, quantity: 1 }]),
      payment_method: { type: 'CASH' },
    });
    const refresh = async (l: Life, o: Order): Promise<void> => {
      const r = await request(l, 'GET', `/orders/${o.id}`, admin.token);
      if (r.status !== 200) throw new Error(`GET /orders/${o.id}: ${r.status} ${JSON.stringify(r.body)}`);
      o.seen = rankOf(r.body.engine_state);
      o.seenState = r.body.engine_state;
      o.seenRider = r.body.delivery_person_id ?? undefined;
    };
    const placeOrder = async (l: Life, u: Unanswered): Promise<Order | undefined> => {
      unanswered.add(u);
      const r = await request(l, 'POST', '/orders', u.customer.token, u.body, { 'idempotency-key': u.key });
      unanswered.delete(u);
      if (r.status !== 201) {
        problems.push(`POST /orders answered ${r.status} ${JSON.stringify(r.body)}`);
        return undefined;
      }
      const o: Order = {
        id: r.body.id,
        shop: u.shop,
        acked: PLACED,
        ackedRider: undefined,
        seen: PLACED,
        seenRider: undefined,
        seenState: r.body.engine_state,
        replayed: r.headers['idempotent-replayed'] === 'true',
      };
      orders.set(o.id, o);
      ack(l);
      return o;
    };

    /** Moves an order on from where it is to delivered, acknowledging each step. */
    const drive = async (l: Life, o: Order): Promise<void> => {
      let stuck = 0;
      for (;;) {
        const at = Math.max(o.acked, o.seen);
        if (at === DELIVERED) return;
        if (at < 0) {
          problems.push(`order ${o.id} (acknowledged ${RANK_NAME[o.acked]}) was cancelled`);
          return;
        }
        const holder = riderById.get(o.ackedRider ?? o.seenRider ?? '');
        let r: Awaited<ReturnType<typeof request>> | undefined;
        if (at === PLACED) {
          r = await request(l, 'PUT', `/orders/${o.id}/status`, o.shop.owner.token, {
            status: 'confirmed',
            estimated_preparation_time: 0,
          });
          if (r.status === 200) o.acked = Math.max(o.acked, CONFIRMED);
        } else if (at === CONFIRMED) {
          // The offer goes to a rider, whose socket accepts it; its ASSIGNED frame is the acknowledgement.
          await when(() => o.acked >= ASSIGNED, `a rider for order ${o.id}`, 45_000, l);
          continue;
        } else if (!holder) {
          problems.push(`order ${o.id} is ${RANK_NAME[at]} with no known rider`);
          return;
        } else {
          const status = at === ASSIGNED ? 'picked_up' : 'delivered';
          r = await request(l, 'PUT', `/orders/${o.id}/status`, holder.user.token, { status });
          if (r.status === 200) {
            // Acknowledged for the rider holding it: the rider is acknowledged too.
            o.acked = Math.max(o.acked, at + 1);
            o.ackedRider = holder.id;
          }
        }
        if (r.status === 200) {
          ack(l);
          stuck = 0;
          continue;
        }
        // 409: a request the kill cut off had already done this step; look where the order is.
        await refresh(l, o);
        if (r.status !== 409 || ++stuck > 1) {
          problems.push(
            `order ${o.id} at ${RANK_NAME[at]}: ${r.status} ${JSON.stringify(r.body)} (seen ${RANK_NAME[o.seen] ?? 'cancelled'})`,
          );
          return;
        }
      }
    };

    const worker = async (l: Life, w: number): Promise<void> => {
      for (let i = 0; ; i++) {
        const shop = shops[(w + i) % shops.length]!;
        const o = await placeOrder(l, {
          key: randomUUID(),
          customer: customers[(w + i) % customers.length]!,
          shop,
          body: orderBody(shop),
        });
        if (o) await drive(l, o);
      }
    };
    /** Runs `fn`, ending quietly when the server dies under it. */
    const untilKilled = (fn: () => Promise<void>) =>
      fn().catch((err: unknown) => {
        if (!(err instanceof ServerGone)) throw err;
      });

    /** After a restart: cut-off orders asked for again, then every known order carried on. */
    const resume = async (l: Life): Promise<void> => {
      await Promise.all(
        [...unanswered].map((u) =>
          untilKilled(async () => {
            const o = await placeOrder(l, u);
            if (o) await drive(l, o);
          }),
        ),
      );
    };
    const carryOn = (l: Life) =>
      [...orders.values()]
        .filter((o) => Math.max(o.acked, o.seen) < DELIVERED)
        .map((o) =>
          untilKilled(async () => {
            const t1 = performance.now();
            await refresh(l, o);
            const state = o.seenState;
            await drive(l, o);
            const ms = performance.now() - t1;
            if (ms > 2_000)
              t.comment(`slow: order ${o.id} was ${state} after restart ${l.n - 1}, ${Math.round(ms)} ms to deliver`);
          }),
        );

    /** Orders whose ASSIGNED frame went to more than one rider. */
    const doubleAssigned = () =>
      [...assignedTo]
        .filter(([, set]) => set.size > 1)
        .map(([id, set]) => `order ${id} was assigned to ${[...set].join(' and ')}`);

    /** What every acknowledged order must look like now. */
    const check = async (l: Life): Promise<void> => {
      const lost: string[] = [];
      for (const o of orders.values()) {
        const r = await request(l, 'GET', `/orders/${o.id}`, admin.token);
        if (r.status !== 200) {
          lost.push(`order ${o.id} (acknowledged ${RANK_NAME[o.acked]}): GET ${r.status} ${r.body?.code ?? ''}`);
          continue;
        }
        const rank = rankOf(r.body.engine_state);
        if (rank < o.acked) lost.push(`order ${o.id} acknowledged ${RANK_NAME[o.acked]} is ${r.body.engine_state}`);
        if (o.acked >= ASSIGNED && r.body.delivery_person_id !== o.ackedRider) {
          lost.push(
            `order ${o.id} acknowledged to rider ${o.ackedRider} is with ${r.body.delivery_person_id} (${r.body.engine_state})`,
          );
        }
      }
      lost.push(...doubleAssigned());
      const byRank = RANK_NAME.map(
        (name, i) => `${[...orders.values()].filter((o) => o.acked === i).length} ${name}`,
      ).join(', ');
      for (const x of lost) t.comment(x);
      t.same(lost, [], `after restart ${l.n - 1}: ${orders.size} acknowledged orders (${byRank}) are all there`);
    };

    // ─── Two lives ended by kill -9 ───────────────────────────────────────────
    for (const [k, killAfter] of KILL_AFTER.entries()) {
      const l = life;
      const running = [
        ...(k === 0 ? [] : [untilKilled(() => resume(l)), ...carryOn(l)]),
        ...Array.from({ length: WORKERS }, (_, w) => untilKilled(() => worker(l, w))),
      ];
      await when(() => l.acks >= killAfter, `${killAfter} acknowledgements in life ${l.n}`, 30_000);
      const inFlight = l.agent.sockets ? Object.values(l.agent.sockets).reduce((n, s) => n + (s?.length ?? 0), 0) : 0;
      const how = await l.srv.kill9();
      l.dead = true;
      notify();
      t.equal(
        how,
        'SIGKILL',
        `server ${l.n} killed -9 after ${l.acks} acknowledgements, ${inFlight} requests in flight`,
      );
      await Promise.all(running);
      l.agent.destroy();
      lap(`server ${l.n} killed; ${unanswered.size} orders cut off while being placed`);

      life = await start();
      lap(`server ${life.n} listening on ${life.srv.port}: ${/recovered [^\n]*/.exec(life.srv.log())?.[0] ?? ''}`);
      await check(life);
      await when(() => riders.every((r) => r.readyIn === life.n), 'every rider back on its socket', 20_000);
      lap(`riders back; checked`);
      // A control frame's seq is stored once answered (positions' within a second): a rider that accepted a
      // job before the kill is welcomed by the new server where it was, from Redis, not at 0.
      const accepted = riders.filter((r) => r.assignedIn < life.n);
      const resumed = riders.filter((r) => (r.welcomed.get(life.n) ?? 0) > 0);
      t.same(
        accepted.filter((r) => !resumed.includes(r)).map((r) => r.id),
        [],
        `server ${life.n} welcomed the ${accepted.length} riders that had accepted a job at their seq, not at 0 (${resumed.length} of ${riders.length} riders resumed)`,
      );
    }

    // ─── The last life: everything carried on to delivered ────────────────────
    const last = life;
    await resume(last);
    await Promise.all(carryOn(last));
    t.same(problems, [], 'no command was refused along the way');
    t.same(doubleAssigned(), [], `${assignedTo.size} orders, each told ASSIGNED on one rider's socket only`);
    const undelivered = [...orders.values()]
      .filter((o) => Math.max(o.acked, o.seen) !== DELIVERED)
      .map((o) => `${o.id} ${RANK_NAME[o.acked]}`);
    t.same(undelivered, [], `all ${orders.size} orders delivered by the restarted server`);
    t.ok(
      orders.size >= KILL_AFTER.length * 5,
      `${orders.size} orders in all, ${[...orders.values()].filter((o) => o.replayed).length} of them answered by a replay after a kill`,
    );
    lap('every order delivered');

    // ─── Stopped cleanly; rebuilt here as a start would, and checked ──────────
    const queue = new BullmqQueue<EventBatch>({ redis, name: 'engine-events', prefix });
    t.teardown(() => queue.close());
    await until(async () => (await queue.pending()).length === 0, 20_000);
    last.agent.destroy();
    for (const r of riders) r.client.stop();
    t.equal(await last.srv.stop(), 0, 'the last server shuts down cleanly on SIGTERM');

    const db = serverDatabase(dbUrl, { max: 2 });
    const store = new PgEventStore(db);
    t.teardown(() => store.close());
    const config = resolveConfig({});
    const { engine, report } = await recoverEngine(store, queue, {
      clock: systemClock,
      stopwatch: hrStopwatch,
      config,
      retentionMs: config.retentionMs,
    });
    t.teardown(() => engine.stop());
    t.comment(
      `rebuilt: ${report.orders} orders, ${report.riders} riders, ${report.fromQueue} newer states from the queue`,
    );
    t.same(checkInvariants(engine), [], 'the rebuilt engine keeps its invariants');
    const notDelivered = [...orders.keys()].filter((id) => {
      const v = engine.getOrder(id as OrderId);
      return !v.ok || v.value.state !== 'delivered';
    });
    t.same(notDelivered, [], 'every order is delivered in the rebuilt engine');

    // Both halves of every order: no row without the engine's order (what a replayed 201 would point at),
    // and an engine order without a row only as cancelled at start (placed, never answered).
    const rows = new Set((await db.query<{ id: string }>('SELECT id FROM orders')).rows.map((r) => r.id));
    const halves: string[] = [];
    for (const id of rows)
      if (!engine.getOrder(id as OrderId).ok) halves.push(`order row ${id} has no order in the engine`);
    let unrecorded = 0;
    for (const o of engine.toSnapshot().orders) {
      if (rows.has(o.id)) continue;
      const v = engine.getOrder(o.id);
      if (v.ok && v.value.state === 'cancelled') unrecorded++;
      else halves.push(`engine order ${o.id} (${v.ok ? v.value.state : 'missing'}) has no row`);
    }
    t.same(
      halves,
      [],
      `${rows.size} order rows, each with its engine order; ${unrecorded} placed but never recorded, cancelled at start`,
    );

    // The whole history: no order assigned to two riders, no rider given a job while holding one.
    const events = (
      await db.query<{
        aggregate: string;
        aggregate_id: string;
        seq: number;
        type: string;
        body: { riderId?: string; orderId?: string };
      }>(
        `SELECT aggregate, aggregate_id, seq, type, body FROM engine_events
     WHERE type IN ('order_assigned', 'rider_assigned', 'rider_delivered', 'rider_released') ORDER BY aggregate, aggregate_id, seq`,
      )
    ).rows;
    const history: string[] = [];
    const ridersOf = new Map<string, Set<string>>();
    const holding = new Map<string, string>();
    for (const e of events) {
      if (e.type === 'order_assigned') {
        const set = ridersOf.get(e.aggregate_id) ?? new Set<string>();
        set.add(e.body.riderId!);
        ridersOf.set(e.aggregate_id, set);
      } else if (e.type === 'rider_assigned') {
        const held = holding.get(e.aggregate_id);
        if (held) history.push(`rider ${e.aggregate_id} got ${e.body.orderId} while holding ${held}`);
        holding.set(e.aggregate_id, e.body.orderId!);
      } else {
        if (holding.get(e.aggregate_id) !== e.body.orderId)
          history.push(`rider ${e.aggregate_id} ended ${e.body.orderId} while holding ${holding.get(e.aggregate_id)}`);
        holding.delete(e.aggregate_id);
      }
    }
    for (const [id, set] of ridersOf)
      if (set.size > 1) history.push(`order ${id} assigned to ${[...set].join(' and ')}`);
    for (const h of history) t.comment(h);
    if (history.length > 0) {
      const who = new Set(history.map((h) => /rider (\S+)/.exec(h)?.[1]));
      for (const e of events)
        if (who.has(e.aggregate_id)) t.comment(`${e.aggregate_id} ${e.seq} ${e.type} ${JSON.stringify(e.body)}`);
      const all = await db.query<{ aggregate_id: string; seq: number; type: string; at: Date }>(
        `SELECT aggregate_id, seq, type, at FROM engine_events WHERE aggregate_id = ANY($1) ORDER BY aggregate_id, seq`,
        [[...who]],
      );
      for (const e of all.rows) t.comment(`  ${e.aggregate_id} ${e.seq} ${e.type} ${e.at.toISOString()}`);
    }
    t.same(history, [], `event log: ${ridersOf.size} orders assigned once each, no rider held two jobs`);
    lap('done');
  },
);
