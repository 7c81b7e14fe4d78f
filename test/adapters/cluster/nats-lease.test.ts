import t, { type Test } from 'tap';
import { connectNats, openLeaseBucket } from '../../../adapters/cluster/nats-connection.js';
import { LeaseManager, type Lease, type LeaseLossReason } from '../../../adapters/cluster/nats-lease.js';
import { DependencyUnavailableError } from '../../../adapters/dependency-error.js';
import { migrate } from '../../../adapters/postgres/migrate.js';
import { PgFence } from '../../../adapters/postgres/pg-fence.js';
import { serverDatabase } from '../../../adapters/postgres/server-database.js';
import { freePort } from '../../support/redis-server.js';
import { PausableClock, leaseBucket, natsConnection, startNats } from '../../support/nats.js';
import { throwawayDatabase } from '../../support/pg.js';

/**
 * Partition leases in NATS JetStream KV, against the real NATS at 127.0.0.1:4222 (a bucket of each
 * test's own, destroyed after) and, where a test kills the server, a nats-server of its own.
 * A lease lives TTL = 2 s here; a holder renews every 600 ms and stops believing 200 ms early.
 * (Short enough to keep the file quick, long enough that a busy CI machine's late timer is no loss.)
 */

const TTL = 2_000;
const RENEW = 600;
const MARGIN = 200;
/** The shared 2-core machine runs other suites: room for a late timer or a slow answer. */
const SLACK = 800;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Lost {
  lease: Lease;
  reason: LeaseLossReason;
  detail: string;
}

/** A manager as one process would run it: its own connection, clock and loss log. */
async function startProcess(t: Test, bucketName: string, owner: string, servers?: string) {
  const nc = await natsConnection(t, servers);
  const bucket = await openLeaseBucket(nc, { bucket: bucketName, ttlMs: TTL, requestTimeoutMs: 500 });
  const clock = new PausableClock();
  const lost: Lost[] = [];
  let onLost: (l: Lost) => void = () => {};
  const manager = new LeaseManager({
    bucket,
    owner,
    renewEveryMs: RENEW,
    marginMs: MARGIN,
    clock,
    onLost: (lease, reason, detail) => {
      lost.push({ lease, reason, detail });
      onLost({ lease, reason, detail });
    },
  });
  t.teardown(() => manager.close());
  const nextLoss = (timeoutMs: number) =>
    new Promise<Lost | null>((resolve) => {
      const timer = setTimeout(() => resolve(null), timeoutMs);
      onLost = (l) => {
        clearTimeout(timer);
        resolve(l);
      };
    });
  return { nc, bucket, clock, lost, manager, nextLoss };
}

/** Tries to acquire every 25 ms until it succeeds or `withinMs` passes. */
async function acquireWhenFree(m: LeaseManager, partition: string, withinMs: number) {
  const start = performance.now();
  while (performance.now() - start < withinMs) {
    const lease = await m.acquire(partition);
    if (lease) return { lease, at: performance.now() };
    await sleep(25);
  }
  return null;
}

t.test('two managers contend for one partition: exactly one wins', async (t) => {
  const nc = await natsConnection(t);
  const { name } = await leaseBucket(t, nc, TTL);
  const a = await startProcess(t, name, 'proc-a');
  const b = await startProcess(t, name, 'proc-b');
  for (const p of ['north', 'south', 'east']) {
    const [la, lb] = await Promise.all([a.manager.acquire(p), b.manager.acquire(p)]);
    t.ok((la === null) !== (lb === null), `${p}: one lease, not two and not none`);
    const winner = la ?? lb!;
    t.ok(winner.token > 0, 'a positive fencing token');
    t.equal((await a.manager.current(p))?.owner, winner.owner, 'NATS names the winner');
  }
  const la = await a.manager.acquire('west');
  t.equal(await a.manager.acquire('west'), la, 'acquiring what one holds answers the same lease');
  const lb = await b.manager.acquire('up');
  t.ok(lb && la && lb.token > la.token, 'tokens rise across the bucket');
});

t.test('a holder that renews keeps its lease for many TTLs; the other keeps failing', async (t) => {
  const nc = await natsConnection(t);
  const { name } = await leaseBucket(t, nc, TTL);
  const a = await startProcess(t, name, 'proc-a');
  const b = await startProcess(t, name, 'proc-b');
  const lease = await a.manager.acquire('p');
  t.ok(lease);
  const first = await a.manager.current('p');
  const until = performance.now() + 3 * TTL;
  let tries = 0;
  while (performance.now() < until) {
    if (!t.equal(await b.manager.acquire('p'), null, `attempt ${++tries} refused`)) break;
    await sleep(100);
  }
  t.equal(a.manager.leaseOf('p'), lease, 'still held, same token');
  t.same(a.lost, [], 'never lost');
  const now = await a.manager.current('p');
  t.equal(now?.owner, 'proc-a');
  t.ok(now && first && now.revision > first.revision, 'renewals wrote new revisions');
});

