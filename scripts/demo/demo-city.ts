/**
 * A small city run against a live server through its public API only:
 * restaurants register and publish menus (REST), riders register (REST) and
 * then stream positions and answer offers over the real rider protocol
 * (protocol/rider-client.ts on `/v1/rider`), customers order (REST) and pay
 * through the sandbox gateway (the `tr` of the `upi://` link is the
 * gateway's payment id; paying is what its Pay button does), restaurants
 * accept and mark food ready (REST), riders pick up and deliver (rider
 * protocol). `stop()` ends it cleanly: no more orders, the demo's live orders
 * cancelled by its admin, its riders offline and disconnected, and its
 * accounts deleted from the Auth emulator.
 */
import { randomUUID } from 'node:crypto';
import WebSocket from 'ws';
import {
  Frame,
  RiderClient,
  RiderStatusCode,
  type RiderSocketFactory,
  type ServerFrame,
} from '../../protocol/index.js';
import { bearingDeg, distanceM, offsetM } from '../../engine/geo.js';
import { DemoUsers, type DemoUser } from './demo-users.js';

export interface DemoOptions {
  /** The server, `http://host:port`. */
  readonly server: string;
  /** The sandbox gateway the server is configured with, `http://host:port`. */
  readonly sandbox: string;
  readonly emulatorHost: string;
  readonly projectId: string;
  readonly restaurants: number;
  readonly riders: number;
  readonly customers: number;
  /** New orders per minute, across the city. */
  readonly ordersPerMinute: number;
  /** Rider speed, metres per second. */
  readonly speedMps: number;
  readonly center: { readonly lat: number; readonly lng: number };
  readonly radiusM: number;
  /** Seconds a kitchen takes before the food is ready. */
  readonly prepS: number;
  /** Time between rider positions and order checks, ms. */
  readonly tickMs: number;
  readonly log: (line: string) => void;
}

/** A city its riders keep up with: a trip (to the kitchen, then to the door) takes them about two minutes. */
export const defaultDemoOptions = {
  restaurants: 4,
  riders: 12,
  customers: 4,
  ordersPerMinute: 5,
  speedMps: 25,
  center: { lat: 12.9716, lng: 77.5946 },
  radiusM: 2000,
  prepS: 8,
  tickMs: 1000,
} as const;

export interface DemoCounts {
  placed: number;
  paid: number;
  accepted: number;
  delivered: number;
  cancelled: number;
  failures: number;
}

/** Who to sign in as: a token and a ready curl line per role. */
export interface DemoCredentials {
  readonly role: string;
  readonly uid: string;
  readonly token: string;
  readonly curl: string;
}

interface Shop {
  readonly id: string;
  readonly owner: DemoUser;
  readonly lat: number;
  readonly lng: number;
  readonly items: readonly { id: string; price: number }[];
}

interface DemoOrder {
  readonly id: string;
  readonly shop: Shop;
  readonly customer: DemoUser;
  status: string;
  acceptedAt: number;
  foodReady: boolean;
  busy: boolean;
  done: boolean;
}

interface DemoRider {
  readonly id: string;
  readonly user: DemoUser;
  readonly client: RiderClient;
  lat: number;
  lng: number;
  heading: number;
  targetLat: number;
  targetLng: number;
  job: { orderId: string; stage: 'to_pickup' | 'to_drop'; dropLat: number; dropLng: number } | null;
}

const nodeSocket: RiderSocketFactory = (url, protocols, token) =>
  new WebSocket(url, protocols, {
    headers: { authorization: `Bearer ${token}` },
  }) as unknown as ReturnType<RiderSocketFactory>;

const MENU = [
  { name: 'Masala Dosa', price: 120 },
  { name: 'Paneer Tikka', price: 240 },
  { name: 'Veg Biryani', price: 210 },
  { name: 'Filter Coffee', price: 40 },
];
const ARRIVED_M = 25;

export class DemoCity {
  readonly #o: DemoOptions;
  readonly #users: DemoUsers;
  readonly counts: DemoCounts = { placed: 0, paid: 0, accepted: 0, delivered: 0, cancelled: 0, failures: 0 };
  readonly #shops: Shop[] = [];
  readonly #riders: DemoRider[] = [];
  readonly #customers: DemoUser[] = [];
  readonly #orders = new Map<string, DemoOrder>();
  #admin: DemoUser | undefined;
  #tick: ReturnType<typeof setInterval> | undefined;
  #orderTimer: ReturnType<typeof setInterval> | undefined;
  #stopping = false;
  #n = 0;

  constructor(o: DemoOptions) {
    this.#o = o;
    this.#users = new DemoUsers(o.emulatorHost, o.projectId);
  }

