/**
 * `npm run admin -- <command>`: the operators' console over the gRPC admin
 * service (docs/admin.md). Tables for people by default, `--json` for
 * scripts, `watch` to follow the live event stream and shard statistics.
 * The admin ID token comes from ADMIN_TOKEN or the file named by
 * ADMIN_TOKEN_FILE / `--token-file`, never from the command line (it would
 * show in `ps` and in shell history).
 */
import { readFileSync } from 'node:fs';
import { credentials, Metadata, type ServiceError, status } from '@grpc/grpc-js';
import { adminClientClass } from '../adapters/admin/admin-proto.js';
import { errorCodeOf } from '../adapters/admin/grpc-errors.js';

const USAGE = `usage: npm run admin -- <command> [options]

  riders [--state S] [--shard CELL] [--near LAT,LNG,METRES] [--page-size N] [--page TOKEN]
  rider RIDER_ID
  orders [--state S|live] [--restaurant ID] [--min-age-s N] [--shard CELL] [--page-size N] [--page TOKEN]
  order ORDER_ID                  the order, its dispatch decisions and its event history
  shards                          per-shard counts
  config                          the dispatch settings
  set-config NAME=VALUE ...       e.g. offer_timeout_ms=15000 max_ring=10 (docs/admin.md lists them)
  assign ORDER_ID RIDER_ID        force-assign
  reassign ORDER_ID [RIDER_ID]    to a rider, or back to the search
  cancel ORDER_ID --reason TEXT
  restaurant-status RESTAURANT_ID open|busy|closed
  drain SHARD | undrain SHARD
  policy SHARD greedy|batched|default   how the shard matches orders (docs/dispatch-quality.md)
  watch [--aggregate order|rider|restaurant] [--type T]... [--id ID]... [--shard CELL] [--every-s N]

options: --server HOST:PORT (ADMIN_GRPC_ADDR, 127.0.0.1:50051), --tls (ADMIN_TLS_CA: a CA file to trust),
         --json, --token-file PATH (or ADMIN_TOKEN_FILE; or the token itself in ADMIN_TOKEN)`;

type Msg = Record<string, any>;
type Env = Readonly<Record<string, string | undefined>>;

class UsageError extends Error {}

interface Parsed {
  readonly words: string[];
  readonly flags: Map<string, string[]>;
  readonly json: boolean;
  readonly tls: boolean;
}

function parse(argv: readonly string[]): Parsed {
  const words: string[] = [];
  const flags = new Map<string, string[]>();
  let json = false;
  let tls = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--help' || a === '-h') words.push('help');
    else if (a === '--json') json = true;
    else if (a === '--tls') tls = true;
    else if (a === '--token')
      throw new UsageError('--token is refused: put the token in ADMIN_TOKEN or a file (--token-file)');
    else if (a.startsWith('--')) {
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`${a} needs a value`);
      flags.set(a.slice(2), [...(flags.get(a.slice(2)) ?? []), v]);
    } else words.push(a);
  }
  return { words, flags, json, tls };
}

function token(p: Parsed, env: Env): string {
  const file = p.flags.get('token-file')?.[0] ?? env['ADMIN_TOKEN_FILE'];
  const raw = file !== undefined ? readFileSync(file, 'utf8') : env['ADMIN_TOKEN'];
  const tok = raw?.trim() ?? '';
  if (tok === '')
    throw new UsageError('no admin token: set ADMIN_TOKEN, or ADMIN_TOKEN_FILE / --token-file to a file holding it');
  return tok;
}

/** Left-aligned columns, a header line, one row per item. */
function table(rows: readonly Record<string, unknown>[], columns: readonly string[]): string {
  if (rows.length === 0) return '(none)\n';
  const cells = rows.map((r) => columns.map((c) => cell(r[c])));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((row) => row[i]!.length)));
  const line = (xs: readonly string[]) =>
    xs
      .map((x, i) => x.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return `${[line(columns.map((c) => c.toUpperCase())), ...cells.map(line)].join('\n')}\n`;
}

