import t from 'tap';
import { SeededRandom, SimulatedClock, seededUuid } from '../../engine/index.js';
import { DEADLINE_RANK, Deadlines } from '../../engine/deadlines.js';

/** Time and randomness as ports: the simulated clock, the deadline queue, seeded ids. */

t.test('SimulatedClock fires timers by time, then by the order they were set', async (t) => {
  const clock = new SimulatedClock(1_000);
  const fired: string[] = [];
  const at: number[] = [];
  const set = (name: string, ms: number) => clock.setTimeout(() => (fired.push(name), at.push(clock.now())), ms);
  set('late', 300);
  set('b', 100);
  set('c', 100);
  set('early', 50);
  set('negative', -20);
  set('d', 100);
  t.equal(clock.pending, 6);
  t.equal(clock.nextAt(), 1_000, 'a negative delay is due now');
  clock.runUntil(1_100);
  t.same(fired, ['negative', 'early', 'b', 'c', 'd'], 'by time, ties in set order');
  t.same(at, [1_000, 1_050, 1_100, 1_100, 1_100], 'now is each timer’s time while it runs');
  t.equal(clock.now(), 1_100, 'runUntil is inclusive');
  clock.advance(199);
  t.equal(fired.length, 5, 'not yet');
  clock.advance(1);
  t.equal(fired.at(-1), 'late');
  t.equal(clock.pending, 0);
  t.equal(clock.nextAt(), undefined);
  clock.runUntil(500);
  t.equal(clock.now(), 1_300, 'runUntil never moves time backwards');
});

t.test('clearTimeout cancels, once, and timers set while firing run in the same pass', async (t) => {
  const clock = new SimulatedClock(0);
  const fired: string[] = [];
  const h = clock.setTimeout(() => fired.push('cleared'), 10);
  clock.setTimeout(() => {
    fired.push('first');
    clock.setTimeout(() => fired.push('chained now'), 0);
    clock.setTimeout(() => fired.push('chained later'), 15);
  }, 10);
  clock.clearTimeout(h);
  clock.clearTimeout(h);
  t.equal(clock.pending, 1, 'clearing twice counts once');
  clock.advance(20);
  t.same(fired, ['first', 'chained now'], 'a 0 ms timer set while firing fires in the same pass');
  clock.advance(5);
  t.same(fired, ['first', 'chained now', 'chained later']);
  const late = clock.setTimeout(() => fired.push('x'), 5);
  clock.advance(10);
  clock.clearTimeout(late);
  t.equal(clock.pending, 0, 'clearing a fired timer changes nothing');
});

