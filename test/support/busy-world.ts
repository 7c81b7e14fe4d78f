import type { OrderId, RiderId } from '../../engine/index.js';
import { CENTRE, cust, near, type World } from '../engine/world.js';

/**
 * Drives a small city through every kind of state an order and a rider can be
 * waiting in: delivered, picked up, a live offer, preparing with a dispatch
 * deadline ahead, awaiting payment, cancelled, a rider disconnected within its
 * grace period. `settle` runs between commands (a write-behind barrier).
 */
export async function busyWorld(w: World, settle: () => Promise<void>): Promise<void> {
  const r1 = w.restaurant('r1', CENTRE);
  const r2 = w.restaurant('r2', near(1500, 180));
  await settle();
  for (const [i, id] of ['a', 'b', 'c', 'd', 'e', 'f'].entries()) w.rider(id, near(200 + 150 * i, 60 * i));
  await settle();
  const holder = (o: OrderId) => {
    const v = w.engine.getOrder(o);
    if (!v.ok || !v.value.offer) throw new Error(`order ${o} has no offer`);
    return v.value.offer.riderId;
  };
  const deliver = async (o: OrderId, to: 'picked_up' | 'delivered') => {
    const r: RiderId = holder(o);
    w.engine.acceptOffer(r, o);
    await settle();
    w.clock.advance(60_000);
    w.engine.pickedUp(r, o);
    await settle();
    if (to === 'delivered') w.engine.delivered(r, o);
    await settle();
  };
  await deliver(w.order(r1, { id: 'o-delivered' }), 'delivered');
  await deliver(w.order(r1, { id: 'o-picked' }), 'picked_up');
  w.order(r2, { id: 'o-offered' });
  await settle();
  w.order(r2, { id: 'o-preparing', prepMinutes: 25 });
  await settle();
  w.order(r1, { id: 'o-unpaid', paid: false, accept: false });
  await settle();
  const c = w.engine.placeOrder({ customerId: cust('c9'), restaurantId: r2, drop: near(900, 10), paid: true });
  if (!c.ok) throw new Error(c.detail);
  w.engine.cancelOrder({ orderId: c.value, by: 'customer' });
  await settle();
  w.clock.advance(5_000);
  w.engine.riderDisconnected('f' as RiderId);
  await settle();
  // Positions are not events: give each idle rider an event after its last fix so storage has it.
  for (const id of ['a', 'b', 'c', 'd', 'e']) {
    if (w.riderState(id as RiderId) === 'online.idle') {
      w.engine.riderBreak(id as RiderId);
      w.engine.riderResume(id as RiderId);
    }
  }
  await settle();
}
