import { randomBytes } from 'node:crypto';
import t, { type Test } from 'tap';
import {
  CommandRouter,
  CommandServer,
  commandSubject,
  type RunCommand,
} from '../../../adapters/cluster/command-bus.js';
import { openLeaseBucket } from '../../../adapters/cluster/nats-connection.js';
import { LeaseManager, type Lease } from '../../../adapters/cluster/nats-lease.js';
import { PartitionHost } from '../../../adapters/cluster/partition-host.js';
import { Engine, SimulatedClock } from '../../../engine/index.js';
import { reject, type RiderId } from '../../../protocol/index.js';
import { PausableClock, leaseBucket, natsConnection } from '../../support/nats.js';

/**
 * Engine commands routed over the real NATS (127.0.0.1:4222) to the owner of
 * their partition: request-reply on `<prefix>.cmd.<partition>`, answered only
 * by the process holding the partition's lease; a clear 503 when no one owns
 * it; failover when the owner dies. Each "process" here is an engine, a NATS
 * connection, a lease manager and a partition host of its own.
 */

const TTL = 2_000;
const RENEW = 600;
const MARGIN = 200;
/** The shared 2-core machine runs other suites: room for a late timer or a slow answer. */
const SLACK = 1_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const rider = (id: string) => id as RiderId;

/** Runs a command in `engine` (never queued here: nothing else runs in it). */
const runIn =
  (engine: Engine): RunCommand =>
  (cmd) => {
    const x = engine.execute(cmd);
    return Promise.resolve(x.queued ? reject('INTERNAL', 'queued') : x.result);
  };

async function startProcess(t: Test, bucketName: string, prefix: string, owner: string, partitions: string[]) {
  const nc = await natsConnection(t);
  const bucket = await openLeaseBucket(nc, { bucket: bucketName, ttlMs: TTL, requestTimeoutMs: 500 });
  const clock = new PausableClock();
  const engine = new Engine({ clock: new SimulatedClock() });
  t.teardown(() => engine.stop());
  let gate: Promise<void> | null = null;
  const run = runIn(engine);
  let leases: LeaseManager | undefined = undefined;
  const commands = new CommandServer(nc, {
    prefix,
    run: async (cmd, partition, token) => {
      if (gate) await gate;
      return run(cmd, partition, token);
    },
    holds: (p, token) => leases?.leaseOf(p)?.token === token,
  });
  const adopted: Lease[] = [];
  const abandoned: string[] = [];
  let host: PartitionHost | undefined = undefined;
  leases = new LeaseManager({
    bucket,
    owner,
    renewEveryMs: RENEW,
    marginMs: MARGIN,
    clock,
    onLost: (lease) => host?.lost(lease),
  });
  host = new PartitionHost({
    leases,
    commands,
    partitions,
    claimEveryMs: 200,
    clock,
    adopt: async (lease) => {
      adopted.push(lease);
    },
    abandon: (p) => {
      abandoned.push(p);
    },
  });
  t.teardown(async () => {
    await host.close().catch(() => {});
    await leases.close();
  });
  await host.start();
  const hold = () => {
    let open = () => {};
    gate = new Promise((r) => (open = r));
    return () => {
      gate = null;
      open();
    };
  };
  return { nc, clock, engine, commands, leases, host, adopted, abandoned, hold };
}

async function cluster(t: Test) {
  const nc = await natsConnection(t);
  const bucket = await leaseBucket(t, nc, TTL);
  const prefix = `t_bus_${process.pid}_${randomBytes(3).toString('hex')}`;
  const router = new CommandRouter(nc, { prefix, timeoutMs: 500 });
  return { nc, bucket, prefix, router };
}

/** Sends until the answer is no longer NO_PARTITION_OWNER, or `withinMs` passes. */
async function sendUntilOwned(router: CommandRouter, partition: string, id: string, withinMs: number) {
  const start = performance.now();
  let misses = 0;
  while (performance.now() - start < withinMs) {
    const r = await router.send(partition, { type: 'register_rider', riderId: rider(id) });
    if (r.ok || r.code !== 'NO_PARTITION_OWNER') return { r, at: performance.now(), misses };
    misses++;
    await sleep(50);
  }
  return null;
}

