/**
 * The world every fuzzer runs in: the real server (test/support/rest-server.ts:
 * Postgres, BullMQ on Redis, the Auth emulator, REST, rider and stream sockets
 * on one port), an honest cast whose order flow runs throughout, fuzzing
 * actors (another customer, restaurant and rider; a stranger with no token),
 * and victims whose state no fuzzed request may change.
 */
import { randomUUID } from 'node:crypto';
import { makeUser } from '../support/firebase-users.js';
import { api, makeCast, openRestaurant, startTestServer, type Tap, type TestServer } from '../support/rest-server.js';
import { HonestFlow } from './honest-flow.js';

export const WEBHOOK_SECRET = 'fuzz-webhook-secret-0123456789';

export interface Actor {
  readonly name: string;
  /** Undefined: no Authorization header. */
  readonly token: string | undefined;
}

export interface FuzzWorld {
  readonly ts: TestServer;
  readonly url: string;
  /** Who fuzzes: their requests may change their own state, never a victim's. */
  readonly actors: readonly Actor[];
  /** Tokens of riders the rider fuzzer connects as (none of them honest). */
  readonly riderTokens: readonly string[];
  /** Ids a fuzzer may aim at, by the field or path parameter that takes them. */
  readonly ids: Readonly<Record<string, readonly unknown[]>>;
  readonly flow: HonestFlow;
  /** The victims' state as their owners see it; compare before and after. */
  snapshot(): Promise<string>;
}

/** Starts the world; `riders` fuzzing rider identities. */
export async function startFuzzWorld(t: Tap, o: { riders?: number } = {}): Promise<FuzzWorld> {
  const ts = await startTestServer(t, {
    label: 'fuzz',
    // The fuzzers measure what input does, not the rate limits (tested elsewhere): lift them.
    env: { PAYMENT_WEBHOOK_SECRET: WEBHOOK_SECRET, REST_RATE_PER_S: '1000000', REST_RATE_BURST: '1000000' },
  });
  const { url, auth } = ts;
  const cast = await makeCast(auth);
  const honestShop = await openRestaurant(url, cast.restaurant);
  const victimOwner = await makeUser(auth, {
    label: 'victim-restaurant',
    claims: { role: 'restaurant', restaurant_id: randomUUID() },
  });
  const victimShop = await openRestaurant(url, victimOwner);
  const flow = new HonestFlow({
    url,
    customer: cast.customer.token,
    restaurant: cast.restaurant.token,
    rider: cast.rider.token,
    shop: honestShop,
  });
  // One delivered order before fuzzing starts: a victim whose state is final.
  const delivered = await flow.once();
  const profile = await api(url, 'PUT', '/users/profile', {
    token: cast.customer.token,
    body: { name: 'Honest Customer' },
  });
  if (profile.status !== 200) throw new Error(`profile: ${profile.status}`);
  const n = o.riders ?? 4;
  const riders = await Promise.all(
    Array.from({ length: n }, (_, i) =>
      makeUser(auth, {
        label: `fuzz-rider-${i}`,
        claims: { role: 'rider', rider_id: `fuzz-rider-${i}-${randomUUID()}` },
      }),
    ),
  );

  const snapshot = async (): Promise<string> => {
    const reads = await Promise.all([
      api(url, 'GET', `/orders/${delivered}`, { token: cast.customer.token }),
      api(url, 'GET', '/users/profile', { token: cast.customer.token }),
      api(url, 'GET', `/restaurants/${victimShop.id}/menu`, { token: victimOwner.token }),
    ]);
    // A delivered order still reports its rider's live position in `tracking` (the rider keeps moving): not state.
    const [order, ...rest] = reads.map((r) => [r.status, r.body]);
    const { tracking: _live, ...kept } = (order![1] ?? {}) as Record<string, unknown>;
    return JSON.stringify([[order![0], kept], ...rest]);
  };

  return {
    ts,
    url,
    flow,
    snapshot,
    actors: [
      { name: 'customer2', token: cast.customer2.token },
      { name: 'restaurant2', token: cast.restaurant2.token },
      { name: 'rider2', token: cast.rider2.token },
      { name: 'customer2', token: cast.customer2.token },
      { name: 'restaurant2', token: cast.restaurant2.token },
      { name: 'anonymous', token: undefined },
    ],
    riderTokens: riders.map((r) => r.token),
    ids: {
      order_id: [delivered],
      restaurant_id: [victimShop.id],
      menu_item_id: Object.values(victimShop.items),
      payment_id: [randomUUID()],
      id: Object.values(victimShop.items),
      // Inside the service area near the shops, so valid orders get past the engine's checks.
      latitude: [19.08, 19.07],
      longitude: [72.88, 72.87],
      quantity: [1, 2],
    },
  };
}
