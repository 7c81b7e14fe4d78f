/**
 * One delivery end to end through the server `npm start` runs: REST for the
 * customer and the restaurant, the rider's binary WebSocket for the offer
 * and the accept. Then the identity issue's authorization matrix, over REST,
 * on the orders, menus and payments that delivery left behind.
 */
import t from 'tap';
import { offsetM } from '../../engine/index.js';
import { Frame, RIDER_PATH, RiderClient, RiderStatusCode } from '../../protocol/index.js';
import { ACCESS_MATRIX, type AccessCase } from '../support/access-matrix.js';
import { api, makeCast, openRestaurant, seed, startTestServer } from '../support/rest-server.js';
import { nodeSocket } from '../support/ws-harness.js';

const { url, auth, server, databaseUrl } = await startTestServer(t, { label: 'rest_flow' });
const cast = await makeCast(auth);
const shop1 = await openRestaurant(url, cast.restaurant);
// The second restaurant is 40 km away: its orders never reach the first one's riders.
const far = {
  ...seed.restaurant,
  name: 'Far Away',
  address: { ...seed.restaurant.address, latitude: 19.44, longitude: 72.82 },
};
const r2 = await api(url, 'POST', '/restaurants', { token: cast.restaurant2.token, body: far });
const m2 = await api(url, 'PUT', `/restaurants/${r2.body.id}/menu`, { token: cast.restaurant2.token, body: seed.menu });
const shop2 = {
  id: r2.body.id as string,
  items: Object.fromEntries(
    m2.body.categories[0].items.map((i: { name: string; id: string }) => [i.name, i.id]),
  ) as Record<string, string>,
};

const riderClient = (token: string) =>
  new RiderClient({
    url: `${url.replace('http', 'ws')}${RIDER_PATH}`,
    getToken: () => token,
    socket: nodeSocket,
    random: () => 0.5,
  });
const fixNear = (lat: number, lng: number, m: number) => ({
  ...offsetM(lat, lng, 90, m),
  accuracy: 5,
  heading: NaN,
  speed: 4,
  at: Date.now(),
});

/** A rider online near `at`, registered over REST, streaming over the socket. */
async function onlineRider(user: { token: string }, at: { latitude: number; longitude: number }): Promise<RiderClient> {
  const reg = await api(url, 'POST', '/delivery-persons', { token: user.token, body: seed.deliveryPerson });
  if (reg.status !== 201) throw new Error(`register: ${reg.status} ${JSON.stringify(reg.body)}`);
  const c = riderClient(user.token);
  c.start();
  await c.waitFor((f) => f.type === Frame.WELCOME);
  // A command is acknowledged at once, with every position before it (positions alone every few frames).
  c.sendPosition(fixNear(at.latitude, at.longitude, 400));
  c.setStatus(RiderStatusCode.ONLINE);
  await c.waitFor((f) => f.type === Frame.ACK && f.lastSeq >= 2);
  return c;
}

/** Places a cash order, has the restaurant confirm it with no cooking time, and has `rider` accept the offer. */
async function assignedOrder(
  customer: { token: string },
  restaurant: { token: string },
  shop: { id: string; items: Record<string, string> },
  rider: RiderClient,
  latLng: { latitude: number; longitude: number },
): Promise<string> {
  const placed = await api(url, 'POST', '/orders', {
    token: customer.token,
    body: {
      ...seed.order(shop.id, [{ menu_item_id: shop.items['Butter Chicken']!, quantity: 1 }]),
      payment_method: { type: 'CASH' },
      delivery_address: { ...seed.order('', []).delivery_address, ...latLng },
    },
  });
  if (placed.status !== 201) throw new Error(`place: ${placed.status} ${JSON.stringify(placed.body)}`);
  const id = placed.body.id as string;
  const offer = rider.waitFor((f) => f.type === Frame.OFFER && f.orderId === id);
  const confirmed = await api(url, 'PUT', `/orders/${id}/status`, {
    token: restaurant.token,
    body: { status: 'confirmed', estimated_preparation_time: 0 },
  });
  if (confirmed.status !== 200) throw new Error(`confirm: ${confirmed.status} ${JSON.stringify(confirmed.body)}`);
  await offer;
  rider.accept(id);
  await rider.waitFor((f) => f.type === Frame.ASSIGNED && f.orderId === id);
  return id;
}

const riderX = await onlineRider(cast.rider, seed.restaurant.address);
const riderY = await onlineRider(cast.rider2, far.address);
t.teardown(() => {
  riderX.stop();
  riderY.stop();
});