t.test('deadlines due at the same instant fire by kind, then id, whatever the arm order', async (t) => {
  const kinds = Object.keys(DEADLINE_RANK) as Array<keyof typeof DEADLINE_RANK>;
  const entries = kinds.flatMap((k) => ['z', 'a', 'm'].map((id) => [k, id] as const));
  const expected = [...entries]
    .sort((x, y) => DEADLINE_RANK[x[0]] - DEADLINE_RANK[y[0]] || (x[1] < y[1] ? -1 : 1))
    .map(([k, id]) => `${k}:${id}`);
  const rng = new SeededRandom(9);
  for (let round = 0; round < 5; round++) {
    const order = [...entries];
    for (let i = order.length - 1; i > 0; i--) {
      const j = rng.int(0, i);
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    const clock = new SimulatedClock(0);
    const fired: string[] = [];
    const d = new Deadlines(clock, (k, id) => fired.push(`${k}:${id}`));
    for (const [k, id] of order) d.set(k, id, 500);
    d.set('offer', 'early', 400);
    t.equal(clock.pending, 1, 'one clock timer for all deadlines');
    clock.advance(1_000);
    t.same(fired, ['offer:early', ...expected], `round ${round}`);
    t.equal(d.size, 0);
  }
});

t.test('set replaces, 0 disarms, get reads, stop keeps the deadlines', async (t) => {
  const clock = new SimulatedClock(0);
  const fired: string[] = [];
  const d = new Deadlines(clock, (k, id) => fired.push(`${k}:${id}@${clock.now()}`));
  d.set('grace', 'r1', 100);
  d.set('grace', 'r1', 300);
  d.set('offer', 'o1', 200);
  d.set('offer', 'o1', 0);
  d.set('retry', 'o2', 250);
  t.equal(d.get('grace', 'r1'), 300);
  t.equal(d.get('offer', 'o1'), 0, 'disarmed');
  t.equal(d.size, 2);
  clock.advance(260);
  t.same(fired, ['retry:o2@250'], 'the replaced and the disarmed never fire');
  d.stop();
  t.equal(clock.pending, 0, 'stop clears the clock timer');
  t.equal(d.size, 1, 'but keeps the deadline');
  clock.advance(1_000);
  t.same(fired, ['retry:o2@250'], 'nothing fires once stopped');
  d.set('sla', 'o3', 2_000);
  clock.advance(1_000);
  t.same(
    fired.slice(1),
    ['grace:r1@1260', 'sla:o3@2000'],
    'arming again reschedules; an overdue deadline fires at the next tick',
  );
});

t.test('a deadline armed while firing, already due, fires in the same pass', async (t) => {
  const clock = new SimulatedClock(0);
  const fired: string[] = [];
  const d: Deadlines = new Deadlines(clock, (k, id) => {
    fired.push(`${k}:${id}@${clock.now()}`);
    if (id === 'a') {
      d.set('retry', 'b', clock.now());
      d.set('retry', 'c', clock.now() + 10);
    }
  });
  d.set('dispatch', 'a', 50);
  clock.advance(100);
  t.same(fired, ['dispatch:a@50', 'retry:b@50', 'retry:c@60']);
});

t.test('compaction drops replaced entries and keeps the live ones', async (t) => {
  const clock = new SimulatedClock(0);
  const fired: string[] = [];
  const d = new Deadlines(clock, (k, id) => fired.push(`${k}:${id}@${clock.now()}`));
  for (let i = 0; i < 2_000; i++) d.set('offer', `o${i % 10}`, 10_000 + i);
  t.equal(d.size, 10);
  for (let i = 0; i < 10; i++) t.equal(d.get('offer', `o${i}`), 10_000 + 1_990 + i, `o${i} keeps its last time`);
  clock.advance(20_000);
  t.same(
    fired,
    Array.from({ length: 10 }, (_, i) => `offer:o${i}@${11_990 + i}`),
    'each fires once, at its last time',
  );
  t.equal(clock.pending, 0);
});

t.test('seeded UUIDs are v4-shaped, deterministic and distinct', async (t) => {
  const V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
  const seen = new Set<string>();
  let bad = 0;
  for (let i = 0; i < 20_000; i++) {
    const u = seededUuid(7, i);
    if (!V4.test(u)) bad++;
    seen.add(u);
  }
  t.equal(bad, 0, 'every id matches the v4 layout');
  t.equal(seen.size, 20_000, 'no repeats');
  t.equal(seededUuid(7, 123), seededUuid(7, 123), 'same seed and counter, same id');
  t.not(seededUuid(7, 123), seededUuid(8, 123), 'another seed, another id');
  const a = Array.from({ length: 100 }, (_, i) => seededUuid(1, i));
  const b = Array.from({ length: 100 }, (_, i) => seededUuid(2, i));
  t.equal(a.filter((u) => b.includes(u)).length, 0, 'two seeds share no ids');
});

t.test('SeededRandom is a pure function of its seed and state', async (t) => {
  const a = new SeededRandom(42);
  const b = new SeededRandom(42);
  const xs = Array.from({ length: 1_000 }, () => a.next());
  t.same(
    Array.from({ length: 1_000 }, () => b.next()),
    xs,
    'same seed, same sequence',
  );
  t.ok(
    xs.every((x) => x >= 0 && x < 1),
    'next() in [0, 1)',
  );
  const saved = a.state;
  const next = [a.next(), a.int(3, 9), a.exponential(5)];
  const c = new SeededRandom(0);
  c.state = saved;
  t.same([c.next(), c.int(3, 9), c.exponential(5)], next, 'restoring the state resumes the sequence');
  const ints = Array.from({ length: 2_000 }, () => a.int(3, 9));
  t.ok(
    ints.every((n) => Number.isInteger(n) && n >= 3 && n <= 9),
    'int within bounds',
  );
  t.same([...new Set(ints)].sort(), [3, 4, 5, 6, 7, 8, 9], 'and reaching both ends');
  t.not(new SeededRandom(1).next(), new SeededRandom(2).next(), 'seeds differ');
});
