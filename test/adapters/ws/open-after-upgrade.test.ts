/**
 * The pinned uWS build's use of freed memory after an asynchronous upgrade made inside `res.cork`
 * (docs/streams.md), over real sockets, under each C allocator; each case is
 * test/support/upgrade-hazard.ts in a process of its own, its route's `open` allocating native
 * memory as a busy gateway's does (blocks of every size up to 512 bytes, so one of them takes the
 * block the upgrade freed). Made as uWS's example makes it, the upgrade loses sockets to 1006 under
 * glibc and kills the process with SIGSEGV under jemalloc. Made by the
 * gateways' `authenticatingUpgrade`, which never corks the socket it upgrades after an await
 * (`upgradeAfterAwait`), every socket opens, with the `open` work inside the upgrade or after it.
 */
import t, { type Test } from 'tap';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { jemallocPath, withoutJemalloc } from '../../support/jemalloc.js';

const SOCKETS = 300;

type Outcome = { clean: number; dropped: number } | { signal: string };

async function hazard(
  style: 'example' | 'gateway',
  open: 'inside' | 'after',
  env: NodeJS.ProcessEnv,
): Promise<Outcome> {
  try {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', 'test/support/upgrade-hazard.ts', style, open, String(SOCKETS)],
      { env, timeout: 60_000 },
    );
    return JSON.parse(stdout.trim().split('\n').at(-1)!) as Outcome;
  } catch (err) {
    const signal = (err as { signal?: string | null }).signal;
    if (typeof signal === 'string') return { signal };
    throw err;
  }
}

const glibc = withoutJemalloc(process.env);
const lib = jemallocPath();
const jemalloc = lib === undefined ? undefined : { ...glibc, LD_PRELOAD: lib };
const needJemalloc = (t: Test) => t.fail('jemalloc is not installed (Debian: libjemalloc2; ./dev setup installs it)');

// If either of these starts failing, the uWS build no longer has the bug and upgradeAfterAwait can go.
t.test("uWS's example under glibc: sockets are closed with 1006 right after they open", async (t) => {
  const r = await hazard('example', 'inside', glibc);
  t.ok('dropped' in r && r.dropped > 0, `of ${SOCKETS} sockets: ${JSON.stringify(r)}`);
});

t.test("uWS's example under jemalloc: the process dies with SIGSEGV", async (t) => {
  if (jemalloc === undefined) return needJemalloc(t);
  t.same(await hazard('example', 'inside', jemalloc), { signal: 'SIGSEGV' });
});

for (const open of ['inside', 'after'] as const) {
  t.test(`the gateways' upgrade, open work ${open} it, glibc: every socket opens`, async (t) => {
    t.same(await hazard('gateway', open, glibc), { clean: SOCKETS, dropped: 0 });
  });
  t.test(`the gateways' upgrade, open work ${open} it, jemalloc: every socket opens`, async (t) => {
    if (jemalloc === undefined) return needJemalloc(t);
    t.same(await hazard('gateway', open, jemalloc), { clean: SOCKETS, dropped: 0 });
  });
}
