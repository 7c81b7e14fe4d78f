/**
 * docker-compose.yml, validated by Debian's docker-compose (`docker-compose
 * config`: the schema, interpolation, anchors; no Docker engine needed) and
 * read back: the whole stack is there and wired as docs/operations.md says,
 * the server's environment is one its own configuration parser accepts in
 * production, the commands are those of `npm start`, `npm run worker` and
 * `npm run migrate`, and Caddy gets every variable edge/Caddyfile reads.
 * Skipped, saying why, only where the docker-compose binary is missing
 * (`./dev setup` installs it).
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { parseServerConfig } from '../../adapters/server/server-config.js';
import { imageCommand } from '../support/jemalloc.js';
import { caddyEnv } from '../../scripts/edge/config.js';

const run = promisify(execFile);

/**
 * A service's volumes as { source, target }: docker-compose's `config` prints them in the long
 * syntax or, in some builds of 1.29 (Debian 12's), as the short "source:target[:mode]" strings.
 */
function mounts(volumes: unknown): { source: string; target: string }[] {
  return (volumes as (string | { source: string; target: string })[]).map((v) => {
    if (typeof v !== 'string') return v;
    const [source = '', target = ''] = v.split(':');
    return { source, target };
  });
}
const ROOT = resolve(import.meta.dirname, '..', '..');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };

