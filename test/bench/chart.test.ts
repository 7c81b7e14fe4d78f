import t from 'tap';
import { latencyChart } from '../../bench/chart.js';
import { LatencyHistogram } from '../../bench/hdr.js';
import { demandShape, OFF_PEAK, planWorkload } from '../../bench/workload.js';

t.test("the chart draws one line per system, and the engine's own figure dashed", async (t) => {
  const curve = (scale: number): [number, number][] => [
    [0, 10 * scale],
    [50, 100 * scale],
    [99, 1_000 * scale],
    [100, 5_000 * scale],
  ];
  const svg = latencyChart(
    {
      engine: { match_latency_curve: curve(1), engine_match_curve: curve(0.1), match_latency_us: { count: 4 } },
      'redis-geo': { match_latency_curve: curve(10), match_latency_us: { count: 4 } },
      postgis: { match_latency_curve: curve(20), match_latency_us: { count: 4 } },
    },
    'Match latency <test>',
  );
  t.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  t.equal(svg.match(/<path /g)?.length, 4);
  t.equal(svg.match(/stroke-dasharray/g)?.length, 2, 'the dashed line and its legend');
  t.match(svg, /Match latency &lt;test>/, 'text is escaped');
  for (const label of ['engine, end to end', 'redis-geo, end to end', 'postgis, end to end', 'p99.9', '100 ms'])
    t.match(svg, label);
});

t.test('HdrHistogram percentiles survive the trip between processes', async (t) => {
  const h = new LatencyHistogram();
  for (let i = 1; i <= 10_000; i++) h.recordMicros(i / 10);
  h.recordMicros(-5);
  const back = LatencyHistogram.decode(h.encode());
  t.equal(back.count, 10_001);
  t.same(back.summary(), h.summary());
  t.ok(Math.abs(back.percentileMicros(99) - 990) < 1, "p99 within the histogram's precision");
  t.equal(back.curve().length, 13);
});

t.test('the workload: seeded, with a lunch and a dinner peak', async (t) => {
  t.equal(demandShape(0.25), 1, 'lunch peak');
  t.equal(demandShape(0.75), 1, 'dinner peak');
  t.ok(Math.abs(demandShape(0.5) - OFF_PEAK) < 0.02, 'mid-afternoon lull');
  const o = { riders: 100, restaurants: 20, rate: 50, seconds: 200, seed: 9, radiusKm: 8 };
  const a = planWorkload(o);
  t.equal(JSON.stringify(planWorkload(o).orders), JSON.stringify(a.orders), 'same seed, same orders');
  t.not(
    JSON.stringify(planWorkload({ ...o, seed: 10 }).orders),
    JSON.stringify(a.orders),
    'another seed, other orders',
  );
  const inWindow = (lo: number, hi: number) =>
    a.orders.filter((x) => x.at >= lo * o.seconds && x.at < hi * o.seconds).length;
  t.ok(inWindow(0.2, 0.3) > 2 * inWindow(0.45, 0.55), 'many more orders at lunch than in the lull');
  const mean = a.orders.length / o.seconds;
  t.ok(mean > OFF_PEAK * o.rate && mean < o.rate, `mean rate ${mean.toFixed(1)} between off-peak and peak`);
  t.ok(a.orders.every((x) => x.restaurant >= 0 && x.restaurant < 20));
});
