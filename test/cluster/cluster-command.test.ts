import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { CommandRouter } from '../../adapters/cluster/command-bus.js';
import { writeLocalMap } from '../../bench/cluster/engines.js';
import type { RestaurantId } from '../../protocol/index.js';
import { until } from '../contracts/job-queue.contract.js';
import { useAuthEmulator } from '../support/firebase-emulator.js';
import { leaseBucket, natsConnection, SHARED_NATS } from '../support/nats.js';
import { throwawayDatabase } from '../support/pg.js';
import { SHARED_REDIS } from '../support/redis-server.js';

/**
 * `npm run cluster` (scripts/cluster.ts): engine processes started together,
 * answering every partition's commands over NATS, and stopped together by
 * SIGINT, each giving its leases back; bad flags refused with the usage.
 */

t.setTimeout(120_000);

t.test(
  'npm run cluster: two engines serve every partition behind a gateway; SIGINT stops them and frees the leases',
  async (t) => {
    const url = await throwawayDatabase(t, 'cluster_command');
    const nc = await natsConnection(t);
    const bucket = await leaseBucket(t, nc, 3_000);
    const dir = await mkdtemp(join(tmpdir(), 'cluster-cmd-'));
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    const mapFile = join(dir, 'map.json');
    const map = await writeLocalMap(mapFile, 4);
    const prefix = `tcc${randomBytes(4).toString('hex')}`;
    const emu = await useAuthEmulator(t);
    const args = ['--import', 'tsx', 'scripts/cluster.ts', '--engines', '2', '--gateways', '1', '--map', mapFile];
    const child = spawn(process.execPath, args, {
      env: {
        ...process.env,
        NODE_ENV: 'test',
        SERVER_PORT: '0',
        FIREBASE_AUTH_EMULATOR_HOST: emu.host,
        FIREBASE_PROJECT_ID: emu.projectId,
        DATABASE_URL: url,
        REDIS_URL: `redis://${SHARED_REDIS.host}:${SHARED_REDIS.port}`,
        QUEUE_PREFIX: prefix,
        NATS_URL: SHARED_NATS,
        CLUSTER_PREFIX: prefix,
        LEASE_BUCKET: bucket.name,
        LEASE_TTL_MS: '3000',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    t.teardown(() => {
      child.kill('SIGKILL');
    });
    await until(() => out.includes('cluster: 2 engine processes'), 60_000);
    t.match(out, /engine-1 \| .*"msg":"partition p\d owned/, 'each line names its process');
    const router = new CommandRouter(nc, { prefix, timeoutMs: 1_000 });
    const answered = async () => {
      const rs = await Promise.all(
        map.ids.map((p) =>
          router.send(p, {
            type: 'set_restaurant_status',
            restaurantId: 'none' as RestaurantId,
            status: 'open',
          }),
        ),
      );
      return rs.every((r) => !r.ok && r.code !== 'NO_PARTITION_OWNER');
    };
    await until(answered, 20_000);
    t.pass('every partition answered by an owner (the engine refuses the unknown restaurant)');
    await until(() => /cluster: 1 gateways on http:\/\/127\.0\.0\.1:\d+/.test(out), 60_000);
    const port = Number(/cluster: 1 gateways on http:\/\/127\.0\.0\.1:(\d+)/.exec(out)![1]);
    t.match(out, /gateway-1 \| .*"service":"gateway"/, "the gateway's lines are named too");
    // Healthy once its first round of probes has run (the emulator's answer can take a moment under load).
    let health = '';
    await until(async () => {
      const r = await fetch(`http://127.0.0.1:${port}/health`);
      health = await r.text();
      return r.status === 200;
    }, 20_000);
    t.match(
      JSON.parse(health),
      { status: 'healthy', checks: { nats: /NATS/ } },
      'the gateway answers /health, NATS checked',
    );
    const unknown = await fetch(`http://127.0.0.1:${port}/orders/nope`);
    t.equal(unknown.status, 401, 'and the REST API (no token: 401)');
    child.kill('SIGINT');
    t.equal(await exited, 0, 'SIGINT stops the cluster cleanly');
    const held = await Promise.all(map.ids.map((p) => bucket.kv.get(p)));
    t.same(
      held.filter((e) => e !== null && e.operation === 'PUT'),
      [],
      'every lease given back',
    );
  },
);

t.test('npm run cluster refuses bad flags with its usage', async (t) => {
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/cluster.ts', '--engines', '0'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
  t.equal(code, 2);
  t.match(err, /--engines must be an integer in 1\.\.32\nusage: npm run cluster/);
});
