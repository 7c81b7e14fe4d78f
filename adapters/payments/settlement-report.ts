/**
 * The daily settlement report: per restaurant, in paise, what was captured,
 * refunded, still owed back (refund pending) and flagged (refund failed), and
 * the net; then, payment by payment, the same figures as the gateway has
 * them, so the report says whether our books and the gateway's agree to the
 * paisa and lists every payment where they do not.
 */
import type { PaymentGateway } from '../../engine/ports/payment-gateway.js';
import type { MoneyStore, SettlementRow } from '../postgres/money-store.js';

export interface SettlementReport {
  readonly from: string;
  readonly to: string;
  readonly restaurants: readonly SettlementRow[];
  readonly totals: {
    captured_paise: number;
    refunded_paise: number;
    refund_pending_paise: number;
    refund_failed_paise: number;
    net_paise: number;
  };
  /** Absent when no gateway was asked. */
  readonly gateway?: {
    readonly captured_paise: number;
    /** What the gateway has refunded or is refunding (its `amount_refunded`), against what it accepted from us. */
    readonly refunded_paise: number;
    readonly ours_accepted_paise: number;
    readonly matches: boolean;
    readonly mismatches: readonly { payment: string; ours: string; gateway: string }[];
  };
}

/** The report for the UTC day [from, from + 1 day), or any [from, to). */
export async function settlementReport(
  money: MoneyStore,
  gateway: PaymentGateway | undefined,
  from: Date,
  to: Date,
): Promise<SettlementReport> {
  const restaurants = await money.settlement(from, to);
  const sum = (k: keyof SettlementRow) => restaurants.reduce((a, r) => a + Number(r[k]), 0);
  const totals = {
    captured_paise: sum('captured_paise'),
    refunded_paise: sum('refunded_paise'),
    refund_pending_paise: sum('refund_pending_paise'),
    refund_failed_paise: sum('refund_failed_paise'),
    net_paise: sum('net_paise'),
  };
  const report: SettlementReport = { from: from.toISOString(), to: to.toISOString(), restaurants, totals };
  if (!gateway) return report;
  let captured = 0;
  let refunded = 0;
  let ours = 0;
  const mismatches: { payment: string; ours: string; gateway: string }[] = [];
  for (const p of await money.capturedPayments(from, to)) {
    ours += Number(p.refund_accepted_paise);
    if (p.gateway_ref === null) {
      mismatches.push({ payment: p.id, ours: `captured ${p.amount_paise}`, gateway: 'no gateway payment id' });
      continue;
    }
    const g = await gateway.fetchPayment(p.gateway_ref);
    const gCaptured = g.status === 'captured' || g.status === 'refunded' ? g.amount : 0;
    captured += gCaptured;
    refunded += g.amountRefunded;
    if (gCaptured !== p.amount_paise || g.amountRefunded !== Number(p.refund_accepted_paise)) {
      mismatches.push({
        payment: p.id,
        ours: `captured ${p.amount_paise}, refunds accepted ${p.refund_accepted_paise}`,
        gateway: `${g.status} ${gCaptured}, refunded ${g.amountRefunded}`,
      });
    }
  }
  return {
    ...report,
    gateway: {
      captured_paise: captured,
      refunded_paise: refunded,
      ours_accepted_paise: ours,
      matches: mismatches.length === 0 && captured === totals.captured_paise,
      mismatches,
    },
  };
}
