import type { ErrorCode } from '../protocol/index.js';

/**
 * A storage or queue service this call needs is down. Carries the error table's
 * `DEPENDENCY_UNAVAILABLE` so an edge answers 503 with it, and the driver's
 * error as `cause`.
 */
export class DependencyUnavailableError extends Error {
  override readonly name = 'DependencyUnavailableError';
  readonly code: ErrorCode = 'DEPENDENCY_UNAVAILABLE';
}

// node-postgres, postgres.js and net errors that mean "the server is not there", not "your SQL is wrong".
const DOWN_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EHOSTUNREACH',
  '57P01',
  '57P02',
  '57P03',
  '08000',
  '08003',
  '08006',
  '08001',
  '08004',
  // postgres.js: the socket closed under a statement, a connect timed out, the pool was ended.
  'CONNECTION_CLOSED',
  'CONNECTION_DESTROYED',
  'CONNECTION_ENDED',
  'CONNECT_TIMEOUT',
]);

/** True when `err` says the database or queue server cannot be reached. */
export function isConnectionError(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown } | null;
  if (!e) return false;
  if (typeof e.code === 'string' && DOWN_CODES.has(e.code)) return true;
  return (
    typeof e.message === 'string' &&
    /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error/.test(
      e.message,
    )
  );
}