t.test('kill -9 of the holder: another takes the partition within TTL + margin', async (t) => {
  const nc = await natsConnection(t);
  const { name } = await leaseBucket(t, nc, TTL);
  const a = await startProcess(t, name, 'proc-a');
  const b = await startProcess(t, name, 'proc-b');
  const la = await a.manager.acquire('p');
  t.ok(la);
  await sleep(RENEW + 200); // at least one renewal in
  // The kill: timers stop for good and the socket closes, with no release.
  a.clock.pause();
  const killedAt = performance.now();
  await a.nc.close();
  t.equal(await b.manager.acquire('p'), null, 'not free at once');
  const got = await acquireWhenFree(b.manager, 'p', TTL + MARGIN + SLACK * 2);
  t.ok(got, 'taken over');
  if (!got) return;
  const waited = got.at - killedAt;
  t.ok(waited <= TTL + MARGIN + SLACK, `taken ${Math.round(waited)} ms after the kill (TTL ${TTL})`);
  t.ok(got.lease.token > la!.token, `a higher token (${got.lease.token} > ${la!.token})`);
  t.equal(a.manager.leaseOf('p'), undefined, "the dead holder's own belief had lapsed before the takeover");
});

t.test('a paused holder learns it lost the lease, and its fenced write is refused', async (t) => {
  const nc = await natsConnection(t);
  const { name } = await leaseBucket(t, nc, TTL);
  const db = serverDatabase(await throwawayDatabase(t, 'lease_fence'), { max: 3 });
  t.teardown(() => db.close());
  await migrate(db);
  await db.exec('CREATE TABLE probe (k text PRIMARY KEY, v text NOT NULL)');
  const fence = new PgFence(db);
  const write = (token: number, v: string) =>
    fence.run('p', token, async (tx) => {
      await tx.query('INSERT INTO probe VALUES ($1, $2) ON CONFLICT (k) DO UPDATE SET v = excluded.v', ['k', v]);
    });
  const a = await startProcess(t, name, 'proc-a');
  const b = await startProcess(t, name, 'proc-b');
  const la = await a.manager.acquire('p');
  t.ok(la);
  t.ok((await write(la!.token, 'a while holding')).ok, 'the holder writes');
  // SIGSTOP: A's timers stop; the world goes on.
  a.clock.pause();
  const got = await acquireWhenFree(b.manager, 'p', TTL + MARGIN + SLACK * 2);
  t.ok(got, 'B took the partition');
  if (!got) return;
  t.ok((await fence.claim('p', got.lease.token)).ok, "B claims the fence before loading the partition's state");
  t.ok((await write(got.lease.token, 'b, the new owner')).ok, 'B writes');
  // SIGCONT: A's overdue timers fire; it finds out.
  const loss = a.nextLoss(SLACK * 2);
  a.clock.resume();
  const l = await loss;
  t.ok(l, 'onLost was called');
  t.equal(l?.lease.token, la!.token);
  t.ok(l && ['expired', 'superseded'].includes(l.reason), `reason ${l?.reason}: ${l?.detail}`);
  t.equal(a.manager.leaseOf('p'), undefined, 'A no longer claims it');
  t.same(a.manager.held(), []);
  // A write A had in hand from before the pause, sent anyway with its old token:
  const stale = await write(la!.token, 'a, after losing the lease');
  t.match(stale, { ok: false, code: 'FENCED' }, 'refused with FENCED');
  const { rows } = await db.query<{ v: string }>('SELECT v FROM probe');
  t.same(rows, [{ v: 'b, the new owner' }], 'nothing of the stale write landed');
  t.equal(a.lost.length, 1, 'onLost once');
});

t.test('a holder whose key another process overwrote finds out at its next renewal', async (t) => {
  const nc = await natsConnection(t);
  const bucket = await leaseBucket(t, nc, TTL);
  const a = await startProcess(t, bucket.name, 'proc-a');
  const la = await a.manager.acquire('p');
  t.ok(la);
  const loss = a.nextLoss(RENEW + SLACK);
  await bucket.kv.put('p', JSON.stringify({ owner: 'intruder', tenure: 'x' })); // e.g. an operator's edit
  const l = await loss;
  t.equal(l?.reason, 'superseded');
  t.match(l?.detail, /owner intruder/);
  t.equal(await a.manager.release('p'), false, 'nothing left to release');
});