function cell(v: unknown): string {
  if (v === undefined || v === null || v === '') return '-';
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : v.toFixed(1);
  if (typeof v === 'string') return v;
  if (typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  return JSON.stringify(v) ?? '-';
}

const age = (ms: number) => (ms > 0 ? `${Math.round((Date.now() - ms) / 1000)}s` : '-');

async function main(argv: readonly string[], env: Env): Promise<number> {
  const p = parse(argv);
  const [command, ...args] = p.words;
  if (command === undefined || command === 'help' || argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`${USAGE}\n`);
    return command === undefined && argv.length === 0 ? 2 : 0;
  }
  const tok = token(p, env);
  const address = p.flags.get('server')?.[0] ?? env['ADMIN_GRPC_ADDR'] ?? '127.0.0.1:50051';
  const ca = env['ADMIN_TLS_CA'];
  const Client = adminClientClass();
  const client = new Client(
    address,
    p.tls || ca !== undefined
      ? credentials.createSsl(ca !== undefined ? readFileSync(ca) : null)
      : credentials.createInsecure(),
  );
  const meta = new Metadata();
  meta.set('authorization', `Bearer ${tok}`);
  const call = (method: string, req: Msg): Promise<Msg> =>
    new Promise((resolve, reject) =>
      (client as unknown as Record<string, (...a: unknown[]) => void>)[method]!.call(
        client,
        req,
        meta,
        { deadline: Date.now() + 15_000 },
        (err: ServiceError | null, res: Msg) => (err ? reject(err) : resolve(res)),
      ),
    );
  const flag = (name: string) => p.flags.get(name)?.[0] ?? '';
  const out = (value: Msg, human: () => string) =>
    process.stdout.write(p.json ? `${JSON.stringify(value)}\n` : human());
  const need = (n: number, what: string) => {
    if (args.length < n) throw new UsageError(`${command} needs ${what}`);
  };

  try {
    switch (command) {
      case 'riders': {
        const near = flag('near');
        let area: Msg | undefined;
        if (near !== '') {
          const [lat, lng, radius] = near.split(',').map(Number);
          if (![lat, lng, radius].every((x) => Number.isFinite(x))) throw new UsageError('--near is LAT,LNG,METRES');
          area = { center: { lat, lng }, radius_m: radius };
        }
        const res = await call('ListRiders', {
          state: flag('state'),
          shard: flag('shard'),
          page_size: Number(flag('page-size')) || 0,
          page_token: flag('page'),
          ...(area ? { area } : {}),
        });
        out(res, () => {
          const rows = (res['riders'] as Msg[]).map((r) => ({
            ...r,
            order: r['order_id'],
            seen: age(r['position_at']),
          }));
          return `${table(rows, ['id', 'state', 'connected', 'available', 'order', 'shard', 'seen'])}${pageHint(res)}`;
        });
        break;
      }
      case 'rider': {
        need(1, 'a rider id');
        const r = await call('GetRider', { rider_id: args[0] });
        out(r, () =>
          table(
            [{ ...r, lat: r['position']?.lat, lng: r['position']?.lng, ...r['stats'] }],
            [
              'id',
              'state',
              'connected',
              'available',
              'order_id',
              'shard',
              'lat',
              'lng',
              'offers',
              'accepts',
              'delivered',
            ],
          ),
        );
        break;
      }
      case 'orders': {
        const res = await call('ListOrders', {
          state: flag('state'),
          restaurant_id: flag('restaurant'),
          min_age_s: Number(flag('min-age-s')) || 0,
          shard: flag('shard'),
          page_size: Number(flag('page-size')) || 0,
          page_token: flag('page'),
        });
        out(res, () => {
          const rows = (res['orders'] as Msg[]).map((o) => ({ ...o, rider: o['rider_id'], age: age(o['placed_at']) }));
          return `${table(rows, ['id', 'state', 'restaurant_id', 'rider', 'offers_made', 'age'])}${pageHint(res)}`;
        });
        break;
      }
      case 'order': {
        need(1, 'an order id');
        const res = await call('GetOrder', { order_id: args[0] });
        out(res, () => {
          const o = res['order'] as Msg | undefined;
          let s = o
            ? table(
                [{ ...o, rider: o['rider_id'], age: age(o['placed_at']) }],
                ['id', 'state', 'restaurant_id', 'rider', 'paid', 'offers_made', 'age'],
              )
            : `order ${args[0]}: no longer held by the engine; stored history below\n`;
          for (const [i, d] of (res['decisions'] as Msg[]).entries()) {
            s += `\ndecision ${i + 1}: ${d['why']}${d['chosen'] ? ` -> ${d['chosen']}` : ''}; ring ${d['ring']}, ${d['considered']} considered; skipped: ${d['skipped_stale']} stale, ${d['skipped_passed_before']} passed before, ${d['skipped_too_far']} too far, ${d['skipped_unavailable']} unavailable\n`;
            s += table(d['candidates'] as Msg[], [
              'rider_id',
              'distance_m',
              'eta_s',
              'idle_bonus_s',
              'acceptance_penalty_s',
              'heading_penalty_s',
              'score',
            ]);
          }
          s += `\nhistory:\n${table(res['history'] as Msg[], ['seq', 'type', 'at'])}`;
          return s;
        });
        break;
      }
      case 'shards': {
        const res = await call('ShardStats', {});
        out(res, () => shardTable(res));
        break;
      }
      case 'config': {
        const res = await call('GetDispatchConfig', {});
        out(res, () => settingsTable(res));
        break;
      }
      case 'set-config': {
        need(1, 'NAME=VALUE pairs');
        const req: Msg = {};
        for (const a of args) {
          const m = /^([a-z_]+)=(.+)$/.exec(a);
          if (!m || !Number.isFinite(Number(m[2]))) throw new UsageError(`${a}: expected NAME=NUMBER`);
          req[m[1]!] = Number(m[2]);
        }
        const res = await call('SetDispatchConfig', req);
        out(res, () => settingsTable(res));
        break;
      }
      case 'assign':
      case 'reassign': {
        need(command === 'assign' ? 2 : 1, command === 'assign' ? 'an order id and a rider id' : 'an order id');
        const res = await call(command === 'assign' ? 'ForceAssign' : 'Reassign', {
          order_id: args[0],
          rider_id: args[1] ?? '',
        });
        out(res, () => table([res], ['id', 'state', 'rider_id', 'offer_rider_id']));
        break;
      }
      case 'cancel': {
        need(1, 'an order id');
        if (flag('reason') === '') throw new UsageError('cancel needs --reason TEXT');
        const res = await call('CancelOrder', { order_id: args[0], reason: flag('reason') });
        out(res, () => table([res], ['id', 'state']));
        break;
      }
      case 'restaurant-status': {
        need(2, 'a restaurant id and open, busy or closed');
        const res = await call('SetRestaurantStatus', { restaurant_id: args[0], status: args[1] });
        out(res, () => table([res], ['id', 'state', 'open_orders', 'capacity']));
        break;
      }
      case 'drain':
      case 'undrain': {
        need(1, 'a shard (see `shards`)');
        const res = await call('DrainShard', { shard: args[0], drained: command === 'drain' });
        out(res, () => shardTable({ shards: [res] }));
        break;
      }
      case 'policy': {
        need(2, 'a shard and a policy: greedy, batched or default');
        const res = await call('SetShardPolicy', { shard: args[0], policy: args[1] });
        out(res, () => shardTable({ shards: [res] }));
        break;
      }
      case 'watch':
        return await watch(client, meta, call, p, Number(flag('every-s')) || 2);
      default:
        throw new UsageError(`unknown command ${command}`);
    }
    return 0;
  } catch (err) {
    if (err instanceof UsageError) throw err;
    const e = err as ServiceError;
    process.stderr.write(`admin: ${e.details ?? String(err)}\n`);
    return errorCodeOf(e) === undefined && e.code === undefined ? 1 : 3;
  } finally {
    client.close();
  }
}