t.test('a delivery from order to doorstep: REST, the offer on the rider socket, tracking, statuses', async (t) => {
  const id = await assignedOrder(cast.customer, cast.restaurant, shop1, riderX, {
    latitude: 19.086,
    longitude: 72.8877,
  });
  const tracked = await api(url, 'GET', `/orders/${id}`, { token: cast.customer.token });
  t.equal(tracked.status, 200);
  t.equal(tracked.body.engine_state, 'assigned');
  t.equal(tracked.body.status, 'preparing', 'a rider on the way while the kitchen cooks');
  t.equal(tracked.body.delivery_person_id, cast.rider.riderId);
  t.ok(tracked.body.tracking.current_location.latitude > 19, 'live rider position');
  t.match(tracked.body.tracking.estimated_arrival, /Z$/);
  t.notOk('rider_payout' in tracked.body, 'the customer does not see what the rider is paid');
  const job = await api(url, 'GET', `/orders/${id}`, { token: cast.rider.token });
  t.ok(
    typeof job.body.rider_payout === 'number' &&
      job.body.rider_payout >= 25 &&
      Math.round(job.body.rider_payout * 100) === job.body.rider_payout * 100,
    `the rider sees its payout in rupees (${String(job.body.rider_payout)})`,
  );

  const early = await api(url, 'PUT', `/orders/${id}/status`, {
    token: cast.rider.token,
    body: { status: 'delivered' },
  });
  t.equal(early.status, 409, 'delivered before picked up');
  t.equal(early.body.code, 'ORDER_INVALID_TRANSITION');
  const picked = await api(url, 'PUT', `/orders/${id}/status`, {
    token: cast.rider.token,
    body: { status: 'picked_up' },
  });
  t.equal(picked.status, 200, JSON.stringify(picked.body));
  t.equal(picked.body.status, 'in_transit');
  const done = await api(url, 'PUT', `/orders/${id}/status`, {
    token: cast.rider.token,
    body: { status: 'delivered' },
  });
  t.equal(done.status, 200);
  t.equal(done.body.status, 'delivered');
  const mine = await api(url, 'GET', '/orders?status=delivered', { token: cast.rider.token });
  t.same(
    mine.body.orders.map((o: { id: string }) => o.id),
    [id],
    'the rider lists the order it carried once it is written behind',
  );
  t.equal(mine.body.orders[0]?.rider_payout, job.body.rider_payout, 'and what it earned on it');
});