t.test("a lease of this owner's that it does not hold (an acquire whose reply was lost) is taken back", async (t) => {
  const nc = await natsConnection(t);
  const bucket = await leaseBucket(t, nc, TTL);
  const a = await startProcess(t, bucket.name, 'proc-a');
  const b = await startProcess(t, bucket.name, 'proc-b');
  const orphan = await bucket.kv.create('p', JSON.stringify({ owner: 'proc-a', tenure: 'lost-reply' }));
  t.equal(await b.manager.acquire('p'), null, 'to anyone else it is a live lease');
  const la = await a.manager.acquire('p');
  t.ok(la && la.token > orphan, 'its owner takes it at once, with a higher token');
  t.equal((await a.manager.current('p'))?.revision, la?.token);
});

t.test('release lets another take the partition at once', async (t) => {
  const nc = await natsConnection(t);
  const { name } = await leaseBucket(t, nc, TTL);
  const a = await startProcess(t, name, 'proc-a');
  const b = await startProcess(t, name, 'proc-b');
  const la = await a.manager.acquire('p');
  t.ok(la);
  t.equal(await b.manager.acquire('p'), null);
  await sleep(RENEW + 100); // release after a renewal: the compare-and-swap uses the latest revision
  t.equal(await a.manager.release('p'), true);
  const start = performance.now();
  const lb = await b.manager.acquire('p');
  t.ok(lb, 'taken at once, no TTL wait');
  t.ok(performance.now() - start < 200);
  t.ok(lb && lb.token > la!.token);
  t.equal(await a.manager.release('p'), false, 'a second release does nothing');
  t.equal(await a.manager.acquire('p'), null, 'and A cannot take it back while B holds it');
  t.same(a.lost, [], 'a release is not a loss');
  await b.manager.close();
  t.equal(await b.manager.current('p'), null, 'close releases everything');
});

t.test('NATS unreachable: clear errors, never a hang or a crash', async (t) => {
  const port = await freePort();
  const start = performance.now();
  await t.rejects(connectNats({ servers: `127.0.0.1:${port}` }), {
    name: 'DependencyUnavailableError',
    code: 'DEPENDENCY_UNAVAILABLE',
    message: new RegExp(`NATS at 127.0.0.1:${port} cannot be reached`),
  });
  t.ok(performance.now() - start < 3_000, 'refused quickly');

  const own = await startNats(t);
  const nc = await natsConnection(t, own.servers);
  const { name } = await leaseBucket(t, nc, TTL, 500);
  const a = await startProcess(t, name, 'proc-a', own.servers);
  t.ok(await a.manager.acquire('p'));
  const loss = a.nextLoss(TTL + SLACK);
  await own.kill();
  const l = await loss;
  t.equal(l?.reason, 'expired', 'the holder gives the partition up when it cannot renew');
  const t0 = performance.now();
  await t.rejects(a.manager.acquire('q'), DependencyUnavailableError, 'acquire fails with DEPENDENCY_UNAVAILABLE');
  const took = performance.now() - t0;
  t.ok(took < 500 + SLACK, `within the request timeout (${Math.round(took)} ms)`);
  await t.rejects(a.manager.current('p'), { code: 'DEPENDENCY_UNAVAILABLE' });
});

t.test('a NATS without JetStream is named as such', async (t) => {
  const own = await startNats(t, { jetstream: false });
  const nc = await natsConnection(t, own.servers);
  await t.rejects(openLeaseBucket(nc, { bucket: 'leases', ttlMs: TTL, requestTimeoutMs: 500 }), {
    code: 'DEPENDENCY_UNAVAILABLE',
    message: /jetstream is not enabled .*start nats-server with -js/,
  });
});

t.test('settings: the bucket TTL is every holder’s, renewals fit inside it', async (t) => {
  const nc = await natsConnection(t);
  const { name, kv } = await leaseBucket(t, nc, TTL);
  await t.rejects(openLeaseBucket(nc, { bucket: name, ttlMs: 2 * TTL }), /exists with a TTL of 2000 ms, not 4000 ms/);
  await t.rejects(openLeaseBucket(nc, { bucket: 'x', ttlMs: 10 }), RangeError);
  const bucket = { name, ttlMs: TTL, kv, destroy: async () => {} };
  t.throws(() => new LeaseManager({ bucket, owner: 'o', renewEveryMs: 1_900, marginMs: 200 }), RangeError);
  const m = new LeaseManager({ bucket, owner: 'o' });
  t.equal(m.owner, 'o', 'defaults (TTL/3, TTL/10) are valid');
});
