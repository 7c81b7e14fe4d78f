/**
 * A verified token's claims → a {@link Principal}, or the reason the caller
 * may not act at all. Applied only to tokens firebase-admin has verified.
 */
import {
  IdentityClaim,
  isRole,
  ok,
  parseCustomerId,
  parseRestaurantId,
  parseRiderId,
  reject,
  type Principal,
  type Result,
} from '../../protocol/index.js';

/** The claims this module reads; a subset of firebase-admin's `DecodedIdToken`. */
export interface VerifiedClaims {
  readonly uid: string;
  readonly exp: number;
  readonly email?: string | undefined;
  readonly email_verified?: boolean | undefined;
  readonly phone_number?: string | undefined;
  readonly [claim: string]: unknown;
}

/**
 * Builds the principal, enforcing what the seed API requires of every caller:
 *
 * - a verified email: `email` present and `email_verified === true`;
 * - a verified phone number: `phone_number` present. Firebase has no
 *   `phone_verified` flag: it puts a number on an account only after an SMS
 *   code was confirmed (phone sign-in or linking) or when a server with admin
 *   credentials set it, so a present `phone_number` is a verified one.
 *
 * The role comes from the `role` custom claim; absent means customer. The
 * restaurant and rider roles must name the restaurant or rider they act for.
 */
export function principalFromClaims(c: VerifiedClaims, revocationChecked: boolean): Result<Principal> {
  const email = typeof c.email === 'string' && c.email !== '' ? c.email : undefined;
  const phone = typeof c.phone_number === 'string' && c.phone_number !== '' ? c.phone_number : undefined;
  const phoneToo = phone === undefined ? '; the phone number is missing too' : '';
  if (email === undefined) {
    return reject('AUTH_EMAIL_UNVERIFIED', `the account has no email address${phoneToo}`);
  }
  if (c.email_verified !== true) {
    return reject('AUTH_EMAIL_UNVERIFIED', `email ${email} is not verified${phoneToo}`);
  }
  if (phone === undefined) {
    return reject(
      'AUTH_PHONE_UNVERIFIED',
      'the account has no verified phone number: verify one with Firebase phone auth',
    );
  }

  const rawRole = c[IdentityClaim.Role] ?? 'customer';
  if (!isRole(rawRole)) {
    return reject('AUTH_ROLE_FORBIDDEN', `unknown role claim ${JSON.stringify(rawRole)}`);
  }
  const base = {
    uid: c.uid,
    role: rawRole,
    email,
    phone,
    expiresAt: c.exp * 1000,
    revocationChecked,
  } as const;

  switch (rawRole) {
    case 'customer': {
      const customerId = parseCustomerId(c.uid);
      if (customerId === undefined) {
        return reject('AUTH_ROLE_FORBIDDEN', `uid '${c.uid}' cannot serve as a customer id`);
      }
      return ok({ ...base, customerId });
    }
    case 'restaurant': {
      const restaurantId = parseRestaurantId(c[IdentityClaim.RestaurantId]);
      if (restaurantId === undefined) {
        return reject('AUTH_ROLE_FORBIDDEN', `role restaurant without a valid '${IdentityClaim.RestaurantId}' claim`);
      }
      return ok({ ...base, restaurantId });
    }
    case 'rider': {
      const riderId = parseRiderId(c[IdentityClaim.RiderId]);
      if (riderId === undefined) {
        return reject('AUTH_ROLE_FORBIDDEN', `role rider without a valid '${IdentityClaim.RiderId}' claim`);
      }
      return ok({ ...base, riderId });
    }
    case 'admin':
      return ok(base);
  }
}

/**
 * The role a token claims, read WITHOUT verifying it. Used only to decide to
 * check more (an admin claim triggers the revocation check), never to grant.
 */
export function peekClaimedRole(token: string): unknown {
  const payload = token.split('.')[1];
  if (payload === undefined) return undefined;
  try {
    const json: unknown = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    return typeof json === 'object' && json !== null
      ? (json as Record<string, unknown>)[IdentityClaim.Role]
      : undefined;
  } catch {
    return undefined;
  }
}
