/**
 * The pinned uWS build's use of freed memory after an asynchronous upgrade
 * (docs/streams.md), over real sockets, under each C allocator: with glibc's,
 * a route whose `open` allocates and writes native memory loses sockets to
 * 1006 when that work runs inside the upgrade, and loses none through
 * `openAfterUpgrade`; with jemalloc, which every entry point runs under
 * (scripts/with-jemalloc.sh), it loses none even inside the upgrade. Each
 * case is test/support/upgrade-hazard.ts in a process of its own.
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { jemallocPath, withoutJemalloc } from '../../support/jemalloc.js';

const SOCKETS = 300;

async function hazard(mode: 'inside' | 'after', env: NodeJS.ProcessEnv): Promise<{ clean: number; dropped: number }> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--import', 'tsx', 'test/support/upgrade-hazard.ts', mode, String(SOCKETS)],
    { env, timeout: 60_000 },
  );
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as { clean: number; dropped: number };
}

const glibc = withoutJemalloc(process.env);

t.test('glibc, open work inside the upgrade: the hazard is real on this uWS build', async (t) => {
  const r = await hazard('inside', glibc);
  // If this starts failing, the uWS build no longer has the bug; openAfterUpgrade and jemalloc can go.
  t.ok(r.dropped > 0, `${r.dropped} of ${SOCKETS} sockets dropped with 1006`);
});

t.test('glibc, open work after the upgrade: no socket is dropped', async (t) => {
  t.same(await hazard('after', glibc), { clean: SOCKETS, dropped: 0 });
});

t.test('jemalloc, open work inside the upgrade: no socket is dropped', async (t) => {
  const lib = jemallocPath();
  if (lib === undefined) {
    t.fail('jemalloc is not installed (Debian: libjemalloc2; ./dev setup installs it)');
    return;
  }
  t.same(await hazard('inside', { ...glibc, LD_PRELOAD: lib }), { clean: SOCKETS, dropped: 0 });
});