  /** Ids of every order the demo placed. */
  get orderIds(): string[] {
    return [...this.#orders.keys()];
  }
  get riderIds(): string[] {
    return this.#riders.map((r) => r.id);
  }
  get restaurantIds(): string[] {
    return this.#shops.map((s) => s.id);
  }
  get accountUids(): readonly string[] {
    return this.#users.uids;
  }

  async #api<T = unknown>(
    method: string,
    path: string,
    user: DemoUser | undefined,
    body?: unknown,
  ): Promise<{ status: number; body: T }> {
    const headers: Record<string, string> = {};
    if (user) headers['authorization'] = `Bearer ${await user.token()}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`${this.#o.server}${path}`, {
      method,
      headers,
      signal: AbortSignal.timeout(10_000),
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text === '' ? null : JSON.parse(text);
    } catch {
      // left as text
    }
    return { status: res.status, body: parsed as T };
  }

  async #must<T = unknown>(method: string, path: string, user: DemoUser | undefined, body?: unknown): Promise<T> {
    const r = await this.#api<T>(method, path, user, body);
    if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body;
  }

  #spot(radiusM = this.#o.radiusM): { lat: number; lng: number } {
    const d = radiusM * Math.sqrt(Math.random());
    return offsetM(this.#o.center.lat, this.#o.center.lng, Math.random() * 360, d);
  }

  /** Makes the people, restaurants and riders, and starts the city moving. */
  async start(): Promise<DemoCredentials[]> {
    const o = this.#o;
    const health = await this.#api('GET', '/health', undefined).catch((err: unknown) => {
      throw new Error(`no server at ${o.server} (${String(err)}); start one with ./dev start`);
    });
    if (health.status !== 200 && health.status !== 503)
      throw new Error(`${o.server}/health answered ${health.status}: is this the dispatch server?`);
    if (health.status === 503) o.log(`demo: the server says it is degraded: ${JSON.stringify(health.body)}`);
    const ledger = await fetch(`${o.sandbox}/sandbox/ledger`, { signal: AbortSignal.timeout(5_000) }).catch(() => null);
    if (ledger?.status !== 200)
      throw new Error(`no sandbox gateway at ${o.sandbox}; ./dev start runs one (npm run sandbox, docs/payments.md)`);

    this.#admin = await this.#users.make('admin', { role: 'admin' });
    for (let i = 0; i < o.customers; i++) this.#customers.push(await this.#users.make(`customer${i + 1}`));
    for (let i = 0; i < o.restaurants; i++) this.#shops.push(await this.#openShop(i));
    for (let i = 0; i < o.riders; i++) this.#riders.push(await this.#startRider(i));
    o.log(
      `demo: ${o.restaurants} restaurants, ${o.riders} riders, ${o.customers} customers; ordering ${o.ordersPerMinute}/min`,
    );

    this.#tick = setInterval(() => this.#step(), o.tickMs);
    this.#orderTimer = setInterval(() => void this.#placeOrder(), Math.max(200, 60_000 / o.ordersPerMinute));
    void this.#placeOrder();

    const base = o.server;
    const cred = async (role: string, u: DemoUser, path: string): Promise<DemoCredentials> => {
      const token = await u.token();
      return { role, uid: u.uid, token, curl: `curl -s -H "Authorization: Bearer ${token}" ${base}${path}` };
    };
    return [
      await cred('admin', this.#admin, '/orders?limit=5'),
      await cred('customer', this.#customers[0]!, '/orders?limit=5'),
      await cred('restaurant', this.#shops[0]!.owner, `/restaurants/${this.#shops[0]!.id}`),
      await cred('rider', this.#riders[0]!.user, '/orders?limit=5'),
    ];
  }

  async #openShop(i: number): Promise<Shop> {
    const id = randomUUID();
    const owner = await this.#users.make(`restaurant${i + 1}`, { role: 'restaurant', restaurant_id: id });
    const at = this.#spot(this.#o.radiusM * 0.6);
    const allDay = { open: '00:00', close: '00:00' };
    const created = await this.#must<{ id: string }>('POST', '/restaurants', owner, {
      name: `Demo Kitchen ${i + 1}`,
      description: 'A kitchen of the demo city',
      address: {
        street: `${i + 1} Demo Road`,
        city: 'Bengaluru',
        state: 'Karnataka',
        postal_code: '560001',
        country: 'India',
        latitude: at.lat,
        longitude: at.lng,
      },
      cuisine_types: ['South Indian'],
      operating_hours: Object.fromEntries(
        ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'].map((d) => [d, allDay]),
      ),
      contact: { phone: '+91-9876543210', email: `kitchen${i + 1}@example.test` },
    });
    const menu = await this.#must<{ categories: { items: { id: string; price: number }[] }[] }>(
      'PUT',
      `/restaurants/${created.id}/menu`,
      owner,
      {
        categories: [
          {
            name: 'Menu',
            items: MENU.map((m) => ({ ...m, available: true, preparation_time: 10, dietary_info: ['vegetarian'] })),
          },
        ],
      },
    );
    const items = menu.categories.flatMap((c) => c.items.map((x) => ({ id: x.id, price: x.price })));
    return { id: created.id, owner, lat: at.lat, lng: at.lng, items };
  }

  async #startRider(i: number): Promise<DemoRider> {
    const id = randomUUID();
    const user = await this.#users.make(`rider${i + 1}`, { role: 'rider', rider_id: id });
    await this.#must('POST', '/delivery-persons', user, {
      vehicle_type: 'motorcycle',
      license_number: `KA01AB${String(1000 + i)}`,
      documents: { driving_license: 'on-file', vehicle_registration: 'on-file', insurance: 'on-file' },
      // No bank details: a development server often has no ENCRYPTION_KEY to store them with.
    });
    const at = this.#spot();
    const to = this.#spot();
    const rider: DemoRider = {
      id,
      user,
      lat: at.lat,
      lng: at.lng,
      heading: 0,
      targetLat: to.lat,
      targetLng: to.lng,
      job: null,
      client: undefined as unknown as RiderClient,
    };
    const client = new RiderClient({
      url: `${this.#o.server.replace(/^http/, 'ws')}/v1/rider`,
      getToken: () => user.token(),
      socket: nodeSocket,
      backoff: { initialMs: 200, maxMs: 5_000 },
      onFrame: (f) => this.#onFrame(rider, f),
    });
    (rider as { client: RiderClient }).client = client;
    client.sendPosition(this.#fix(rider));
    client.start();
    await client.waitFor((f) => f.type === Frame.WELCOME, 10_000);
    client.setStatus(RiderStatusCode.ONLINE);
    return rider;
  }

  #fix(r: DemoRider) {
    return { lat: r.lat, lng: r.lng, accuracy: 5, heading: r.heading, speed: this.#o.speedMps, at: Date.now() };
  }

  #onFrame(r: DemoRider, f: ServerFrame): void {
    if (this.#stopping) return;
    if (f.type === Frame.OFFER) {
      if (r.job !== null) {
        r.client.decline(f.orderId);
        return;
      }
      r.client.accept(f.orderId);
      r.job = { orderId: f.orderId, stage: 'to_pickup', dropLat: f.dropLat, dropLng: f.dropLng };
      r.targetLat = f.pickupLat;
      r.targetLng = f.pickupLng;
    } else if (
      f.type === Frame.OFFER_ENDED ||
      (f.type === Frame.ORDER_UPDATE && (f.status === 'cancelled' || f.status === 'unassigned'))
    ) {
      if (r.job?.orderId === f.orderId) this.#wander(r);
    }
  }

  #wander(r: DemoRider): void {
    r.job = null;
    const to = this.#spot();
    r.targetLat = to.lat;
    r.targetLng = to.lng;
  }

  /** One tick: riders move (and pick up or deliver on arrival), orders move on. */
  #step(): void {
    const stepM = (this.#o.speedMps * this.#o.tickMs) / 1000;
    for (const r of this.#riders) {
      const left = distanceM(r.lat, r.lng, r.targetLat, r.targetLng);
      if (left > ARRIVED_M) {
        r.heading = bearingDeg(r.lat, r.lng, r.targetLat, r.targetLng);
        const p = left <= stepM ? { lat: r.targetLat, lng: r.targetLng } : offsetM(r.lat, r.lng, r.heading, stepM);
        r.lat = p.lat;
        r.lng = p.lng;
      } else this.#arrived(r);
      r.client.sendPosition(this.#fix(r));
    }
    for (const o of this.#orders.values()) if (!o.done && !o.busy) void this.#advance(o);
  }

  #arrived(r: DemoRider): void {
    const job = r.job;
    if (job === null) {
      this.#wander(r);
      return;
    }
    const order = this.#orders.get(job.orderId);
    if (order?.done === true) {
      this.#wander(r);
      return;
    }
    if (job.stage === 'to_pickup') {
      // The rider waits at the kitchen until the food is ready.
      if (order !== undefined && !order.foodReady) return;
      r.client.pickedUp(job.orderId);
      job.stage = 'to_drop';
      r.targetLat = job.dropLat;
      r.targetLng = job.dropLng;
      return;
    }
    r.client.delivered(job.orderId);
    this.#wander(r);
  }

  /** Reads the order and does what its restaurant would do next. */
  async #advance(o: DemoOrder): Promise<void> {
    o.busy = true;
    try {
      const v = await this.#api<{ status: string; engine_state: string }>('GET', `/orders/${o.id}`, o.customer);
      if (v.status !== 200) return;
      o.status = v.body.engine_state;
      if (o.status === 'delivered' || o.status === 'cancelled') {
        o.done = true;
        if (o.status === 'delivered') this.counts.delivered++;
        else this.counts.cancelled++;
        return;
      }
      if (this.#stopping) return;
      if (o.status === 'awaiting_restaurant') {
        const r = await this.#api('PUT', `/orders/${o.id}/status`, o.shop.owner, {
          status: 'confirmed',
          estimated_preparation_time: 0,
        });
        if (r.status === 200) {
          o.acceptedAt = Date.now();
          this.counts.accepted++;
        }
      } else if (o.acceptedAt > 0 && !o.foodReady && Date.now() - o.acceptedAt >= this.#o.prepS * 1000) {
        const r = await this.#api('PUT', `/orders/${o.id}/status`, o.shop.owner, { status: 'ready' });
        if (r.status === 200 || r.status === 409) o.foodReady = true;
      }
    } catch (err) {
      this.counts.failures++;
      this.#o.log(`demo: order ${o.id}: ${String(err)}`);
    } finally {
      o.busy = false;
    }
  }

  /** A customer orders from a random restaurant and pays through the sandbox gateway. */
  async #placeOrder(): Promise<void> {
    if (this.#stopping || this.#shops.length === 0) return;
    const customer = this.#customers[this.#n % this.#customers.length]!;
    const shop = this.#shops[Math.floor(Math.random() * this.#shops.length)]!;
    this.#n++;
    const item = shop.items[this.#n % shop.items.length]!;
    const drop = this.#spot();
    try {
      const placed = await this.#must<{ id: string; total_amount: number }>('POST', '/orders', customer, {
        restaurant_id: shop.id,
        items: [{ menu_item_id: item.id, quantity: 1 + (this.#n % 2) }],
        delivery_address: {
          street: `${this.#n} Demo Lane`,
          city: 'Bengaluru',
          state: 'Karnataka',
          postal_code: '560001',
          country: 'India',
          latitude: drop.lat,
          longitude: drop.lng,
        },
        payment_method: { type: 'UPI', vpa: 'demo@upi' },
      });
      this.counts.placed++;
      const order: DemoOrder = {
        id: placed.id,
        shop,
        customer,
        status: 'placed',
        acceptedAt: 0,
        foodReady: false,
        busy: false,
        done: false,
      };
      this.#orders.set(order.id, order);
      const pay = await this.#must<{ payment_url: string }>('POST', '/payments', customer, {
        order_id: placed.id,
        payment_method: { type: 'UPI', vpa: 'demo@upi' },
        amount: placed.total_amount,
      });
      const gatewayPayment = new URL(pay.payment_url).searchParams.get('tr');
      if (!gatewayPayment?.startsWith('pay_'))
        throw new Error(
          `the server's payment link is not the sandbox gateway's (${pay.payment_url}); set UPI_GATEWAY_URL`,
        );
      const paid = await fetch(`${this.#o.sandbox}/sandbox/payments/${gatewayPayment}/capture`, {
        method: 'POST',
        signal: AbortSignal.timeout(5_000),
      });
      if (paid.status !== 200) throw new Error(`sandbox capture: ${paid.status} ${await paid.text()}`);
      this.counts.paid++;
    } catch (err) {
      this.counts.failures++;
      this.#o.log(`demo: ordering failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  /**
   * Stops cleanly: no new orders, the demo's live orders cancelled by its
   * admin, riders offline and disconnected, accounts deleted.
   */
  async stop(): Promise<DemoCounts> {
    if (this.#stopping) return this.counts;
    this.#stopping = true;
    clearInterval(this.#orderTimer);
    clearInterval(this.#tick);
    // Let in-flight calls finish before cancelling what is still live.
    for (let i = 0; i < 100 && [...this.#orders.values()].some((o) => o.busy); i++)
      await new Promise((r) => setTimeout(r, 50));
    for (const o of this.#orders.values()) {
      if (o.done) continue;
      const r = await this.#api('PUT', `/orders/${o.id}/status`, this.#admin, {
        status: 'cancelled',
        reason: 'demo stopped',
      });
      if (r.status === 200) this.counts.cancelled++;
      else if (r.status !== 409) this.#o.log(`demo: cancelling ${o.id}: ${r.status} ${JSON.stringify(r.body)}`);
      o.done = true;
    }
    await Promise.all(
      this.#riders.map(async (r) => {
        if (r.client.connected) {
          r.client.setStatus(RiderStatusCode.OFFLINE);
          for (let i = 0; i < 100 && r.client.unacked > 0; i++) await new Promise((w) => setTimeout(w, 50));
        }
        r.client.stop();
      }),
    );
    await this.#users.close();
    return this.counts;
  }
}
