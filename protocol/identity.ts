/**
 * Who is calling: the identity types every edge shares. A Firebase ID token is
 * turned into a {@link Principal} once, at the edge, by an `IdentityVerifier`;
 * the engine's access policy (`engine/access.ts`) decides on principals only.
 */
import type { CustomerId, RestaurantId, RiderId } from './ids.js';

/** The roles a caller can hold. One role per account, carried in a custom claim. */
export const Role = {
  Customer: 'customer',
  Restaurant: 'restaurant',
  Rider: 'rider',
  Admin: 'admin',
} as const;

export type Role = (typeof Role)[keyof typeof Role];

/** Every role, in a stable order (tests and tools iterate over it). */
export const ROLES: readonly Role[] = Object.freeze(Object.values(Role));

export function isRole(x: unknown): x is Role {
  return typeof x === 'string' && (ROLES as readonly string[]).includes(x);
}

/**
 * Names of the custom claims that carry a role. Snake case like the rest of the
 * seed API. `role` absent means customer: every user who signs up orders food
 * until an operator grants another role (`npm run roles`).
 */
export const IdentityClaim = {
  Role: 'role',
  RestaurantId: 'restaurant_id',
  RiderId: 'rider_id',
} as const;

export type IdentityClaim = (typeof IdentityClaim)[keyof typeof IdentityClaim];

/**
 * A verified caller. Built only by an `IdentityVerifier` after the token,
 * the account state (disabled, revoked), the verified email and the verified
 * phone number have all been checked.
 */
export interface Principal {
  /** Firebase user id (`sub` of the token). */
  readonly uid: string;
  readonly role: Role;
  /** Verified email address. */
  readonly email: string;
  /** Verified phone number in E.164 form (`phone_number` of the token). */
  readonly phone: string;
  /** Set for customers: a customer's id is their uid. */
  readonly customerId?: CustomerId;
  /** Set for the restaurant role: the restaurant this account acts for. */
  readonly restaurantId?: RestaurantId;
  /** Set for the rider role: the rider this account is. */
  readonly riderId?: RiderId;
  /**
   * When the token stops being valid, epoch ms. Long-lived connections (the
   * WebSocket edges) close at this instant or take a fresh token.
   */
  readonly expiresAt: number;
  /**
   * True when the verifier asked Firebase whether the token was revoked or the
   * user disabled. Always true for admins, whose role the verifier also looked
   * up server-side; the access policy refuses admin actions without it.
   */
  readonly revocationChecked: boolean;
}