t.test('authorization matrix over REST', async (t) => {
  // order1: customer A at restaurant 1, carried by rider X; order2: B at 2, carried by Y; order2Unassigned: B at 2, no rider.
  const order1 = await assignedOrder(cast.customer, cast.restaurant, shop1, riderX, {
    latitude: 19.086,
    longitude: 72.8877,
  });
  const order2 = await assignedOrder(cast.customer2, cast.restaurant2, shop2, riderY, {
    latitude: 19.45,
    longitude: 72.83,
  });
  const nearShop2 = seed.order(shop2.id, [{ menu_item_id: shop2.items['Dal Makhani']!, quantity: 1 }]);
  const unassigned = await api(url, 'POST', '/orders', {
    token: cast.customer2.token,
    body: { ...nearShop2, delivery_address: { ...nearShop2.delivery_address, latitude: 19.45, longitude: 72.83 } },
  });
  const upiA = await api(url, 'POST', '/orders', {
    token: cast.customer.token,
    body: seed.order(shop1.id, [{ menu_item_id: shop1.items['Dal Makhani']!, quantity: 1 }]),
  });
  const payA = await api(url, 'POST', '/payments', {
    token: cast.customer.token,
    body: { order_id: upiA.body.id, payment_method: { type: 'UPI', vpa: 'alice@upi' }, amount: 170 },
  });
  const payB = await api(url, 'POST', '/payments', {
    token: cast.customer2.token,
    body: { order_id: unassigned.body.id, payment_method: { type: 'UPI', vpa: 'bob@upi' }, amount: 170 },
  });
  t.equal(payA.status, 201);
  t.equal(payB.status, 201);

  const who = {
    customerA: cast.customer,
    customerB: cast.customer2,
    restaurant1: cast.restaurant,
    restaurant2: cast.restaurant2,
    riderX: cast.rider,
    riderY: cast.rider2,
    admin: cast.admin,
  } as Record<string, { token: string }>;
  const orderOf: Record<string, string> = { order1, order2, order2Unassigned: unassigned.body.id };
  const shopOf: Record<string, string> = { menu1: shop1.id, menu2: shop2.id };
  const payOf: Record<string, { order: string; payment: string }> = {
    paymentOfA: { order: upiA.body.id, payment: payA.body.id },
    paymentOfB: { order: unassigned.body.id, payment: payB.body.id },
  };

  /** The REST call of a case, or why REST cannot express it. */
  const call = (c: AccessCase): { method: string; path: string; body?: unknown } | string => {
    const order = orderOf[c.on];
    switch (c.action) {
      case 'order.read':
        return order ? { method: 'GET', path: `/orders/${order}` } : 'no order';
      case 'order.cancel':
        return order ? { method: 'PUT', path: `/orders/${order}/status`, body: { status: 'cancelled' } } : 'no order';
      case 'order.status.update':
        return order
          ? {
              method: 'PUT',
              path: `/orders/${order}/status`,
              body: { status: c.who.startsWith('rider') ? 'picked_up' : 'ready' },
            }
          : 'no order';
      case 'order.create':
        return c.expect === 'AUTH_OBJECT_FORBIDDEN'
          ? 'the customer of a new order is the caller'
          : {
              method: 'POST',
              path: '/orders',
              body: seed.order(shop1.id, [{ menu_item_id: shop1.items['Dal Makhani']!, quantity: 1 }]),
            };
      case 'menu.read':
        return { method: 'GET', path: `/restaurants/${shopOf[c.on]}/menu` };
      case 'menu.write':
        return { method: 'PUT', path: `/restaurants/${shopOf[c.on]}/menu`, body: seed.menu };
      case 'restaurant.update':
        return { method: 'PUT', path: `/restaurants/${shopOf[c.on]}/status`, body: { status: 'open' } };
      case 'payment.create': {
        const p = payOf[c.on]!;
        return {
          method: 'POST',
          path: '/payments',
          body: { order_id: p.order, payment_method: { type: 'UPI', vpa: 'xavier@upi' }, amount: 170 },
        };
      }
      case 'payment.read':
        return { method: 'GET', path: `/payments/${payOf[c.on]!.payment}` };
      case 'rider.documents.update':
        return c.expect === 'AUTH_OBJECT_FORBIDDEN'
          ? 'the rider whose documents are sent is the caller'
          : { method: 'PUT', path: '/delivery-persons/documents', body: { documents: { insurance: 'document_url' } } };
      case 'rider.location.update':
        return c.expect === 'AUTH_OBJECT_FORBIDDEN'
          ? 'the rider of a fix is the caller'
          : { method: 'PUT', path: '/delivery-persons/location', body: seed.location };
      default:
        return `${c.action} has no REST call (profile: always the caller's; offers: rider socket; admin: gRPC)`;
    }
  };

  let ran = 0;
  for (const c of ACCESS_MATRIX) {
    const principal = who[c.who];
    const req = call(c);
    if (!principal || typeof req === 'string') continue;
    ran++;
    const r = await api(url, req.method, req.path, { token: principal.token, body: req.body });
    const label = `${c.who} ${c.action} on ${c.on}: ${r.status} ${r.body?.code ?? ''}`;
    if (c.expect === 'AUTH_ROLE_FORBIDDEN') t.equal(r.status, 403, label);
    else if (c.expect === 'AUTH_OBJECT_FORBIDDEN')
      t.ok(r.status === 404 && /_NOT_FOUND$/.test(r.body.code), `${label}: someone else's object is not found`);
    else t.ok(![401, 403, 404].includes(r.status), `${label}: allowed`);
  }
  t.ok(ran >= 35, `${ran} cases of the matrix ran over REST`);
  t.comment(`matrix: ${ran} of ${ACCESS_MATRIX.length} cases have a REST call`);
});

t.test('positions streamed over the rider socket are sampled into the trail', async (t) => {
  const { serverDatabase } = await import('../../adapters/postgres/server-database.js');
  const db = serverDatabase(databaseUrl!, { max: 1 });
  t.teardown(() => db.close());
  let rows = 0;
  for (let i = 0; i < 50 && rows === 0; i++) {
    rows = (
      await db.query<{ n: number }>('SELECT count(*)::int AS n FROM rider_positions WHERE rider_id = $1', [
        cast.rider.riderId,
      ])
    ).rows[0]!.n;
    if (rows === 0) await new Promise((r) => setTimeout(r, 100));
  }
  t.ok(rows >= 1, `${rows} trail rows for rider X`);
});

t.test('the engine kept its invariants through all of it', async (t) => {
  const { checkInvariants } = await import('../../engine/index.js');
  t.same(checkInvariants(server.engine), []);
});
