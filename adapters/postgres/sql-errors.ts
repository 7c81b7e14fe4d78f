/**
 * Database errors that are the client's fault, as codes of the error table.
 * The edges validate what they take (protocol/rest/text-policy.ts, the
 * schemas' bounds) so these should not happen; when one does, the client
 * hears a 4xx that says what to change instead of a 500, and the edge logs it
 * as a gap in its validation. Errors of the server (syntax, connections,
 * permissions) are not mapped: they stay 5xx.
 */
import { reject, type Rejection } from '../../protocol/index.js';

/** Unique indexes a client can collide with, as the field a client would name. */
const UNIQUE_FIELDS: Readonly<Record<string, string>> = {
  users_phone_key: 'phone',
  users_email_key: 'email',
  riders_user_key: 'rider account',
  orders_tracking_key: 'tracking id',
  payments_transaction_key: 'transaction id',
  payments_one_open_per_order: 'open payment of this order',
};

/**
 * The rejection for a Postgres (or PGlite) error caused by the data sent, or
 * undefined when the error is the server's. SQLSTATE classes: 22 (data
 * exception: out of range, bad encoding, too long) is the value's fault; 23
 * (integrity) conflicts with stored data.
 */
export function clientFault(err: unknown): Rejection | undefined {
  // node-postgres and PGlite call the violated constraint `constraint`, postgres.js `constraint_name`.
  const e = err as { code?: unknown; constraint?: unknown; constraint_name?: unknown } | null;
  const code = typeof e?.code === 'string' ? e.code : '';
  if (!/^2[23][0-9A-Z]{3}$/.test(code)) return undefined;
  const named = e?.constraint ?? e?.constraint_name;
  const constraint = typeof named === 'string' ? named : undefined;
  if (code === '23505') {
    const field = constraint === undefined ? undefined : UNIQUE_FIELDS[constraint];
    const what = field ? `this ${field}` : 'a value that must be unique';
    return reject('VALUE_TAKEN', `${what} is already used by another record`);
  }
  if (code.startsWith('22')) return reject('INVALID_ARGUMENT', 'a value is beyond what the server can store');
  const which = constraint ? ` (${constraint})` : '';
  return reject('CONSTRAINT_VIOLATED', `the change breaks a rule of the stored data${which}`);
}
