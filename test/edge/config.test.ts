/** The edge's variables, the environment Caddy gets, and the Caddyfile Caddy makes of it. */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import t from 'tap';
import { ErrorCodes } from '../../protocol/index.js';
import { CADDYFILE, caddyArgs, caddyEnv, parseEdgeConfig } from '../../scripts/edge/config.js';

const run = promisify(execFile);

t.test('defaults: gateway on 127.0.0.1:8080, edge on 127.0.0.1:8443, admin off, folders under .dev', async (t) => {
  const c = parseEdgeConfig({}, '/repo');
  t.match(c, {
    port: 8443,
    bind: '127.0.0.1',
    upstream: '127.0.0.1:8080',
    upstreamUrl: 'http://127.0.0.1:8080',
    certPath: undefined,
    keyPath: undefined,
    certDir: '/repo/.dev/certs',
    dataDir: '/repo/.dev/caddy',
    admin: 'off',
    upstreamCommand: undefined,
  });
  t.same(c.certHosts, []);
  t.ok(Object.isFrozen(c));
});

t.test('follows SERVER_HOST and SERVER_PORT of the gateway', async (t) => {
  t.equal(
    parseEdgeConfig({ SERVER_HOST: '0.0.0.0', SERVER_PORT: '9000' }).upstream,
    '127.0.0.1:9000',
    'any-address is dialled on loopback',
  );
  t.equal(parseEdgeConfig({ SERVER_HOST: '::1', SERVER_PORT: '9000' }).upstreamUrl, 'http://[::1]:9000');
  t.same(parseEdgeConfig({ EDGE_CERT_HOSTS: 'dispatch.test, 192.168.1.5,' }).certHosts, [
    'dispatch.test',
    '192.168.1.5',
  ]);
});

t.test('refuses bad values', async (t) => {
  t.throws(() => parseEdgeConfig({ EDGE_PORT: '70000' }), /EDGE_PORT/);
  t.throws(() => parseEdgeConfig({ SERVER_PORT: 'http' }), /SERVER_PORT/);
  t.throws(() => parseEdgeConfig({ EDGE_CERT: 'a.crt' }), /both EDGE_CERT and EDGE_KEY/);
  t.throws(() => parseEdgeConfig({ EDGE_ADMIN: '0.0.0.0:2019' }), /loopback/);
  t.equal(parseEdgeConfig({ EDGE_ADMIN: '127.0.0.1:2999' }).admin, '127.0.0.1:2999');
});

t.test('caddyEnv keeps Caddy inside its data folder and drops stray EDGE_ variables', async (t) => {
  const env = caddyEnv(
    {
      port: 9443,
      bind: '127.0.0.1',
      upstream: '127.0.0.1:9000',
      certPath: '/c/s.crt',
      keyPath: '/c/s.key',
      dataDir: '/d',
      admin: 'off',
    },
    { PATH: '/usr/bin', HOME: '/root', EDGE_UPSTREAM_CMD: 'x' },
  );
  t.same(env, {
    PATH: '/usr/bin',
    HOME: '/root',
    EDGE_PORT: '9443',
    EDGE_BIND: '127.0.0.1',
    EDGE_UPSTREAM: '127.0.0.1:9000',
    EDGE_CERT: '/c/s.crt',
    EDGE_KEY: '/c/s.key',
    EDGE_DATA_DIR: '/d/storage',
    EDGE_ADMIN: 'off',
    XDG_DATA_HOME: '/d/xdg-data',
    XDG_CONFIG_HOME: '/d/xdg-config',
  });
});

t.test('the Caddyfile adapts to what the edge promises', async (t) => {
  const env = caddyEnv(
    {
      port: 9443,
      bind: '127.0.0.1',
      upstream: '127.0.0.1:9000',
      certPath: '/c/s.crt',
      keyPath: '/c/s.key',
      dataDir: '/d',
      admin: 'off',
    },
    process.env,
  );
  const { stdout } = await run('caddy', ['adapt', '--config', CADDYFILE, '--adapter', 'caddyfile'], { env });
  const json = JSON.parse(stdout) as {
    admin: { disabled?: boolean };
    storage: { root: string };
    apps: {
      http: {
        servers: Record<string, { listen: string[]; protocols: string[]; automatic_https: { disable: boolean } }>;
      };
    };
  };
  t.equal(json.admin.disabled, true, 'admin endpoint off');
  t.equal(json.storage.root, '/d/storage');
  const [srv, ...others] = Object.values(json.apps.http.servers);
  t.equal(others.length, 0, 'one server: no port-80 redirect listener');
  t.same(srv?.listen, ['127.0.0.1:9443']);
  t.same(srv?.protocols, ['h1', 'h2', 'h3']);
  t.equal(srv?.automatic_https.disable, true, 'no ACME, no Caddy-managed certificates');
  t.match(stdout, /"max_size":1000000/);
  t.match(stdout, /"dial":"127.0.0.1:9000"/);
  // Every problem code the edge answers with is in the one error table, with the same status.
  const problems = [...stdout.matchAll(/\\"code\\":\\"([A-Z_]+)\\",\\"title\\":\\"([^\\]*)\\",\\"status\\":(\d{3})/g)];
  t.equal(problems.length, 4, 'four problem bodies: too large, unknown method, gateway down, anything else');
  for (const [, code = '', title, status] of problems) {
    t.ok(Object.hasOwn(ErrorCodes, code), `${code} is in protocol/errors.ts`);
    const spec = ErrorCodes[code as keyof typeof ErrorCodes];
    t.equal(String(spec?.http), status, `${code} status`);
    t.equal(spec?.title, title, `${code} title`);
  }
  t.same(caddyArgs(), ['run', '--config', CADDYFILE, '--adapter', 'caddyfile']);
});