t.test('a command reaches the owner of its partition and answers its result and the lease token', async (t) => {
  const c = await cluster(t);
  const a = await startProcess(t, c.bucket.name, c.prefix, 'proc-a', ['north']);
  const b = await startProcess(t, c.bucket.name, c.prefix, 'proc-b', ['south']);
  t.same(a.host.serving(), ['north']);
  t.same(b.host.serving(), ['south']);
  t.same(
    a.adopted.map((l) => l.partition),
    ['north'],
    'rebuilt before serving',
  );

  const r = await c.router.send('north', { type: 'register_rider', riderId: rider('r1') });
  t.match(r, { ok: true, value: null, token: a.leases.leaseOf('north')!.token });
  t.ok(a.engine.getRider(rider('r1')).ok, "in north's engine");
  t.notOk(b.engine.getRider(rider('r1')).ok, "not in south's");
  t.match(await c.router.send('north', { type: 'register_rider', riderId: rider('r1') }), {
    ok: false,
    code: 'RIDER_EXISTS',
  });
  t.match(await c.router.send('south', { type: 'rider_online', riderId: rider('nobody') }), {
    ok: false,
    code: 'RIDER_NOT_FOUND',
  });
});

t.test('no owner is a 503 at once; bad requests and bad partition names get clear errors', async (t) => {
  const c = await cluster(t);
  await startProcess(t, c.bucket.name, c.prefix, 'proc-a', ['north']);
  const t0 = performance.now();
  const r = await c.router.send('east', { type: 'register_rider', riderId: rider('x') });
  t.match(r, { ok: false, code: 'NO_PARTITION_OWNER', detail: /no engine owns partition east/ });
  t.ok(performance.now() - t0 < 400, 'answered by NATS at once, not by the timeout');
  t.match(await c.router.send('a.b', { type: 'register_rider', riderId: rider('x') }), {
    ok: false,
    code: 'INVALID_ARGUMENT',
  });
  for (const [body, detail] of [
    ['{', /not JSON/],
    ['{"v":2}', /unknown version/],
    ['{"v":1,"partition":"north"}', /no command/],
    ['{"v":1,"partition":"south","cmd":{"type":"rider_online"}}', /names south/],
  ] as const) {
    const msg = await c.nc.request(commandSubject(c.prefix, 'north'), new TextEncoder().encode(body), {
      timeout: 2_000,
    });
    t.match(JSON.parse(new TextDecoder().decode(msg.data)), { ok: false, code: 'INVALID_ARGUMENT', detail }, body);
  }
  t.match(await c.router.send('north', { type: 'no_such_command' } as never), {
    ok: false,
    code: 'INVALID_ARGUMENT',
    detail: /unknown command type/,
  });
});

t.test('kill -9 of an owner: another process owns and serves its partitions within the TTL', async (t) => {
  const c = await cluster(t);
  const a = await startProcess(t, c.bucket.name, c.prefix, 'proc-a', ['north', 'south']);
  const b = await startProcess(t, c.bucket.name, c.prefix, 'proc-b', ['north', 'south']);
  const d = await startProcess(t, c.bucket.name, c.prefix, 'proc-d', ['north', 'south']);
  t.same(a.host.serving().sort(), ['north', 'south'], 'the first process took both');
  t.same([...b.host.serving(), ...d.host.serving()], [], 'the others wait');
  const before = a.leases.leaseOf('north')!.token;
  const acked: string[] = [];
  for (let i = 0; i < 20; i++) {
    const r = await c.router.send(i % 2 ? 'north' : 'south', { type: 'register_rider', riderId: rider(`k${i}`) });
    if (r.ok) acked.push(`k${i}`);
  }
  t.equal(acked.length, 20, 'all acknowledged before the kill');

  // The kill: timers frozen for good, the socket closed with no release; NATS drops its subscriptions.
  a.clock.pause();
  const killedAt = performance.now();
  await a.nc.close();
  const miss = await c.router.send('north', { type: 'register_rider', riderId: rider('during') });
  t.match(miss, { ok: false, code: 'NO_PARTITION_OWNER' }, 'a clear 503 while no one owns it');

  const north = await sendUntilOwned(c.router, 'north', 'after-n', TTL + MARGIN + SLACK * 2);
  const south = await sendUntilOwned(c.router, 'south', 'after-s', TTL + MARGIN + SLACK * 2);
  t.ok(north && south, 'both partitions answer again');
  if (!north || !south) return;
  const waited = Math.max(north.at, south.at) - killedAt;
  t.ok(waited <= TTL + MARGIN + SLACK, `served again ${Math.round(waited)} ms after the kill (TTL ${TTL} ms)`);
  t.ok(north.r.ok && (north.r.token ?? 0) > before, 'under a newer lease token');
  const owners = [b, d].map((p) => p.host.serving().sort());
  t.same(owners.flat().sort(), ['north', 'south'], 'each partition has exactly one new owner');
  t.same(
    [...b.adopted, ...d.adopted].map((l) => l.partition).sort(),
    ['north', 'south'],
    'each rebuilt once by its new owner',
  );
});

