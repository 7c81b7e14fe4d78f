/**
 * `npm run bench:chart -- <results.json> [out.svg]`: draws the latency
 * distributions of a `baselines` (or `all`) run side by side, as
 * HdrHistogram percentile plots: percentile on a log scale of 1/(1 − p),
 * latency on a log scale; end to end for every system, and the engine's own
 * figure dashed. The input is the JSON line the bench printed (the last line
 * of the file is used). Plain SVG, no dependencies.
 */
import { readFileSync, writeFileSync } from 'node:fs';

interface SystemLike {
  match_latency_curve: [number, number][];
  engine_match_curve?: [number, number][];
  match_latency_us: { count: number };
}

const COLOURS: Record<string, string> = { engine: '#1b7837', 'redis-geo': '#c51b7d', postgis: '#2166ac' };
const W = 760;
const H = 440;
const M = { l: 70, r: 170, t: 40, b: 60 };

/** x of a percentile: log10(1 / (1 - p)), with the maximum drawn past 99.99. */
const px = (p: number) => (p >= 100 ? 4.5 : Math.log10(1 / (1 - p / 100)));

export function latencyChart(systems: Record<string, SystemLike>, title: string): string {
  const series: { name: string; colour: string; dashed: boolean; pts: [number, number][] }[] = [];
  for (const [name, s] of Object.entries(systems)) {
    series.push({
      name: `${name}, end to end`,
      colour: COLOURS[name] ?? '#444',
      dashed: false,
      pts: s.match_latency_curve,
    });
    if (name === 'engine' && s.engine_match_curve)
      series.push({
        name: 'engine, inside the engine',
        colour: COLOURS['engine']!,
        dashed: true,
        pts: s.engine_match_curve,
      });
  }
  const ys = series.flatMap((s) => s.pts.map(([, y]) => Math.max(y, 1)));
  const yMin = 10 ** Math.floor(Math.log10(Math.min(...ys)));
  const yMax = 10 ** Math.ceil(Math.log10(Math.max(...ys)));
  const X = (p: number) => M.l + (px(p) / 4.5) * (W - M.l - M.r);
  const Y = (us: number) =>
    H -
    M.b -
    ((Math.log10(Math.max(us, 1)) - Math.log10(yMin)) / (Math.log10(yMax) - Math.log10(yMin))) * (H - M.t - M.b);
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
  );
  out.push(`<rect width="${W}" height="${H}" fill="#fff"/>`);
  out.push(`<text x="${M.l}" y="22" font-size="14" font-weight="bold">${esc(title)}</text>`);
  for (let e = Math.log10(yMin); e <= Math.log10(yMax); e++) {
    const y = Y(10 ** e);
    out.push(`<line x1="${M.l}" x2="${W - M.r}" y1="${y}" y2="${y}" stroke="#ddd"/>`);
    out.push(`<text x="${M.l - 8}" y="${y + 4}" text-anchor="end">${fmtUs(10 ** e)}</text>`);
  }
  for (const [p, label] of [
    [0, 'min'],
    [50, 'p50'],
    [90, 'p90'],
    [99, 'p99'],
    [99.9, 'p99.9'],
    [99.99, 'p99.99'],
    [100, 'max'],
  ] as const) {
    const x = X(p);
    out.push(`<line x1="${x}" x2="${x}" y1="${M.t}" y2="${H - M.b}" stroke="#eee"/>`);
    out.push(`<text x="${x}" y="${H - M.b + 18}" text-anchor="middle">${label}</text>`);
  }
  out.push(`<text x="${(M.l + W - M.r) / 2}" y="${H - 18}" text-anchor="middle">percentile</text>`);
  out.push(
    `<text x="18" y="${(M.t + H - M.b) / 2}" text-anchor="middle" transform="rotate(-90 18 ${(M.t + H - M.b) / 2})">match latency</text>`,
  );
  series.forEach((s, i) => {
    const d = s.pts.map(([p, us], k) => `${k ? 'L' : 'M'}${X(p).toFixed(1)},${Y(us).toFixed(1)}`).join(' ');
    out.push(
      `<path d="${d}" fill="none" stroke="${s.colour}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`,
    );
    const ly = M.t + 10 + i * 20;
    out.push(
      `<line x1="${W - M.r + 12}" x2="${W - M.r + 36}" y1="${ly}" y2="${ly}" stroke="${s.colour}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`,
    );
    out.push(`<text x="${W - M.r + 40}" y="${ly + 4}">${esc(s.name)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}

const fmtUs = (us: number) => (us >= 1e6 ? `${us / 1e6} s` : us >= 1e3 ? `${us / 1e3} ms` : `${us} µs`);
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');

if (import.meta.url === `file://${process.argv[1]}`) {
  const [input, output = 'docs/benchmarks-latency.svg'] = process.argv.slice(2);
  if (!input) {
    console.error('usage: npm run bench:chart -- <results.json> [out.svg]');
    process.exit(2);
  }
  const lines = readFileSync(input, 'utf8').trim().split('\n');
  const r = JSON.parse(lines.at(-1)!) as {
    systems?: Record<string, SystemLike>;
    baselines?: { systems: Record<string, SystemLike> };
    machine: string;
    riders?: number;
    peak_orders_per_s?: number;
  };
  const systems = r.systems ?? r.baselines?.systems;
  if (!systems) throw new Error(`${input}: no systems (run the baselines or all scenario with --json)`);
  const b = (r.baselines ?? r) as { riders?: number; peak_orders_per_s?: number };
  writeFileSync(
    output,
    latencyChart(
      systems,
      `Match latency, ${b.riders ?? '?'} riders, peak ${b.peak_orders_per_s ?? '?'} orders/s (${r.machine.split(',')[0]})`,
    ),
  );
  console.error(`wrote ${output}`);
}
