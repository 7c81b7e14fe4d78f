/**
 * deploy/prometheus/alerts.yml with Debian's Prometheus 2.42:
 * - `promtool check rules` accepts it, `promtool test rules` passes its unit
 *   tests (alerts.test.yml), and the same tests fail on a rule with a wrong
 *   threshold (they can fail);
 * - every metric a rule reads is one the server exports;
 * - a real Prometheus scrapes a running server's METRICS_PORT, loads the
 *   rules (all healthy), and answers queries on the server's metrics, and on
 *   every query of the Grafana dashboard without an error.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { copyFile, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { ServerMetrics } from '../../adapters/observability/metrics.js';
import { freePort } from '../support/redis-server.js';
import { api, startTestServer } from '../support/rest-server.js';

const RULES = join(import.meta.dirname, '..', '..', 'deploy', 'prometheus', 'alerts.yml');
const RULE_TESTS = join(import.meta.dirname, '..', '..', 'deploy', 'prometheus', 'alerts.test.yml');
const DASHBOARD = join(import.meta.dirname, '..', '..', 'deploy', 'grafana', 'dispatch.json');

const promtool = (...args: string[]) => spawnSync('promtool', args, { encoding: 'utf8' });

/** Metric names the server's registry declares (histograms also as _bucket, _sum, _count). */
async function exported(): Promise<Set<string>> {
  const m = new ServerMetrics({ service: 'server' });
  const names = new Set<string>();
  for (const metric of await m.registry.getMetricsAsJSON()) {
    names.add(metric.name);
    if (String(metric.type) === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(metric.name + s);
  }
  m.stop();
  return names;
}
/** Metric names in a PromQL expression: identifiers of our families followed by a selector, range or space. */
const metricsIn = (expr: string): string[] =>
  [...expr.matchAll(/\b((?:http|dispatch|nodejs|process)_[a-z0-9_]+)\b/g)].map((m) => m[1]!);

t.test('promtool check rules and promtool test rules pass', async (t) => {
  const check = promtool('check', 'rules', RULES);
  t.equal(check.status, 0, check.stdout + check.stderr);
  t.match(check.stdout, /SUCCESS: 9 rules found/);
  const test = promtool('test', 'rules', RULE_TESTS);
  t.equal(test.status, 0, test.stdout + test.stderr);
  t.match(test.stdout, /SUCCESS/);
});

t.test('the rule tests fail when a rule is wrong', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'rules-'));
  const rules = await readFile(RULES, 'utf8');
  const wrong = rules.replace(
    'sum(dispatch_orders{state=~"dispatching.*"}) > 25',
    'sum(dispatch_orders{state=~"dispatching.*"}) > 100',
  );
  t.not(wrong, rules);
  await writeFile(join(dir, 'alerts.yml'), wrong);
  await copyFile(RULE_TESTS, join(dir, 'alerts.test.yml'));
  const test = promtool('test', 'rules', join(dir, 'alerts.test.yml'));
  t.equal(test.status, 1);
  t.match(test.stdout + test.stderr, /DispatchUnassignedOrdersPilingUp/);
});

t.test('every metric the rules and the dashboard read is exported', async (t) => {
  const names = await exported();
  const rules = await readFile(RULES, 'utf8');
  const used = new Set(metricsIn(rules));
  t.ok(used.size >= 8, `${used.size} metrics in the rules`);
  for (const n of used) t.ok(names.has(n), `rules: ${n}`);

  const dash = JSON.parse(await readFile(DASHBOARD, 'utf8')) as {
    uid: string;
    panels: { id: number; type: string; title: string; targets?: { expr: string }[] }[];
  };
  t.equal(dash.uid, 'dispatch-engine');
  const ids = dash.panels.map((p) => p.id);
  t.equal(new Set(ids).size, ids.length, 'panel ids are unique');
  const graphs = dash.panels.filter((p) => p.type !== 'row');
  t.ok(graphs.length >= 25);
  const inDash = new Set<string>();
  for (const p of graphs) {
    t.ok((p.targets ?? []).length > 0, `${p.title} queries something`);
    for (const q of p.targets ?? []) for (const n of metricsIn(q.expr)) inDash.add(n);
  }
  for (const n of inDash) t.ok(names.has(n), `dashboard: ${n}`);
  // What the issue asks to see is on the dashboard.
  for (const n of [
    'http_requests_total',
    'http_request_duration_seconds_bucket',
    'dispatch_ws_connections',
    'dispatch_ws_frames_total',
    'dispatch_positions_ingested_total',
    'dispatch_match_latency_seconds_bucket',
    'dispatch_offers_total',
    'dispatch_actors',
    'dispatch_orders',
    'dispatch_deadlines_armed',
    'dispatch_write_behind_queue_depth',
    'dispatch_write_behind_lag_seconds_bucket',
    'dispatch_pg_pool_connections',
    'dispatch_push_total',
    'dispatch_refund_relay_total',
    'dispatch_payments_total',
    'nodejs_eventloop_lag_p99_seconds',
    'nodejs_gc_duration_seconds_sum',
  ])
    t.ok(inDash.has(n), `the dashboard shows ${n}`);
});

