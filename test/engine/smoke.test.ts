import t from 'tap';
import { checkInvariants } from '../../engine/index.js';
import { world, near } from './world.js';

t.test('an order goes from placement to delivery', async (t) => {
  const w = world();
  const r1 = w.restaurant();
  const a = w.rider('a', near(200));
  const b = w.rider('b', near(1500));
  const o = w.order(r1);
  const view = w.engine.getOrder(o);
  t.equal(view.ok && view.value.state, 'dispatching.offered');
  t.ok(view.ok && view.value.offer?.riderId === a, 'offered to the nearest rider');
  t.same(w.engine.acceptOffer(b, o).ok, false, 'b holds no offer');
  t.ok(w.engine.acceptOffer(a, o).ok);
  t.ok(w.engine.pickedUp(a, o).ok);
  t.ok(w.engine.delivered(a, o).ok);
  t.same(checkInvariants(w.engine), []);
  t.same(
    w.types().slice(-4),
    ['order_picked_up', 'rider_picked_up', 'order_delivered', 'rider_delivered'],
    'ends picked up, then delivered',
  );
  t.equal(w.orderState(o), 'delivered');
  t.equal(w.riderState(a), 'online.idle', 'the rider is free again');
});