const which = await run('sh', ['-c', 'command -v docker-compose']).then(
  (r) => r.stdout.trim(),
  () => '',
);
if (which === '') {
  t.test(
    'docker-compose config',
    { skip: 'docker-compose is not installed (Debian package docker-compose; ./dev setup installs it)' },
    async () => {},
  );
} else {
  const dir = mkdtempSync(join(tmpdir(), 'compose-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const keyFile = join(dir, 'firebase-key.json');
  writeFileSync(keyFile, '{}');
  /** What a filled-in .env holds (deploy/compose/.env.example names every key). */
  const dotEnv: Record<string, string> = {
    POSTGRES_PASSWORD: randomBytes(12).toString('hex'),
    ENCRYPTION_KEY: randomBytes(32).toString('hex'),
    FIREBASE_PROJECT_ID: 'dispatch-prod',
    FIREBASE_SERVICE_ACCOUNT_FILE: keyFile,
    PAYMENT_WEBHOOK_SECRET: randomBytes(16).toString('hex'),
    UPI_PAYEE_VPA: 'dispatch@okhdfc',
    UPI_GATEWAY_URL: 'https://api.razorpay.com',
    UPI_MERCHANT_ID: 'acc_live',
    UPI_API_KEY: 'rzp_live_x',
    UPI_API_KEY_SECRET: 'secret',
  };
  const compose = (env: Record<string, string>) =>
    run('docker-compose', ['--project-directory', ROOT, '-f', join(ROOT, 'docker-compose.yml'), 'config'], {
      cwd: dir,
      env: { PATH: process.env['PATH'] ?? '', HOME: dir, ...env },
    });

  // Every await before the first subtest: a subtest created after an await can come after the root
  // test has ended on a slow run, and tap then drops it with "cannot create subtest after parent
  // test ends" instead of failing.
  const { stdout } = await compose(dotEnv);
  const cfg = parse(stdout) as {
    services: Record<string, any>;
    secrets: Record<string, { file: string }>;
    volumes: Record<string, unknown>;
  };
  const s = cfg.services;

  t.test('.env.example names every variable the file requires', async (t) => {
    const example = readFileSync(join(ROOT, 'deploy', 'compose', '.env.example'), 'utf8');
    const required = [...readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8').matchAll(/\$\{(\w+):\?/g)].map(
      (m) => m[1]!,
    );
    for (const name of new Set(required)) {
      t.match(example, new RegExp(`^${name}=`, 'm'), `${name} in .env.example`);
      t.ok(name in dotEnv, `${name} is filled in by this test`);
    }
  });

  t.test('a missing secret stops docker-compose with its name and how to set it', async (t) => {
    const { ENCRYPTION_KEY: _, ...rest } = dotEnv;
    const err = await compose(rest).then(
      () => undefined,
      (e: unknown) => e as { stderr: string },
    );
    t.match(err?.stderr, /ENCRYPTION_KEY in \.env \(openssl rand -hex 32\)/);
  });

  t.test('the whole stack: Postgres, Redis, migrations, server, worker, Caddy, Prometheus', async (t) => {
    t.same(Object.keys(s).sort(), ['caddy', 'migrate', 'postgres', 'prometheus', 'redis', 'server', 'worker']);
    t.same(Object.keys(cfg.volumes).sort(), ['caddydata', 'pgdata', 'prometheusdata', 'redisdata'], 'state in volumes');
  });

  t.test('Redis keeps acknowledged events: AOF, fsync always, noeviction', async (t) => {
    const cmd = (s['redis'].command as string[]).join(' ');
    t.match(cmd, /--appendonly yes/);
    t.match(cmd, /--appendfsync always/);
    t.match(cmd, /--maxmemory-policy noeviction/);
    t.match(s['redis'].healthcheck.test, ['CMD', 'redis-cli', 'ping']);
  });

  t.test('commands are the npm scripts, run by node itself so SIGTERM reaches it', async (t) => {
    t.same(s['server'].command, imageCommand(pkg.scripts['start']!));
    t.same(s['worker'].command, pkg.scripts['worker']!.split(' '));
    t.same(s['migrate'].command, pkg.scripts['migrate']!.split(' '));
    for (const name of ['server', 'worker', 'migrate'])
      t.equal(s[name].build.context, ROOT, `${name} from this Dockerfile`);
    t.equal(s['migrate'].restart, 'no', 'migrations run once');
  });

  t.test('start order: migrations after Postgres is ready; server and worker after migrations succeeded', async (t) => {
    t.same(s['migrate'].depends_on, { postgres: { condition: 'service_healthy' } });
    for (const name of ['server', 'worker'])
      t.match(s[name].depends_on, {
        migrate: { condition: 'service_completed_successfully' },
        redis: { condition: 'service_healthy' },
      });
    t.same(s['caddy'].depends_on, { server: { condition: 'service_healthy' } });
  });

  t.test("the server's environment is one its configuration accepts in production", async (t) => {
    const env = s['server'].environment as Record<string, string>;
    t.equal(env['NODE_ENV'], 'production');
    t.equal(env['WRITE_BEHIND_IN_PROCESS'], 'false', 'the worker service writes behind, not the server');
    t.equal(env['DATABASE_URL'], `postgres://dispatch:${dotEnv['POSTGRES_PASSWORD']}@postgres:5432/dispatch`);
    const config = parseServerConfig(env);
    t.equal(config.mode, 'production');
    t.equal(config.host, '0.0.0.0');
    t.equal(config.inProcessWorker, false);
    t.equal(config.persistence.mode, 'server');
    t.equal(config.rest.trustProxy, true, 'behind Caddy');
    t.match(config.firebase, {
      projectId: 'dispatch-prod',
      serviceAccountKey: { kind: 'path', path: '/run/secrets/firebase_service_account' },
    });
    t.same(s['server'].secrets, [{ source: 'firebase_service_account' }]);
    t.equal(cfg.secrets['firebase_service_account']!.file, keyFile, 'the key is a Docker secret from the host file');
    t.notOk(s['server'].ports, 'the server publishes no port: Caddy is the one public endpoint');
    const worker = s['worker'].environment as Record<string, string>;
    for (const k of ['DATABASE_URL', 'REDIS_URL', 'NODE_ENV', 'FIREBASE_PROJECT_ID', 'SHUTDOWN_GRACE_MS'])
      t.equal(worker[k], env[k], `the worker shares ${k}`);
    t.ok(Number(env['SHUTDOWN_GRACE_MS']) < 30_000, 'the grace period ends before stop_grace_period (30 s)');
    t.equal(s['server'].stop_grace_period, '30s');
  });

  t.test('Caddy: the repository Caddyfile with every variable it reads, TCP and UDP on one port', async (t) => {
    const env = s['caddy'].environment as Record<string, string>;
    const wanted = caddyEnv(
      {
        port: 8443,
        bind: '0.0.0.0',
        upstream: 'server:8080',
        certPath: '',
        keyPath: '',
        dataDir: '/data',
        admin: 'off',
      },
      {},
    );
    t.same(Object.keys(env).sort(), Object.keys(wanted).sort(), 'the variables scripts/edge/config.ts gives Caddy');
    t.equal(env['EDGE_UPSTREAM'], 'server:8080');
    t.match(mounts(s['caddy'].volumes), [{ source: join(ROOT, 'edge', 'Caddyfile'), target: '/etc/caddy/Caddyfile' }]);
    t.match(s['caddy'].image, /^caddy:2\.6/, 'the Caddy the edge tests run (Debian 12: 2.6)');
    const ports = (s['caddy'].ports as { protocol: string; published: number; target: number }[]).map(
      (p) => `${p.published}/${p.protocol}`,
    );
    t.same(ports.sort(), ['8443/tcp', '8443/udp'], 'HTTP/3 needs the UDP port too');
  });

  t.test("Prometheus scrapes the server's metrics port and is on loopback only", async (t) => {
    const env = s['server'].environment as Record<string, string>;
    const mount = mounts(s['prometheus'].volumes).find((v) => v.target === '/etc/prometheus/prometheus.yml');
    t.ok(mount && existsSync(mount.source), 'its configuration is in the repository');
    const prom = parse(readFileSync(mount!.source, 'utf8')) as {
      scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[];
    };
    const job = prom.scrape_configs.find((j) => j.job_name === 'dispatch-server');
    t.same(
      job?.static_configs[0]?.targets,
      [`server:${env['METRICS_PORT']}`, `worker:${env['METRICS_PORT']}`],
      "the server's and the worker's metrics",
    );
    // Long syntax ({ host_ip }) or, in Debian 12's docker-compose, "host_ip:published:target/protocol".
    const hosts = (s['prometheus'].ports as (string | { host_ip?: string })[]).map((p) =>
      typeof p === 'string' ? p.split(':')[0] : p.host_ip,
    );
    t.ok(hosts.length > 0 && hosts.every((h) => h === '127.0.0.1'), `published on loopback only: ${hosts.join(', ')}`);
  });
}
