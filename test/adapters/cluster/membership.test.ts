import t from 'tap';
import { type ClusterView, Membership, memberName, planRound } from '../../../adapters/cluster/membership.js';
import { PausableClock, leaseBucket, natsConnection } from '../../support/nats.js';

/**
 * Sharing the partitions out (docs/scale.md, "Sharing the partitions"): the
 * plan of one round, and who is alive, judged over the real NATS.
 */

const view = (me: string, live: string[], owners: Record<string, string | null>): ClusterView => ({
  me,
  live: new Set(live),
  owners: new Map(Object.entries(owners)),
});
const six = (o: (string | null)[]) => Object.fromEntries(o.map((x, i) => [`p${i}`, x]));

t.test('planRound', async (t) => {
  t.same(
    planRound(view('a', ['a'], six([null, null, null, null, null, null])), []),
    { giveBack: [], claim: ['p0', 'p1', 'p2', 'p3', 'p4', 'p5'] },
    'alone: everything',
  );
  t.same(
    planRound(view('a', ['a', 'b', 'c'], six(['a', 'a', 'a', 'a', 'a', 'a'])), ['p0', 'p1', 'p2', 'p3', 'p4', 'p5']),
    { giveBack: ['p2', 'p3', 'p4', 'p5'], claim: [] },
    'two members joined: give back all but a share of 2',
  );
  t.same(
    planRound(view('b', ['a', 'b', 'c'], six(['a', 'a', null, null, null, null])), []),
    { giveBack: [], claim: ['p2', 'p3'] },
    'the joiner asks for free partitions up to its share',
  );
  t.same(
    planRound(view('a', ['a', 'b', 'c'], six(['a', 'a', 'b', 'b', 'c', 'c'])), ['p0', 'p1']),
    { giveBack: [], claim: [] },
    'balanced: nothing moves',
  );
  t.same(
    planRound(view('a', ['a', 'b'], six(['a', 'a', 'b', 'b', null, null])), ['p0', 'p1']),
    { giveBack: [], claim: ['p4'] },
    'c died: its partitions are free and the share is 3',
  );
  t.same(
    planRound(view('a', ['a', 'b', 'c'], six(['a', 'a', 'a', 'b', 'b', 'c'])), ['p0', 'p1', 'p2']),
    { giveBack: ['p2'], claim: [] },
    'one over while c is short: give one back',
  );
  t.same(
    planRound(view('a', ['a', 'b'], six(['a', 'a', 'a', 'a', 'b', 'b'])), ['p0', 'p1', 'p2', 'p3']),
    { giveBack: ['p3'], claim: [] },
    'over the share of 3 and b short: give back',
  );
  t.same(
    planRound(view('a', ['a', 'b', 'c'], six(['a', 'a', 'a', 'b', 'b', 'x'])), ['p0', 'p1', 'p2']),
    { giveBack: ['p2'], claim: [] },
    "a dead member's lease (x) still held: c is short, so a gives back one",
  );
  t.same(
    planRound(view('a', ['a', 'b'], six(['a', 'a', 'a', 'b', 'b', 'b'])), ['p0', 'p1', 'p2']),
    { giveBack: [], claim: [] },
    'at the share with nobody short: keep',
  );
  t.same(
    planRound(view('a', ['a', 'b'], six(['b', 'b', 'b', 'b', null, null])), []),
    { giveBack: [], claim: ['p4', 'p5'] },
    'b over its share: a takes the free ones first (b gives back later)',
  );
});

t.test('members are alive while their key keeps changing; a stopped one is dead within two periods', async (t) => {
  const nc = await natsConnection(t);
  const bucket = await leaseBucket(t, nc, 2_000);
  const EVERY = 150;
  const clockB = new PausableClock();
  const a = new Membership(bucket, 'host-1-aa', { everyMs: EVERY });
  const b = new Membership(bucket, 'host.2-bb', { everyMs: EVERY, clock: clockB });
  await a.start();
  await b.start();
  t.teardown(async () => {
    clockB.resume();
    await a.close();
    await b.close();
  });
  t.equal(b.me, 'host_2-bb', 'a name is a KV token');
  t.equal(memberName('host.2-bb'), 'host_2-bb');
  // A lease of b's, as the lease manager writes it.
  await bucket.kv.put('p1', JSON.stringify({ owner: 'host.2-bb', tenure: 'x' }));
  const first = await a.observe(['p0', 'p1']);
  t.same([...first.live].sort(), ['host-1-aa', 'host_2-bb']);
  t.same(
    [...first.owners],
    [
      ['p0', null],
      ['p1', 'host_2-bb'],
    ],
  );
  clockB.pause();
  await new Promise((r) => setTimeout(r, EVERY));
  t.same([...(await a.observe([])).live].sort(), ['host-1-aa', 'host_2-bb'], 'not yet: one period without a change');
  await new Promise((r) => setTimeout(r, 3 * EVERY));
  t.same([...(await a.observe([])).live], ['host-1-aa'], 'b stopped announcing: dead to a, its key still there');
  clockB.resume();
  await new Promise((r) => setTimeout(r, 2 * EVERY));
  t.same([...(await a.observe([])).live].sort(), ['host-1-aa', 'host_2-bb'], 'alive again once it announces');
  await b.close();
  t.same([...(await a.observe([])).live], ['host-1-aa'], 'a member closing removes its key at once');
});