const pageHint = (res: Msg) => (res['next_page_token'] ? `more: --page ${res['next_page_token']}\n` : '');

function shardTable(res: Msg): string {
  const rows = (res['shards'] as Msg[]).map((s) => ({
    ...s,
    riders: s['riders'],
    available: s['riders_available'],
    live: s['orders_live'],
    searching: s['orders_searching'],
    offered: s['orders_offered'],
    assigned: s['orders_assigned'],
    picked_up: s['orders_picked_up'],
  }));
  return table(rows, [
    'shard',
    'drained',
    'policy',
    'riders',
    'available',
    'live',
    'searching',
    'offered',
    'assigned',
    'picked_up',
  ]);
}

function settingsTable(res: Msg): string {
  const rows = Object.entries({ ...res, ...(res['scoring'] as Msg) })
    .filter(([k]) => k !== 'scoring')
    .map(([name, value]) => ({ name, value }));
  return table(rows, ['name', 'value']);
}

/**
 * Follows the event stream and, every few seconds, the shard statistics. On a
 * terminal the screen is redrawn in place (stats on top, the latest events
 * below); otherwise, and with --json, one line per event and per refresh.
 */
async function watch(
  client: InstanceType<ReturnType<typeof adminClientClass>>,
  meta: Metadata,
  call: (method: string, req: Msg) => Promise<Msg>,
  p: Parsed,
  everyS: number,
): Promise<number> {
  const tty = process.stdout.isTTY && !p.json;
  const stream = (
    client as unknown as { StreamEvents(r: Msg, m: Metadata): NodeJS.ReadableStream & { cancel(): void } }
  ).StreamEvents(
    {
      aggregate: p.flags.get('aggregate')?.[0] ?? '',
      types: p.flags.get('type') ?? [],
      ids: p.flags.get('id') ?? [],
      shard: p.flags.get('shard')?.[0] ?? '',
    },
    meta,
  );
  const recent: string[] = [];
  let stats = '';
  const draw = () => {
    if (!tty) return;
    process.stdout.write(`\x1b[H\x1b[2J${stats}\n${recent.join('\n')}\n`);
  };
  const refresh = async () => {
    const res = await call('ShardStats', {});
    if (p.json) process.stdout.write(`${JSON.stringify({ shards: res['shards'] })}\n`);
    else if (tty) stats = shardTable(res);
    else process.stdout.write(shardTable(res));
    draw();
  };
  // The server sends headers once the watcher is registered: from then on no event is missed.
  const refused = await new Promise<ServiceError | null>((resolve) => {
    stream.once('metadata', () => resolve(null));
    stream.once('error', (err: ServiceError) => resolve(err));
  });
  if (refused) {
    process.stderr.write(`admin: ${refused.details}\n`);
    return 3;
  }
  await refresh();
  const timer = setInterval(() => void refresh().catch(() => {}), everyS * 1000);
  const stop = () => stream.cancel();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return await new Promise<number>((resolve) => {
    stream.on('data', (e: Msg) => {
      const skipped = e['skipped'] ? ` (${e['skipped']} skipped before)` : '';
      const line = `${new Date(e['at']).toISOString()}  ${e['aggregate']} ${e['id']} #${e['seq']}  ${e['type']}${skipped}`;
      if (p.json) process.stdout.write(`${JSON.stringify({ event: JSON.parse(e['json']), skipped: e['skipped'] })}\n`);
      else if (tty) {
        recent.push(line);
        if (recent.length > 20) recent.shift();
        draw();
      } else process.stdout.write(`${line}\n`);
    });
    stream.on('error', (err: ServiceError) => {
      clearInterval(timer);
      // CANCELLED: the operator stopped it.
      if (err.code === status.CANCELLED) {
        resolve(0);
        return;
      }
      process.stderr.write(`admin: ${err.details}\n`);
      resolve(3);
    });
    stream.on('end', () => {
      clearInterval(timer);
      resolve(0);
    });
  });
}

main(process.argv.slice(2), process.env).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof UsageError) {
      process.stderr.write(`admin: ${err.message}\n\n${USAGE}\n`);
      process.exit(2);
    }
    process.stderr.write(`admin: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
