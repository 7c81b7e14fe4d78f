/**
 * The operations settings of the server configuration: the seed's
 * DATABASE_MAX_CONNECTIONS, REDIS_MAX_CONNECTIONS, METRICS_PORT and
 * HEALTH_CHECK_INTERVAL, the log settings, and unknown or malformed values
 * listed all together.
 */
import t from 'tap';
import {
  parseServerConfig,
  redisConnectionsNeeded,
  ServerConfigError,
} from '../../../adapters/server/server-config.js';

const server = { DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/x', REDIS_URL: 'redis://127.0.0.1:6379' };

t.test('defaults: metrics on 9090 beside the server, checks every 5 s, pool of 10, info logs', async (t) => {
  const c = parseServerConfig({ NODE_ENV: 'test', ...server });
  t.same(c.metrics, { host: '127.0.0.1', port: 9090 });
  t.equal(c.healthCheckIntervalMs, 5_000);
  t.equal(c.persistence.mode === 'server' && c.persistence.maxConnections, 10);
  t.same(c.log, { level: 'info', format: 'json' });
  t.equal(c.keyFile, 'data/encryption.key');
  t.same(c.unused, []);
});

t.test('each seed variable is honoured', async (t) => {
  const c = parseServerConfig({
    NODE_ENV: 'test',
    ...server,
    SERVER_HOST: '0.0.0.0',
    DATABASE_MAX_CONNECTIONS: '40',
    REDIS_MAX_CONNECTIONS: '20',
    METRICS_PORT: '9191',
    HEALTH_CHECK_INTERVAL: '30',
    LOG_LEVEL: 'warn',
    DATA_DIR: '/var/lib/dispatch',
    MAPS_API_KEY: 'AIza-unused',
  });
  t.equal(c.persistence.mode === 'server' && c.persistence.maxConnections, 40);
  t.same(c.metrics, { host: '0.0.0.0', port: 9191 }, 'metrics follow SERVER_HOST unless METRICS_HOST says');
  t.equal(c.healthCheckIntervalMs, 30_000, 'a bare number is seconds');
  t.equal(parseServerConfig({ NODE_ENV: 'test', HEALTH_CHECK_INTERVAL: '250ms' }).healthCheckIntervalMs, 250);
  t.equal(parseServerConfig({ NODE_ENV: 'test', HEALTH_CHECK_INTERVAL: '2s' }).healthCheckIntervalMs, 2_000);
  t.equal(c.log.level, 'warn');
  t.equal(c.keyFile, '/var/lib/dispatch/encryption.key');
  t.same(c.unused, ['MAPS_API_KEY'], 'a seed variable with no use here is reported, not silently taken');
  t.equal(parseServerConfig({ NODE_ENV: 'test', METRICS_HOST: '0.0.0.0' }).metrics.host, '0.0.0.0');
});

t.test('REDIS_MAX_CONNECTIONS below what the process opens stops it', async (t) => {
  t.equal(redisConnectionsNeeded(true), 7);
  t.equal(redisConnectionsNeeded(false), 3);
  t.throws(
    () => parseServerConfig({ NODE_ENV: 'test', ...server, REDIS_MAX_CONNECTIONS: '5' }),
    /REDIS_MAX_CONNECTIONS is 5, but this process opens 7 Redis connections/,
  );
  t.doesNotThrow(() =>
    parseServerConfig({ NODE_ENV: 'test', ...server, REDIS_MAX_CONNECTIONS: '5', WRITE_BEHIND_IN_PROCESS: 'false' }),
  );
  t.doesNotThrow(() => parseServerConfig({ NODE_ENV: 'test', REDIS_MAX_CONNECTIONS: '1' }), 'embedded mode opens none');
});

t.test('malformed and unknown values stop the server with every problem listed', async (t) => {
  let err: unknown;
  try {
    parseServerConfig({
      NODE_ENV: 'staging',
      ...server,
      METRICS_PORT: 'ninety',
      HEALTH_CHECK_INTERVAL: '5 minutes',
      LOG_LEVEL: 'loud',
      LOG_FORMAT: 'yaml',
      REDIS_MAX_CONNECTIONS: '-1',
    });
  } catch (e) {
    err = e;
  }
  t.type(err, ServerConfigError);
  const lines = (err as Error).message.split('\n');
  for (const re of [
    /^NODE_ENV must be development, test or production, got "staging"$/,
    /^METRICS_PORT must be an integer in 0\.\.65535, got "ninety"$/,
    /^REDIS_MAX_CONNECTIONS must be an integer in 1\.\.100000, got "-1"$/,
    /^LOG_LEVEL must be one of .*, got "loud"$/,
    /^LOG_FORMAT must be json or pretty, got "yaml"$/,
    /^HEALTH_CHECK_INTERVAL must be seconds .*, got "5 minutes"$/,
  ])
    t.ok(
      lines.some((l) => re.test(l)),
      String(re),
    );
  for (const name of [
    'NODE_ENV',
    'METRICS_PORT',
    'HEALTH_CHECK_INTERVAL',
    'LOG_LEVEL',
    'LOG_FORMAT',
    'REDIS_MAX_CONNECTIONS',
  ])
    t.ok(
      lines.some((l) => l.startsWith(name)),
      `${name} listed`,
    );
  t.throws(
    () => parseServerConfig({ NODE_ENV: 'test', ...server, DATABASE_MAX_CONNECTIONS: '1' }),
    /DATABASE_MAX_CONNECTIONS must be an integer in 2\.\.1000, got 1/,
  );
  t.throws(
    () => parseServerConfig({ NODE_ENV: 'test', SERVER_PORT: '9000', METRICS_PORT: '9000' }),
    /METRICS_PORT must differ from SERVER_PORT/,
  );
});

t.test(
  'IDENTITY_CACHE_SIZE: 50000 by default, 0 turns the cache off, anything else malformed stops the server',
  async (t) => {
    t.equal(parseServerConfig({ NODE_ENV: 'test' }).identityCacheSize, 50_000);
    t.equal(parseServerConfig({ NODE_ENV: 'test', IDENTITY_CACHE_SIZE: '0' }).identityCacheSize, 0);
    t.equal(parseServerConfig({ NODE_ENV: 'test', IDENTITY_CACHE_SIZE: '1000' }).identityCacheSize, 1000);
    for (const bad of ['-1', 'lots', '1.5', '50k', '1000001']) {
      t.throws(
        () => parseServerConfig({ NODE_ENV: 'test', IDENTITY_CACHE_SIZE: bad }),
        { name: 'ServerConfigError', message: `IDENTITY_CACHE_SIZE must be an integer in 0..1000000, got "${bad}"` },
        bad,
      );
    }
  },
);

t.test('production: a missing ENCRYPTION_KEY is a start-up error, never a 503 later', async (t) => {
  t.throws(() => parseServerConfig({ NODE_ENV: 'production', ...server }), /ENCRYPTION_KEY/);
  const dev = parseServerConfig({ NODE_ENV: 'development' });
  t.equal(dev.encryptionKey, undefined, 'development: generated into the data directory at start (e2e test)');
});