t.test('a real Prometheus scrapes a running server and loads the rules', async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'prom-srv-'));
  const { url, server } = await startTestServer(t, { embedded: true, env: { DATA_DIR: dataDir } });
  await api(url, 'GET', '/health');
  await api(url, 'GET', '/openapi.json');

  const dir = await mkdtemp(join(tmpdir(), 'prometheus-'));
  const promPort = await freePort();
  await writeFile(
    join(dir, 'prometheus.yml'),
    [
      'global:',
      '  scrape_interval: 1s',
      '  evaluation_interval: 1s',
      'rule_files:',
      `  - ${RULES}`,
      'scrape_configs:',
      '  - job_name: dispatch',
      '    static_configs:',
      `      - targets: ['127.0.0.1:${server.metricsPort}']`,
      '',
    ].join('\n'),
  );
  const check = promtool('check', 'config', join(dir, 'prometheus.yml'));
  t.equal(check.status, 0, check.stdout + check.stderr);
  let log = '';
  const prom: ChildProcess = spawn(
    'prometheus',
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${promPort}`,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  prom.stderr!.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-10_000)));
  const exited = new Promise((r) => prom.once('exit', r));
  t.teardown(async () => {
    prom.kill('SIGTERM');
    await exited;
  });
  const promApi = async (path: string): Promise<any> => {
    const res = await fetch(`http://127.0.0.1:${promPort}${path}`);
    return res.json();
  };
  const query = async (q: string): Promise<any> => promApi(`/api/v1/query?query=${encodeURIComponent(q)}`);
  const eventually = async (q: string, pred: (r: any[]) => boolean): Promise<any[]> => {
    let result: any[] = [];
    for (let i = 0; i < 300; i++) {
      try {
        const r = await query(q);
        result = r.data?.result ?? [];
        if (pred(result)) return result;
      } catch {
        // not up yet
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`no answer to ${q} that fits: ${JSON.stringify(result)}\n${log}`);
  };

  const up = await eventually('up{job="dispatch"}', (r) => r.length === 1 && r[0].value[1] === '1');
  t.equal(up[0].metric.instance, `127.0.0.1:${server.metricsPort}`, 'the target is scraped and up');
  const health = await eventually(
    'http_requests_total{route="/health",method="GET",status="200"}',
    (r) => r.length === 1 && Number(r[0].value[1]) >= 1,
  );
  t.equal(health[0].metric.service, 'server');
  await eventually('dispatch_ready', (r) => r.length === 1 && r[0].value[1] === '1');
  await eventually('nodejs_eventloop_lag_p99_seconds', (r) => r.length === 1);

  let rules: any;
  for (let i = 0; i < 100; i++) {
    rules = await promApi('/api/v1/rules');
    const all = rules.data.groups.flatMap((g: any) => g.rules);
    if (all.length === 9 && all.every((r: any) => r.lastEvaluation !== '0001-01-01T00:00:00Z')) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const all = rules.data.groups.flatMap((g: any) => g.rules);
  t.equal(all.length, 9, 'every rule loaded');
  for (const r of all) t.equal(r.health, 'ok', `${r.name} evaluates without error`);
  const firing = (await promApi('/api/v1/alerts')).data.alerts.filter((a: any) => a.state === 'firing');
  t.same(firing, [], 'nothing fires on a healthy server');

  // Every dashboard query is valid PromQL for this Prometheus ($service and the rate window substituted).
  const dash = JSON.parse(await readFile(DASHBOARD, 'utf8')) as { panels: { targets?: { expr: string }[] }[] };
  for (const p of dash.panels)
    for (const q of p.targets ?? []) {
      const expr = q.expr.replaceAll('$service', '.*').replaceAll('$__rate_interval', '1m');
      const r = await query(expr);
      t.equal(r.status, 'success', `${expr}: ${r.error ?? ''}`);
    }
});
