/**
 * A real server for the REST suites: `startServer` with the configuration the
 * environment would give, on Postgres (a throwaway database) behind BullMQ on
 * the machine's Redis (a unique queue prefix), or embedded PGlite, with the
 * Firebase Auth emulator. Plus a small JSON client and users of every role.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { getAuth, type Auth } from 'firebase-admin/auth';
import { deleteApp, initializeApp } from 'firebase-admin/app';
import { parseServerConfig, type ServerEnv } from '../../adapters/server/server-config.js';
import { startServer, type RunningServer, type ServerHooks, type ServerLogger } from '../../adapters/server/server.js';
import { useAuthEmulator } from './firebase-emulator.js';
import { makeUser, type TestUser } from './firebase-users.js';
import { throwawayDatabase } from './pg.js';

export interface Tap {
  teardown(fn: () => unknown): void;
}

export const quietLogger: ServerLogger & { lines: Record<string, unknown>[] } = Object.assign(
  { lines: [] as Record<string, unknown>[] },
  {
    info(o: Record<string, unknown>) {
      quietLogger.lines.push(o);
      if (quietLogger.lines.length > 5_000) quietLogger.lines.splice(0, 1_000);
    },
    warn() {},
    error(o: Record<string, unknown>) {
      process.stderr.write(`server error: ${JSON.stringify(o)}\n`);
    },
  },
);

export interface TestServer {
  readonly server: RunningServer;
  readonly url: string;
  readonly auth: Auth;
  /** The server's database, when it runs on Postgres. */
  readonly databaseUrl: string | undefined;
}

/** Starts a server for one test file and stops it at teardown. */
export async function startTestServer(
  t: Tap,
  opts: { embedded?: boolean; env?: ServerEnv; label?: string; hooks?: ServerHooks; logger?: ServerLogger } = {},
): Promise<TestServer> {
  const emu = await useAuthEmulator(t);
  const env: Record<string, string | undefined> = {
    NODE_ENV: 'test',
    SERVER_PORT: '0',
    METRICS_PORT: '0',
    FIREBASE_AUTH_EMULATOR_HOST: emu.host,
    FIREBASE_PROJECT_ID: emu.projectId,
    ENCRYPTION_KEY: randomBytes(32).toString('hex'),
  };
  if (!opts.embedded) {
    env['DATABASE_URL'] = await throwawayDatabase(t, opts.label ?? 'rest');
    env['REDIS_URL'] = 'redis://127.0.0.1:6379';
    env['QUEUE_PREFIX'] = `t${process.pid}${randomBytes(3).toString('hex')}`;
  }
  const server = await startServer(parseServerConfig({ ...env, ...opts.env }), opts.logger ?? quietLogger, opts.hooks);
  t.teardown(() => server.close());
  const app = initializeApp({ projectId: emu.projectId }, `rest-test-${randomUUID()}`);
  t.teardown(() => deleteApp(app));
  return {
    server,
    url: `http://127.0.0.1:${server.port}`,
    auth: getAuth(app),
    databaseUrl: opts.env?.['DATABASE_URL'] ?? env['DATABASE_URL'],
  };
}

export interface ApiResponse<T = any> {
  readonly status: number;
  readonly headers: Headers;
  readonly body: T;
}

/** One JSON call. `body` is sent as JSON unless `raw` is given. */
export async function api<T = any>(
  base: string,
  method: string,
  path: string,
  o: { token?: string; body?: unknown; raw?: string | Uint8Array; headers?: Record<string, string> } = {},
): Promise<ApiResponse<T>> {
  const headers: Record<string, string> = { ...o.headers };
  if (o.token) headers['authorization'] = `Bearer ${o.token}`;
  let payload: string | Uint8Array | undefined;
  if (o.raw !== undefined) payload = o.raw;
  else if (o.body !== undefined) {
    payload = JSON.stringify(o.body);
    headers['content-type'] ??= 'application/json';
  }
  const res = await fetch(`${base}${path}`, { method, headers, ...(payload !== undefined ? { body: payload } : {}) });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = text === '' ? null : JSON.parse(text);
  } catch {
    // left as text
  }
  return { status: res.status, headers: res.headers, body: body as T };
}

