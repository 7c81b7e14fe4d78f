/**
 * firebase-admin errors → the error table. Every failure of a verification
 * lands on an `AUTH_*` code; anything not recognised fails closed as
 * `AUTH_UNAVAILABLE` (503), never as a pass.
 */
import { reject, type ErrorCode, type Rejection } from '../../protocol/index.js';

/**
 * Codes firebase-admin 13 raises while verifying a token or looking a user up,
 * and what each means for the caller. `auth/internal-error` is what a failed
 * fetch of Google's public keys becomes inside `verifyIdToken`.
 */
export const FIREBASE_ERROR_CODES = {
  'auth/id-token-expired': 'AUTH_TOKEN_EXPIRED',
  'auth/id-token-revoked': 'AUTH_TOKEN_REVOKED',
  'auth/user-disabled': 'AUTH_USER_DISABLED',
  'auth/argument-error': 'AUTH_TOKEN_INVALID',
  'auth/invalid-argument': 'AUTH_TOKEN_INVALID',
  'auth/invalid-id-token': 'AUTH_TOKEN_INVALID',
  // The token is genuine but its account was deleted since.
  'auth/user-not-found': 'AUTH_TOKEN_REVOKED',
  'auth/internal-error': 'AUTH_UNAVAILABLE',
  'auth/quota-exceeded': 'AUTH_UNAVAILABLE',
  'auth/invalid-credential': 'AUTH_UNAVAILABLE',
  'auth/insufficient-permission': 'AUTH_UNAVAILABLE',
  'auth/project-not-found': 'AUTH_UNAVAILABLE',
  'auth/invalid-project-id': 'AUTH_UNAVAILABLE',
  'app/network-error': 'AUTH_UNAVAILABLE',
  'app/network-timeout': 'AUTH_UNAVAILABLE',
  'app/invalid-credential': 'AUTH_UNAVAILABLE',
  'app/unable-to-parse-response': 'AUTH_UNAVAILABLE',
  'app/internal-error': 'AUTH_UNAVAILABLE',
} as const satisfies Record<string, ErrorCode>;

const SHORT_DETAIL: Partial<Record<ErrorCode, string>> = {
  AUTH_TOKEN_EXPIRED: 'the ID token has expired; get a fresh one from the client SDK',
  AUTH_TOKEN_REVOKED: 'the ID token has been revoked; sign in again',
  AUTH_USER_DISABLED: 'the user account is disabled',
};

/**
 * firebase-admin 13 reports a failed fetch of Google's certificates as
 * `auth/argument-error`, like a bad token; only the message tells them apart.
 * If a later version rewords it, the outage shows as a 401: still closed.
 */
const KEY_FETCH_FAILURE = /^(Error fetching public keys|Error while making request)/;

/** Maps anything `verifyIdToken` or `getUser` threw to a rejection. */
export function rejectionFromFirebase(err: unknown): Rejection {
  const code = errorCodeOf(err);
  let mapped: ErrorCode =
    code !== undefined && Object.hasOwn(FIREBASE_ERROR_CODES, code)
      ? FIREBASE_ERROR_CODES[code as keyof typeof FIREBASE_ERROR_CODES]
      : 'AUTH_UNAVAILABLE';
  if (mapped === 'AUTH_TOKEN_INVALID' && KEY_FETCH_FAILURE.test(messageOf(err))) mapped = 'AUTH_UNAVAILABLE';
  const short = SHORT_DETAIL[mapped];
  const detail = short ?? firstSentence(messageOf(err));
  return reject(mapped, code === undefined ? detail : `${detail} (${code})`);
}

function errorCodeOf(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const code = (err as { code?: unknown }).code;
  // firebase-admin prefixes its codes (`auth/...`, `app/...`); node's own
  // network errors (ECONNREFUSED...) carry no prefix and count as unavailable.
  return typeof code === 'string' && code.includes('/') ? code : undefined;
}

function messageOf(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

// firebase-admin appends advice and documentation links to its messages; what
// comes before says what went wrong (wrong "aud", wrong "iss", bad signature...).
function firstSentence(msg: string): string {
  const cut = msg.search(/\s(See|Make sure) /);
  const s = (cut === -1 ? msg : msg.slice(0, cut)).trim();
  return s.length > 300 ? `${s.slice(0, 300)}…` : s || 'identity verification failed';
}
