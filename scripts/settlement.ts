/**
 * `npm run settlement -- [--date YYYY-MM-DD] [--json]`: the settlement report
 * of one UTC day (default yesterday) from DATABASE_URL, checked against the
 * payment gateway when UPI_GATEWAY_URL is set (adapters/payments/settlement-report.ts).
 * Exit code 1 when our books and the gateway's differ.
 */
import { RazorpayGateway } from '../adapters/payments/razorpay-gateway.js';
import { settlementReport } from '../adapters/payments/settlement-report.js';
import { MoneyStore } from '../adapters/postgres/money-store.js';
import { pgDatabase } from '../adapters/postgres/sql-database.js';
import { parseServerConfig, ServerConfigError } from '../adapters/server/server-config.js';

const args = process.argv.slice(2);
const json = args.includes('--json');
const dateArg = args[args.indexOf('--date') + 1];
const day = args.includes('--date')
  ? new Date(`${dateArg}T00:00:00Z`)
  : new Date(Math.floor(Date.now() / 86_400_000) * 86_400_000 - 86_400_000);
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
const db = pgDatabase(config.persistence.databaseUrl, { max: 2 });
const g = config.paymentGateway;
const gateway = g
  ? new RazorpayGateway({ baseUrl: g.url, keyId: g.keyId, keySecret: g.keySecret, merchantId: g.merchantId })
  : undefined;
const report = await settlementReport(new MoneyStore(db), gateway, day, new Date(day.getTime() + 86_400_000));
await db.close();
const rs = (p: number) => `₹${(Number(p) / 100).toFixed(2)}`;
if (json) process.stdout.write(`${JSON.stringify(report)}\n`);
else {
  process.stdout.write(`settlement ${report.from} .. ${report.to} (amounts in rupees; the JSON has paise)\n`);
  process.stdout.write(
    'restaurant                             captured     refunded   refund owed  refund flagged          net\n',
  );
  for (const r of report.restaurants) {
    process.stdout.write(
      `${r.restaurant_id.padEnd(36)} ${rs(r.captured_paise).padStart(11)} ${rs(r.refunded_paise).padStart(12)} ${rs(r.refund_pending_paise).padStart(13)} ${rs(r.refund_failed_paise).padStart(15)} ${rs(r.net_paise).padStart(12)}\n`,
    );
  }
  const t = report.totals;
  process.stdout.write(
    `${'total'.padEnd(36)} ${rs(t.captured_paise).padStart(11)} ${rs(t.refunded_paise).padStart(12)} ${rs(t.refund_pending_paise).padStart(13)} ${rs(t.refund_failed_paise).padStart(15)} ${rs(t.net_paise).padStart(12)}\n`,
  );
  if (report.gateway) {
    process.stdout.write(
      `gateway: captured ${rs(report.gateway.captured_paise)}, refunded ${rs(report.gateway.refunded_paise)} (ours accepted ${rs(report.gateway.ours_accepted_paise)}): ${report.gateway.matches ? 'matches' : `${report.gateway.mismatches.length} mismatches`}\n`,
    );
    for (const m of report.gateway.mismatches)
      process.stdout.write(`  ${m.payment}: ours ${m.ours}; gateway ${m.gateway}\n`);
  }
}
process.exit(report.gateway && !report.gateway.matches ? 1 : 0);
