import t from 'tap';
import { mainThreadCpuUs, StageProfiler, stageBudget } from '../../../adapters/observability/stage-profiler.js';
import {
  timedCatalog,
  timedMethods,
  timedParts,
  type ServerParts,
} from '../../../adapters/observability/timed-ports.js';
import type { CatalogStore } from '../../../adapters/postgres/catalog-store.js';

// A CPU clock the test moves by hand: attribution is checked exactly, with no timing in it.
const fakeCpu = () => {
  let now = 0;
  return { clock: () => now, spend: (us: number) => void (now += us) };
};

t.test('nested stages are counted exclusively and add up to the outer time', async (t) => {
  const cpu = fakeCpu();
  const p = new StageProfiler(cpu.clock);
  p.sync('request', () => {
    cpu.spend(10);
    p.sync('engine', () => {
      cpu.spend(30);
      p.sync('rider_frames', () => cpu.spend(5));
    });
    cpu.spend(2);
  });
  const s = p.snapshot();
  t.same(
    { request: s['request']!.us, engine: s['engine']!.us, frames: s['rider_frames']!.us },
    { request: 12, engine: 30, frames: 5 },
  );
  t.equal(s['request']!.us + s['engine']!.us + s['rider_frames']!.us, 47, 'the sum is the outermost time');
  t.equal(s['engine']!.calls, 1);
  t.equal(s['engine']!.basis, 'cpu');
});

t.test('a stage that throws is still counted, and the stack unwinds', async (t) => {
  const cpu = fakeCpu();
  const p = new StageProfiler(cpu.clock);
  t.throws(() =>
    p.sync('engine', () => {
      cpu.spend(4);
      throw new Error('boom');
    }),
  );
  p.sync('reply', () => cpu.spend(1));
  t.equal(p.snapshot()['engine']!.us, 4);
  t.equal(p.snapshot()['reply']!.us, 1, 'not nested in the stage that threw');
});

t.test('io: the synchronous start as CPU, the round trip as wall apart', async (t) => {
  const cpu = fakeCpu();
  const p = new StageProfiler(cpu.clock);
  let release!: () => void;
  const out = p.io('catalog_reads', () => {
    cpu.spend(7);
    return new Promise<string>((r) => (release = () => r('row')));
  });
  cpu.spend(100); // other work while the query is out: not the stage's
  release();
  t.equal(await out, 'row');
  await Promise.resolve();
  const s = p.snapshot();
  t.equal(s['catalog_reads']!.us, 7);
  t.equal(s['catalog_reads_wait']!.basis, 'wall');
  t.equal(s['catalog_reads_wait']!.calls, 1);
});

t.test('chain: the continuation counts, less any stage that ran meanwhile', async (t) => {
  const cpu = fakeCpu();
  const p = new StageProfiler(cpu.clock);
  let release!: () => void;
  const out = p.chain('identity', () => {
    cpu.spend(3);
    return new Promise<void>((r) => (release = r));
  });
  cpu.spend(20); // the chain's own microtasks
  p.sync('positions', () => cpu.spend(6)); // another stage interleaved
  release();
  await out;
  await Promise.resolve();
  const s = p.snapshot();
  t.equal(s['identity']!.us, 3 + 20);
  t.equal(s['identity']!.calls, 1, 'one call, though counted in two parts');
  t.equal(s['positions']!.us, 6);
});

t.test('reset forgets the window', async (t) => {
  const cpu = fakeCpu();
  const p = new StageProfiler(cpu.clock);
  p.sync('engine', () => cpu.spend(5));
  p.reset();
  t.same(p.snapshot(), {});
});

