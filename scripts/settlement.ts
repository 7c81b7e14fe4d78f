/**
 * `npm run settlement -- [--date YYYY-MM-DD] [--json]`: the settlement report
 * of one UTC day (default yesterday) from DATABASE_URL, checked against the
 * payment gateway when UPI_GATEWAY_URL is set (adapters/payments/settlement-report.ts).
 * Exit code 1 when our books and the gateway's differ.
 */
import { RazorpayGateway } from '../adapters/payments/razorpay-gateway.js';
import { settlementReport } from '../adapters/payments/settlement-report.js';
import { MoneyStore, type SettlementRow } from '../adapters/postgres/money-store.js';
import { migrate } from '../adapters/postgres/migrate.js';
import { serverDatabase } from '../adapters/postgres/server-database.js';
import { parseServerConfig, ServerConfigError } from '../adapters/server/server-config.js';

const args = process.argv.slice(2);
const json = args.includes('--json');
const dateArg = args[args.indexOf('--date') + 1];
const DAY_MS = 86_400_000;
const yesterday = new Date(Math.floor(Date.now() / DAY_MS) * DAY_MS - DAY_MS);
const day = args.includes('--date') ? new Date(`${dateArg}T00:00:00Z`) : yesterday;
if (Number.isNaN(day.getTime())) {
  process.stderr.write(`settlement: --date must be YYYY-MM-DD, got ${JSON.stringify(dateArg)}\n`);
  process.exit(2);
}
let config;
try {
  config = parseServerConfig(process.env);
} catch (err) {
  if (!(err instanceof ServerConfigError)) throw err;
  process.stderr.write(`settlement: configuration refused:\n${err.message}\n`);
  process.exit(2);
}
if (config.persistence.mode !== 'server') {
  process.stderr.write("settlement: set DATABASE_URL (and REDIS_URL) to the server's database\n");
  process.exit(2);
}
const db = serverDatabase(config.persistence.databaseUrl, { max: 2, driver: config.persistence.driver });
// The schema the report reads (the server migrates at start too; migrating is idempotent).
await migrate(db);
const g = config.paymentGateway;
const gateway = g
  ? new RazorpayGateway({ baseUrl: g.url, keyId: g.keyId, keySecret: g.keySecret, merchantId: g.merchantId })
  : undefined;
const report = await settlementReport(new MoneyStore(db), gateway, day, new Date(day.getTime() + DAY_MS));
await db.close();
const rs = (p: number) => `₹${(Number(p) / 100).toFixed(2)}`;
const row = (name: string, r: Omit<SettlementRow, 'restaurant_id' | 'payments' | 'refunds'>): string =>
  [
    name.padEnd(36),
    rs(r.captured_paise).padStart(12),
    rs(r.refunded_paise).padStart(12),
    rs(r.refund_pending_paise).padStart(13),
    rs(r.refund_failed_paise).padStart(15),
    rs(r.net_paise).padStart(12),
  ].join(' ');
if (json) process.stdout.write(`${JSON.stringify(report)}\n`);
else {
  const out: string[] = [`settlement ${report.from} .. ${report.to} (amounts in rupees; the JSON has paise)`];
  out.push(
    [
      'restaurant'.padEnd(36),
      'captured'.padStart(12),
      'refunded'.padStart(12),
      'refund owed'.padStart(13),
      'refund flagged'.padStart(15),
      'net'.padStart(12),
    ].join(' '),
  );
  for (const r of report.restaurants) out.push(row(r.restaurant_id, r));
  out.push(row('total', report.totals));
  const gw = report.gateway;
  if (gw) {
    const verdict = gw.matches ? 'matches' : `${gw.mismatches.length} mismatches`;
    const ours = `ours accepted ${rs(gw.ours_accepted_paise)}`;
    out.push(`gateway: captured ${rs(gw.captured_paise)}, refunded ${rs(gw.refunded_paise)} (${ours}): ${verdict}`);
    for (const m of gw.mismatches) out.push(`  ${m.payment}: ours ${m.ours}; gateway ${m.gateway}`);
  }
  process.stdout.write(`${out.join('\n')}\n`);
}
process.exit(report.gateway && !report.gateway.matches ? 1 : 0);
