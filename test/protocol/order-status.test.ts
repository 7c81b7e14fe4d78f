/** The one mapping from engine order state to seed status, and what a status filter accepts. */
import t from 'tap';
import { SEED_STATUSES, seedStatus, stateName, statusFilter } from '../../protocol/rest/order-status.js';

const STATES = [
  'awaiting_payment',
  'awaiting_restaurant',
  'preparing',
  'dispatching.searching',
  'dispatching.offered',
  'assigned',
  'picked_up',
  'delivered',
  'cancelled',
];

t.test('every engine state and food flag shows a word the filter finds', async (t) => {
  const shown = new Set<string>();
  for (const state of STATES) {
    for (const foodReady of [false, true]) {
      const word = seedStatus(state, foodReady);
      shown.add(word);
      const f = statusFilter(word);
      t.ok(
        f.ok && f.words.includes(word),
        `${state}${foodReady ? ' (food ready)' : ''} → ${word}, found by status=${word}`,
      );
    }
  }
  t.same([...shown].sort(), [...SEED_STATUSES].sort(), 'and every seed word is shown in some stage');
});

t.test('the mapping a seed client expects', async (t) => {
  t.equal(seedStatus('awaiting_payment'), 'placed');
  t.equal(seedStatus('awaiting_restaurant'), 'placed');
  t.equal(seedStatus('preparing'), 'confirmed', 'accepted, no rider sought yet');
  t.equal(seedStatus('dispatching.searching'), 'preparing');
  t.equal(seedStatus('assigned'), 'preparing', 'a rider on the way while cooking');
  t.equal(seedStatus('assigned', true), 'ready');
  t.equal(seedStatus('preparing', true), 'ready');
  t.equal(seedStatus('picked_up', true), 'in_transit', 'food readiness no longer matters once picked up');
  t.equal(seedStatus('cancelled', true), 'cancelled');
  t.equal(stateName({ dispatching: 'offered' }), 'dispatching.offered');
});

t.test('filter words: synonyms, lists, unknown words', async (t) => {
  t.same(statusFilter('picked_up'), { ok: true, words: ['in_transit'] });
  t.same(statusFilter('in_transit,picked_up,placed'), { ok: true, words: ['in_transit', 'placed'] });
  t.same(statusFilter('rider_assigned,placed,assigned'), { ok: false, unknown: ['rider_assigned', 'assigned'] });
});