t.test('the budget: CPU lines add up to the total, wall lines stand apart', async (t) => {
  const counts = {
    engine: { basis: 'cpu' as const, us: 300_000, calls: 2_000 },
    identity: { basis: 'cpu' as const, us: 500_000, calls: 2_000 },
    catalog_reads_wait: { basis: 'wall' as const, us: 900_000, calls: 2_000 },
  };
  const b = stageBudget(counts, { totalCpuUs: 2_000_000, mainThreadCpuUs: 1_600_000, orders: 1_000 });
  t.equal(b.total_cpu_ms_per_order, 2);
  t.equal(b.sum_cpu_ms_per_order, 2);
  t.match(b.stages['identity'], { basis: 'cpu', cpu_ms_per_order: 0.5, share: 0.25, calls_per_order: 2 });
  t.match(b.stages['other'], { cpu_ms_per_order: 0.8 }, 'the main thread less the stages');
  t.match(b.stages['other_threads'], { cpu_ms_per_order: 0.4 }, 'the process less the main thread');
  t.match(b.stages['catalog_reads_wait'], { basis: 'wall', wall_ms_per_order: 0.9, share: null });
  const shares = Object.values(b.stages).reduce((s, x) => s + (x.share ?? 0), 0);
  t.ok(Math.abs(shares - 1) < 0.01, 'shares of the CPU lines make the whole');
  t.equal(Object.keys(b.stages)[0], 'identity', 'largest first');

  const noProc = stageBudget(counts, { totalCpuUs: 2_000_000, mainThreadCpuUs: null, orders: 1_000 });
  t.notOk('other_threads' in noProc.stages);
  t.match(noProc.stages['other'], { cpu_ms_per_order: 1.2 });
  t.equal(stageBudget(counts, { totalCpuUs: 0, mainThreadCpuUs: 0, orders: 0 }).total_cpu_ms_per_order, 0);
});

t.test('on the real clock: stages of real work never count more than the process used', async (t) => {
  const p = new StageProfiler();
  const spin = (n: number) => {
    let x = 0;
    for (let i = 0; i < n; i++) x += Math.sqrt(i);
    return x;
  };
  const c0 = process.cpuUsage();
  for (let i = 0; i < 50; i++) p.sync('outer', () => spin(20_000) + p.sync('inner', () => spin(20_000)));
  const used = process.cpuUsage(c0);
  const s = p.snapshot();
  const staged = s['outer']!.us + s['inner']!.us;
  t.ok(s['inner']!.us > 0 && s['outer']!.us > 0, 'both counted');
  t.ok(staged <= used.user + used.system, 'exclusive: no time counted twice');
  const main = mainThreadCpuUs();
  if (main !== null) t.ok(main > 0, 'the main thread is read from /proc');
});

t.test('timed methods run on the target, and only the chosen ones are timed', async (t) => {
  class Store {
    #rows = ['a'];
    async read(i: number): Promise<string> {
      return this.#rows[i]!;
    }
    size(): number {
      return this.#rows.length;
    }
  }
  const p = new StageProfiler();
  const reads = { stage: 'catalog_reads', how: 'io' } as const;
  const store = timedMethods(new Store(), p, (m) => (m === 'read' ? reads : undefined));
  t.equal(await store.read(0), 'a', 'private fields still reachable');
  t.equal(store.size(), 1);
  const [a, b] = [Reflect.get(store, 'read'), Reflect.get(store, 'read')];
  t.equal(a, b, 'each method wrapped once');
  await Promise.resolve();
  t.same(Object.keys(p.snapshot()).sort(), ['catalog_reads', 'catalog_reads_wait']);
});

t.test("the catalog's reads are timed, its writes inside a caller's transaction are not", async (t) => {
  const p = new StageProfiler();
  const catalog = timedCatalog(
    {
      storedReply: async () => undefined,
      storeReply: async () => {},
      insertOrder: async () => {},
    } as unknown as CatalogStore,
    p,
  );
  await catalog.storeReply({} as never, 'u', 'k', {} as never);
  await catalog.insertOrder({} as never, {} as never, [], {} as never);
  await Promise.resolve();
  t.same(Object.keys(p.snapshot()), [], 'writes in a transaction: the transaction is what is timed');
  await catalog.storedReply('u', 'k');
  await Promise.resolve();
  t.equal(p.snapshot()['catalog_reads']?.calls, 1, 'the stored reply is a read');
});

t.test('without a profiler the server keeps its own parts: nothing is wrapped', async (t) => {
  const parts = {
    engine: {},
    catalog: {},
    money: {},
    identity: { verify: async () => ({ ok: false }) },
    durable: async () => {},
  } as unknown as ServerParts;
  t.equal(timedParts(parts), parts, 'the very same object');
  const on = timedParts(parts, new StageProfiler());
  t.not(on.engine, parts.engine, 'with one, the edges get timed parts');
  t.not(on.money, parts.money);
  t.not(on.durable, parts.durable);
});
