/**
 * `./dev demo` (or `npm run demo -- [flags]`): a small city against the
 * running server (scripts/demo/demo-city.ts), through its public API and the
 * rider protocol, paying through the sandbox gateway. Prints a token and a
 * ready curl line per role, then one progress line every 10 s; Ctrl-C (or
 * SIGTERM) stops it cleanly and exits 0. Needs the Firebase Auth emulator
 * (development): the demo makes its own accounts there and deletes them when
 * it stops.
 */
import { parseFlags, UsageError } from '../bench/stats.js';
import { DemoCity, defaultDemoOptions } from './demo/demo-city.js';

const HELP = `usage: ./dev demo [--server URL] [--sandbox URL] [--restaurants N] [--riders N] [--customers N]
       [--orders-per-minute R] [--speed-mps S] [--radius-m M] [--prep-s S] [--lat L --lng L] [--duration S]

  --server   the running server (default http://127.0.0.1:$SERVER_PORT, 8080)
  --sandbox  the sandbox gateway the server pays through (default $UPI_GATEWAY_URL, http://127.0.0.1:9400)
  --duration stop by itself after S seconds (default 0: until Ctrl-C)`;

async function main(): Promise<number> {
  const env = process.env;
  let flags;
  try {
    flags = parseFlags(process.argv.slice(2), {
      server: `http://127.0.0.1:${env['SERVER_PORT'] || 8080}`,
      sandbox: env['UPI_GATEWAY_URL'] || 'http://127.0.0.1:9400',
      restaurants: defaultDemoOptions.restaurants,
      riders: defaultDemoOptions.riders,
      customers: defaultDemoOptions.customers,
      ordersPerMinute: defaultDemoOptions.ordersPerMinute,
      speedMps: defaultDemoOptions.speedMps,
      radiusM: defaultDemoOptions.radiusM,
      prepS: defaultDemoOptions.prepS,
      // Strings: parseFlags takes no negative numbers, and a city may lie west or south.
      lat: String(defaultDemoOptions.center.lat),
      lng: String(defaultDemoOptions.center.lng),
      duration: 0,
      help: false,
    });
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`demo: ${err.message}\n${HELP}\n`);
      return 2;
    }
    throw err;
  }
  if (flags.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  for (const k of ['restaurants', 'riders', 'customers'] as const)
    if (!Number.isInteger(flags[k]) || flags[k] < 1 || flags[k] > 500) {
      process.stderr.write(`demo: --${k} must be a whole number from 1 to 500\n`);
      return 2;
    }
  if (!(flags.ordersPerMinute > 0 && flags.speedMps > 0 && flags.radiusM >= 200 && flags.prepS >= 0)) {
    process.stderr.write('demo: --orders-per-minute and --speed-mps must be > 0, --radius-m >= 200, --prep-s >= 0\n');
    return 2;
  }
  const lat = Number(flags.lat);
  const lng = Number(flags.lng);
  if (!(Math.abs(lat) <= 85 && Math.abs(lng) <= 180) || flags.lat === '' || flags.lng === '') {
    process.stderr.write('demo: --lat must be a number in [-85, 85] and --lng in [-180, 180]\n');
    return 2;
  }
  const emulatorHost = env['FIREBASE_AUTH_EMULATOR_HOST'];
  if (!emulatorHost || env['NODE_ENV'] === 'production') {
    process.stderr.write(
      'demo: it mints its tokens on the Firebase Auth emulator: set FIREBASE_AUTH_EMULATOR_HOST (./dev demo does) and run the server in development\n',
    );
    return 2;
  }
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const city = new DemoCity({
    server: flags.server.replace(/\/+$/, ''),
    sandbox: flags.sandbox.replace(/\/+$/, ''),
    emulatorHost,
    projectId: env['FIREBASE_PROJECT_ID'] || 'demo-dispatch',
    restaurants: flags.restaurants,
    riders: flags.riders,
    customers: flags.customers,
    ordersPerMinute: flags.ordersPerMinute,
    speedMps: flags.speedMps,
    center: { lat, lng },
    radiusM: flags.radiusM,
    prepS: flags.prepS,
    tickMs: defaultDemoOptions.tickMs,
    log,
  });

  let stopping: Promise<number> | undefined;
  const stop = (why: string) =>
    (stopping ??= (async () => {
      log(`demo: ${why}: stopping (cancelling live orders, riders going offline, deleting demo accounts)`);
      const c = await city.stop();
      log(`demo: stopped; placed ${c.placed}, delivered ${c.delivered}, cancelled ${c.cancelled}`);
      return 0;
    })());
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));

  let creds;
  try {
    creds = await city.start();
  } catch (err) {
    log(`demo: ${err instanceof Error ? err.message : String(err)}`);
    await city.stop().catch(() => undefined);
    return 1;
  }
  const out = (line = '') => process.stdout.write(`${line}\n`);
  out(`demo: the city is running against ${flags.server}`);
  out(`live map: open ${flags.server}/console and paste the admin token`);
  for (const c of creds) {
    out();
    out(`${c.role} (${c.uid}):`);
    out(`  TOKEN=${c.token}`);
    out(`  ${c.curl.replace(c.token, '$TOKEN')}`);
  }
  out();
  out('tokens last an hour; Ctrl-C stops the demo');
  const progress = setInterval(() => {
    const c = city.counts;
    log(
      `demo: placed ${c.placed} paid ${c.paid} accepted ${c.accepted} delivered ${c.delivered} cancelled ${c.cancelled} failures ${c.failures}`,
    );
  }, 10_000);
  if (flags.duration > 0) setTimeout(() => void stop(`${flags.duration} s elapsed`), flags.duration * 1000).unref();
  await new Promise<void>((resolve) => {
    const wait = setInterval(() => {
      if (stopping) {
        clearInterval(wait);
        resolve();
      }
    }, 100);
  });
  clearInterval(progress);
  return stopping!;
}

process.exitCode = await main();
