/**
 * The access policy: which role may do what, and on whose objects. Pure: no
 * I/O, no clock. Every edge (rider WebSocket, customer/restaurant stream, REST,
 * gRPC admin) asks {@link authorize} before it hands a command to the engine,
 * so one table decides for all of them.
 *
 * Two refusals, both 403:
 * - `AUTH_ROLE_FORBIDDEN`: the caller's role may never make this call;
 * - `AUTH_OBJECT_FORBIDDEN`: the role may, but not on this object (another
 *   customer's order, another restaurant's menu, another rider's offer).
 */
import {
  OK,
  ROLES,
  reject,
  type CustomerId,
  type Principal,
  type RestaurantId,
  type Result,
  type RiderId,
  type Role,
} from '../protocol/index.js';

/**
 * How a role relates to the object of an action:
 * - `own`: the object must name the caller in the field of its role
 *   (customer → `customerId`, restaurant → `restaurantId`, rider → `riderId`);
 * - `self`: the object is the caller's own account (`uid`);
 * - `any`: any object (admins; public reads).
 */
export type Scope = 'own' | 'self' | 'any';

/** Per action, the roles allowed and on which objects. A role not listed is refused. */
export type ActionRule = Readonly<Partial<Record<Role, Scope>>>;

/**
 * The actions table. Edges name the action of each call; the REST, stream and
 * admin edges reuse the same names. Status-level rules (a restaurant confirms,
 * a rider marks picked up) belong to the order machine, not here.
 */
export const ACCESS_RULES = {
  'order.create': { customer: 'own' },
  'order.read': { customer: 'own', restaurant: 'own', rider: 'own', admin: 'any' },
  'order.list': { customer: 'own', restaurant: 'own', rider: 'own', admin: 'any' },
  'order.cancel': { customer: 'own', restaurant: 'own', admin: 'any' },
  'order.status.update': { restaurant: 'own', rider: 'own', admin: 'any' },
  'menu.read': { customer: 'any', restaurant: 'any', rider: 'any', admin: 'any' },
  'menu.write': { restaurant: 'own', admin: 'any' },
  'restaurant.register': { restaurant: 'own', admin: 'any' },
  'restaurant.update': { restaurant: 'own', admin: 'any' },
  'rider.register': { rider: 'own', admin: 'any' },
  'rider.status.update': { rider: 'own' },
  'rider.documents.update': { rider: 'own' },
  'rider.location.update': { rider: 'own' },
  'offer.respond': { rider: 'own' },
  'payment.create': { customer: 'own' },
  'payment.read': { customer: 'own', admin: 'any' },
  'profile.read': { customer: 'self', restaurant: 'self', rider: 'self', admin: 'self' },
  'profile.write': { customer: 'self', restaurant: 'self', rider: 'self', admin: 'self' },
  'admin.inspect': { admin: 'any' },
  'admin.order.assign': { admin: 'any' },
  'admin.order.cancel': { admin: 'any' },
  'admin.restaurant.status': { admin: 'any' },
  'admin.rider.review': { admin: 'any' },
  'admin.shard.drain': { admin: 'any' },
  'admin.settings.update': { admin: 'any' },
  'admin.events.subscribe': { admin: 'any' },
} as const satisfies Record<string, ActionRule>;

export type Action = keyof typeof ACCESS_RULES;

/** Every action name, in table order. */
export const ACTIONS: readonly Action[] = Object.freeze(Object.keys(ACCESS_RULES) as Action[]);

export function isAction(x: unknown): x is Action {
  return typeof x === 'string' && Object.hasOwn(ACCESS_RULES, x);
}

/**
 * The object of a call, described by its owners. An edge fills in what it
 * knows from the engine (an order's customer, restaurant and assigned rider);
 * an owner left out matches nobody, so an unassigned order is no rider's.
 */
export interface AccessTarget {
  readonly customerId?: CustomerId;
  readonly restaurantId?: RestaurantId;
  readonly riderId?: RiderId;
  /** The account a `self` action is about. */
  readonly uid?: string;
}

/** The rule of one action: the roles that may make it and their scope. */
export function ruleOf(action: Action): ActionRule {
  return ACCESS_RULES[action];
}

/** The roles that may make `action` at all, in {@link ROLES} order. */
export function rolesAllowed(action: Action): readonly Role[] {
  const rule = ruleOf(action);
  return ROLES.filter((r) => rule[r] !== undefined);
}

/**
 * Decides whether `principal` may perform `action` on `target`.
 *
 * @returns `OK`, or a rejection with `AUTH_ROLE_FORBIDDEN` (the role may not
 * make this call at all, or an admin call without a revocation check) or
 * `AUTH_OBJECT_FORBIDDEN` (the object belongs to someone else).
 */
export function authorize(principal: Principal, action: Action, target: AccessTarget = {}): Result {
  const scope = ruleOf(action)[principal.role];
  if (scope === undefined) {
    return reject('AUTH_ROLE_FORBIDDEN', `role '${principal.role}' may not ${action}`);
  }
  // A removed admin must lose access at once: the adapter checks revocation
  // and the current role for every admin token; refuse one that skipped it.
  if (principal.role === 'admin' && !principal.revocationChecked) {
    return reject('AUTH_ROLE_FORBIDDEN', `${action} needs an admin token checked for revocation`);
  }
  if (scope === 'any') return OK;
  if (scope === 'self') {
    return target.uid !== undefined && target.uid === principal.uid
      ? OK
      : reject('AUTH_OBJECT_FORBIDDEN', `${action}: not your account`);
  }
  return ownsTarget(principal, target)
    ? OK
    : reject('AUTH_OBJECT_FORBIDDEN', `${action}: the object belongs to another ${principal.role}`);
}

/** True when `target` names `principal` in the owner field of its role. */
export function ownsTarget(principal: Principal, target: AccessTarget): boolean {
  switch (principal.role) {
    case 'customer':
      return same(principal.customerId, target.customerId);
    case 'restaurant':
      return same(principal.restaurantId, target.restaurantId);
    case 'rider':
      return same(principal.riderId, target.riderId);
    case 'admin':
      // Admins act on any object by scope `any`; "own" means nothing for them.
      return false;
  }
}

// An id absent on either side never matches: undefined === undefined must not grant access.
const same = (a: string | undefined, b: string | undefined): boolean => a !== undefined && b !== undefined && a === b;