t.test('a paused owner times out as a 503, and stops serving once it learns the lease moved', async (t) => {
  const c = await cluster(t);
  const a = await startProcess(t, c.bucket.name, c.prefix, 'proc-a', ['north']);
  const b = await startProcess(t, c.bucket.name, c.prefix, 'proc-b', ['north']);
  t.same(a.host.serving(), ['north']);
  // SIGSTOP, as far as one process can play it: commands hang and lease timers stop.
  const open = a.hold();
  a.clock.pause();
  const slow = await c.router.send('north', { type: 'register_rider', riderId: rider('paused') });
  t.match(slow, { ok: false, code: 'NO_PARTITION_OWNER', detail: /did not answer within 500 ms/ });
  // The lease lapses in NATS; b takes it, while a's subscription still exists: NATS now has two
  // responders and either may answer, so the test waits until b has it before looking.
  const until = performance.now() + TTL + MARGIN + SLACK * 2;
  while (b.host.serving().length === 0 && performance.now() < until) await sleep(50);
  t.same(b.host.serving(), ['north'], 'b owns north');
  // SIGCONT: a's timers run, it finds its lease gone and stops answering north.
  a.clock.resume();
  open();
  const deadline = performance.now() + SLACK * 2;
  while (a.host.serving().length > 0 && performance.now() < deadline) await sleep(25);
  t.same(a.host.serving(), [], 'a answers north no more');
  t.same(a.abandoned, ['north'], 'and dropped its state');
  const r = await c.router.send('north', { type: 'register_rider', riderId: rider('after') });
  t.match(r, { ok: true, token: b.leases.leaseOf('north')!.token }, "b's tenure answers");
  t.notOk(a.engine.getRider(rider('after')).ok);
});

/** Waits until `p` serves `partition`, at most the lease's TTL and margin plus slack. */
async function waitServing(p: { host: PartitionHost }, partition: string) {
  const until = performance.now() + TTL + MARGIN + SLACK * 2;
  while (!p.host.serving().includes(partition) && performance.now() < until) await sleep(50);
  return p.host.serving().includes(partition);
}

t.test('an owner woken past its lease, before its timers tell it so, answers nothing for the partition', async (t) => {
  const c = await cluster(t);
  const a = await startProcess(t, c.bucket.name, c.prefix, 'proc-a', ['north']);
  const b = await startProcess(t, c.bucket.name, c.prefix, 'proc-b', ['north']);
  t.same(a.host.serving(), ['north']);
  const aToken = a.leases.leaseOf('north')!.token;
  // Only a's lease timers stop (as if they were still queued behind a long pause): its NATS
  // subscription stays and keeps receiving requests, as a process just woken from SIGSTOP does.
  a.clock.pause();
  t.ok(await waitServing(b, 'north'), 'b owns north');
  t.same(a.host.serving(), ['north'], "a's subscription is still there: both receive north's commands");
  const bToken = b.leases.leaseOf('north')!.token;
  t.ok(bToken > aToken);
  const answers = [];
  for (let i = 0; i < 20; i++) {
    answers.push(await c.router.send('north', { type: 'register_rider', riderId: rider(`woken-${i}`) }));
  }
  t.same(
    answers.filter((r) => !r.ok || r.token !== bToken),
    [],
    "every command answered by b's tenure; a, past its lease, stays silent",
  );
  t.same(
    answers.map((_, i) => i).filter((i) => a.engine.getRider(rider(`woken-${i}`)).ok),
    [],
    'a ran none of them',
  );
  a.clock.resume();
});

t.test('a lease that lapses while a command runs: the command is not acknowledged', async (t) => {
  const c = await cluster(t);
  const a = await startProcess(t, c.bucket.name, c.prefix, 'proc-a', ['north']);
  const b = await startProcess(t, c.bucket.name, c.prefix, 'proc-b', ['north']);
  t.same(a.host.serving(), ['north']);
  const patient = new CommandRouter(c.nc, { prefix: c.prefix, timeoutMs: TTL * 5 });
  const open = a.hold();
  a.clock.pause();
  // Received by a alone (b does not subscribe yet) and held inside its run.
  const pending = patient.send('north', { type: 'register_rider', riderId: rider('in-flight') });
  t.ok(await waitServing(b, 'north'), 'b owns north meanwhile');
  open(); // the run finishes; a's lease timers have still not run
  t.match(
    await pending,
    { ok: false, code: 'NO_PARTITION_OWNER', detail: /lapsed while the command ran: it may have run/ },
    'not acknowledged by a tenure that ended under it',
  );
  a.clock.resume();
  const r = await patient.send('north', { type: 'register_rider', riderId: rider('in-flight') });
  t.match(r, { ok: true, token: b.leases.leaseOf('north')!.token }, 'the retry is answered by the new owner');
});