/** Users of every role, with ids for the restaurant and rider claims. */
export async function makeCast(auth: Auth): Promise<{
  customer: TestUser;
  customer2: TestUser;
  restaurant: TestUser & { restaurantId: string };
  restaurant2: TestUser & { restaurantId: string };
  rider: TestUser & { riderId: string };
  rider2: TestUser & { riderId: string };
  admin: TestUser;
}> {
  const rid = randomUUID();
  const rid2 = randomUUID();
  const vid = randomUUID();
  const vid2 = randomUUID();
  const [customer, customer2, restaurant, restaurant2, rider, rider2, admin] = await Promise.all([
    makeUser(auth, { label: 'customer' }),
    makeUser(auth, { label: 'customer2' }),
    makeUser(auth, { label: 'restaurant', claims: { role: 'restaurant', restaurant_id: rid } }),
    makeUser(auth, { label: 'restaurant2', claims: { role: 'restaurant', restaurant_id: rid2 } }),
    makeUser(auth, { label: 'rider', claims: { role: 'rider', rider_id: vid } }),
    makeUser(auth, { label: 'rider2', claims: { role: 'rider', rider_id: vid2 } }),
    makeUser(auth, { label: 'admin', claims: { role: 'admin' } }),
  ]);
  return {
    customer: customer,
    customer2: customer2,
    admin: admin,
    restaurant: { ...restaurant, restaurantId: rid },
    restaurant2: { ...restaurant2, restaurantId: rid2 },
    rider: { ...rider, riderId: vid },
    rider2: { ...rider2, riderId: vid2 },
  };
}

/** The seed's example bodies (shared/SEED-API.md), with coordinates in Mumbai. */
export const seed = {
  restaurant: {
    name: 'Delicious Bites',
    description: 'Authentic Indian cuisine',
    address: {
      street: '1 Food Street',
      city: 'Mumbai',
      state: 'Maharashtra',
      postal_code: '400001',
      country: 'India',
      latitude: 19.076,
      longitude: 72.8777,
    },
    cuisine_types: ['Indian', 'North Indian'],
    operating_hours: {
      monday: { open: '00:00', close: '00:00' },
      tuesday: { open: '00:00', close: '00:00' },
      wednesday: { open: '00:00', close: '00:00' },
      thursday: { open: '00:00', close: '00:00' },
      friday: { open: '00:00', close: '00:00' },
      saturday: { open: '00:00', close: '00:00' },
      sunday: { open: '00:00', close: '00:00' },
    },
    contact: { phone: '+91-9876543210', email: 'restaurant@example.com' },
  },
  menu: {
    categories: [
      {
        name: 'Main Course',
        items: [
          {
            name: 'Butter Chicken',
            description: 'Creamy tomato-based curry',
            price: 280.0,
            image_url: 'https://example.com/bc.jpg',
            available: true,
            preparation_time: 15,
            dietary_info: ['non-vegetarian'],
          },
          {
            name: 'Dal Makhani',
            description: 'Black lentils',
            price: 170.0,
            available: true,
            preparation_time: 10,
            dietary_info: ['vegetarian'],
          },
          { name: 'Seasonal Special', price: 99.5, available: false },
        ],
      },
    ],
  },
  deliveryPerson: {
    vehicle_type: 'motorcycle',
    license_number: 'MH12AB1234',
    documents: { driving_license: 'document_url', vehicle_registration: 'document_url', insurance: 'document_url' },
    bank_details: { account_number: '1234567890', ifsc_code: 'HDFC0001234', account_holder_name: 'John Doe' },
  },
  location: { latitude: 19.076, longitude: 72.8777, accuracy: 5.0, heading: 45.0, speed: 25.5 },
  order: (
    restaurantId: string,
    items: { menu_item_id: string; quantity: number; special_instructions?: string }[],
  ) => ({
    restaurant_id: restaurantId,
    items,
    delivery_address: {
      street: '123 Main St',
      city: 'Mumbai',
      state: 'Maharashtra',
      postal_code: '400001',
      country: 'India',
      latitude: 19.086,
      longitude: 72.8877,
    },
    payment_method: { type: 'UPI', vpa: 'user@paytm' },
  }),
  profile: {
    name: 'John Doe',
    phone: '+91-9876543210',
    address: { street: '123 Main St', city: 'Mumbai', state: 'Maharashtra', postal_code: '400001' },
    preferences: { cuisine_types: ['Indian', 'Chinese'], dietary_restrictions: ['vegetarian'] },
  },
};

/** A registered restaurant with the seed menu; answers its menu item ids by name. */
export async function openRestaurant(
  base: string,
  owner: { token: string },
  extra: Record<string, unknown> = {},
): Promise<{ id: string; items: Record<string, string> }> {
  const r = await api(base, 'POST', '/restaurants', { token: owner.token, body: { ...seed.restaurant, ...extra } });
  if (r.status !== 201) throw new Error(`POST /restaurants: ${r.status} ${JSON.stringify(r.body)}`);
  const m = await api(base, 'PUT', `/restaurants/${r.body.id}/menu`, { token: owner.token, body: seed.menu });
  if (m.status !== 200) throw new Error(`PUT menu: ${m.status} ${JSON.stringify(m.body)}`);
  const items: Record<string, string> = {};
  for (const c of m.body.categories) for (const i of c.items) items[i.name] = i.id;
  return { id: r.body.id, items };
}
