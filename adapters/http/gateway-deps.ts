/**
 * What the REST handlers are given by the composition root, and the small
 * helpers they share. Handlers translate: validated body → one engine command
 * or query (plus the catalog rows around it) → the seed API's shape.
 */
import { authorize, type Action, type AccessTarget, type Clock, type Engine } from '../../engine/index.js';
import { type ErrorCode, type Principal, type Rejection, reject, type Result } from '../../protocol/index.js';
import type { PaymentGateway } from '../../engine/ports/payment-gateway.js';
import type { EngineCommands } from '../engine-commands.js';
import type { FieldCipher } from '../crypto/field-cipher.js';
import type { CatalogStore } from '../postgres/catalog-store.js';
import type { MoneyStore, RefundView } from '../postgres/money-store.js';

export interface GatewayConfig {
  /** Server version, in /health and /openapi.json. */
  readonly version: string;
  /** IANA time zone of restaurants' operating hours (default Asia/Kolkata). */
  readonly timeZone: string;
  readonly upi: {
    readonly payeeVpa: string;
    readonly payeeName: string;
    readonly merchantCode: string;
  };
  readonly defaultPrepMinutes: number;
  readonly defaultCapacity: number;
}

export interface GatewayDeps {
  /** What the handlers read: the engine itself in one process, a gateway's mirror of it in a cluster. */
  readonly engine: Engine;
  /** Where the handlers send commands: the same engine in one process, the partitions' owners from a gateway. */
  readonly commands: EngineCommands;
  readonly catalog: CatalogStore;
  /** Payments, the gateway's events and refunds; written in the catalog's transactions. */
  readonly money: MoneyStore;
  readonly clock: Clock;
  readonly config: GatewayConfig;
  /** Resolves when every engine event so far is durable (in Redis); rejects with a 503-bound error otherwise. */
  readonly durable: () => Promise<void>;
  /** Encrypts bank details; undefined when ENCRYPTION_KEY is not set (they are then refused). */
  readonly cipher: FieldCipher | undefined;
  readonly newId: () => string;
  /** The payment gateway; undefined in development without one (UPI links to the configured payee, no refunds sent). */
  readonly gateway?: PaymentGateway | undefined;
  /** Each dependency's state for /health. */
  readonly probes: Readonly<Record<string, () => Promise<boolean>>>;
}

/** Thrown inside a transaction to roll it back and answer with a coded rejection. */
export class Refusal extends Error {
  constructor(readonly rejection: Rejection) {
    super(rejection.detail);
  }
}

/** Runs `fn`; a {@link Refusal} thrown inside becomes its rejection. */
export async function refusing<T>(fn: () => Promise<T>): Promise<T | Rejection> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof Refusal) return err.rejection;
    throw err;
  }
}

/** Throws the rejection of a failed result (inside a transaction). */
export function must<T>(r: Result<T>): T {
  if (!r.ok) throw new Refusal(r);
  return r.value;
}

/**
 * The access check of a call on an existing object. An object the caller may
 * not see answers as if it did not exist (`notFound`), so ids cannot be probed.
 */
export function mayAct(
  p: Principal,
  action: Action,
  target: AccessTarget,
  notFound: ErrorCode,
  what: string,
): Rejection | undefined {
  const a = authorize(p, action, target);
  if (a.ok) return undefined;
  return a.code === 'AUTH_OBJECT_FORBIDDEN' ? reject(notFound, `no ${what}`) : a;
}

export const iso = (ms: number | Date): string => new Date(ms).toISOString();
export const rupeesOf = (paise: number): number => Math.round(paise) / 100;

const isoOrNull = (t: string | Date | null): string | null => (t === null ? null : new Date(t).toISOString());

/** A refund as orders and payments show it: status, rupees, and when it was asked, accepted and ended. */
export const refundJson = (r: RefundView): Record<string, unknown> => ({
  id: r.id,
  status: r.status,
  amount: rupeesOf(r.amount_paise),
  reason: r.reason,
  requested_at: isoOrNull(r.requested_at),
  accepted_at: isoOrNull(r.accepted_at),
  settled_at: isoOrNull(r.settled_at),
});
