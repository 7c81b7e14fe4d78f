/**
 * UPI intent links, per NPCI's "UPI Linking Specifications": a `upi://pay`
 * URI that any UPI app on the phone opens to pay. Values are
 * percent-encoded. The link is a request, not a proof: only the payment
 * gateway's webhook or status API says money moved.
 */

export interface UpiIntent {
  /** Payee VPA (the merchant), `pa`. */
  readonly payeeVpa: string;
  /** Payee name, `pn`. */
  readonly payeeName: string;
  /** Transaction reference, unique per payment, `tr` (≤ 35 chars). */
  readonly reference: string;
  /** Note shown to the payer, `tn` (≤ 80 chars). */
  readonly note: string;
  /** Amount in paise; written as rupees with two decimals, `am`. */
  readonly amountPaise: number;
  /** Merchant category code, `mc` (5812: eating places and restaurants). */
  readonly merchantCode?: string;
  /** A URL with details of the transaction, `url`. */
  readonly url?: string;
}

/** Paise → "450.00". */
export const rupees = (paise: number): string => `${Math.floor(paise / 100)}.${String(paise % 100).padStart(2, '0')}`;

/** Builds `upi://pay?pa=...&pn=...&tr=...&tn=...&am=...&cu=INR[&mc=...][&url=...]`. */
export function upiIntentLink(i: UpiIntent): string {
  if (!(Number.isInteger(i.amountPaise) && i.amountPaise > 0))
    throw new RangeError('amountPaise must be a positive integer');
  if (i.reference.length > 35) throw new RangeError('reference must be at most 35 characters');
  const params: [string, string][] = [
    ['pa', i.payeeVpa],
    ['pn', i.payeeName],
    ['tr', i.reference],
    ['tn', i.note.slice(0, 80)],
    ['am', rupees(i.amountPaise)],
    ['cu', 'INR'],
  ];
  if (i.merchantCode !== undefined) params.push(['mc', i.merchantCode]);
  if (i.url !== undefined) params.push(['url', i.url]);
  return `upi://pay?${params.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&')}`;
}
