/**
 * The authorization matrix: principals of every role, objects owned by each,
 * and the expected answer when each role touches an object it does not own.
 * Written out by hand, not derived from `ACCESS_RULES`, so it checks the
 * table rather than repeating it. The engine test runs it against
 * `authorize`; the REST, stream and admin suites run the same cases through
 * their edges (a case names the action; each edge maps it to its call).
 */
import type { Action, AccessTarget } from '../../engine/access.js';
import type { CustomerId, ErrorCode, Principal, RestaurantId, RiderId } from '../../protocol/index.js';

const HOUR = 3_600_000;
// Fixed, far-future expiry: the policy has no clock, and the matrix must not need one.
const EXPIRES = Date.UTC(2100, 0, 1) + HOUR;

const base = { expiresAt: EXPIRES, revocationChecked: false } as const;

const customer = (uid: string): Principal => ({
  ...base,
  uid,
  role: 'customer',
  email: `${uid}@example.com`,
  phone: '+919876543210',
  customerId: uid as CustomerId,
});
const restaurant = (uid: string, id: string): Principal => ({
  ...base,
  uid,
  role: 'restaurant',
  email: `${uid}@example.com`,
  phone: '+919876543211',
  restaurantId: id as RestaurantId,
});
const rider = (uid: string, id: string): Principal => ({
  ...base,
  uid,
  role: 'rider',
  email: `${uid}@example.com`,
  phone: '+919876543212',
  riderId: id as RiderId,
});

/** One principal per role and a second of each to own "someone else's" objects. */
export const principals = {
  customerA: customer('cust-a'),
  customerB: customer('cust-b'),
  restaurant1: restaurant('user-r1', 'rest-1'),
  restaurant2: restaurant('user-r2', 'rest-2'),
  riderX: rider('user-x', 'rider-x'),
  riderY: rider('user-y', 'rider-y'),
  admin: {
    ...base,
    uid: 'user-admin',
    role: 'admin',
    email: 'ops@example.com',
    phone: '+919876543213',
    revocationChecked: true,
  },
  /** An admin token nobody checked for revocation: refused for admin calls. */
  adminUnchecked: { ...base, uid: 'user-admin', role: 'admin', email: 'ops@example.com', phone: '+919876543213' },
} as const satisfies Record<string, Principal>;

export type PrincipalName = keyof typeof principals;

/** Objects and their owners. Order 1 is A's, cooked by 1, carried by X; order 2 is B's, 2's, Y's. */
export const objects = {
  order1: { customerId: 'cust-a' as CustomerId, restaurantId: 'rest-1' as RestaurantId, riderId: 'rider-x' as RiderId },
  order2: { customerId: 'cust-b' as CustomerId, restaurantId: 'rest-2' as RestaurantId, riderId: 'rider-y' as RiderId },
  /** An order still searching for a rider: no rider owns it. */
  order2Unassigned: { customerId: 'cust-b' as CustomerId, restaurantId: 'rest-2' as RestaurantId },
  menu1: { restaurantId: 'rest-1' as RestaurantId },
  menu2: { restaurantId: 'rest-2' as RestaurantId },
  offerX: { riderId: 'rider-x' as RiderId },
  offerY: { riderId: 'rider-y' as RiderId },
  riderX: { riderId: 'rider-x' as RiderId },
  riderY: { riderId: 'rider-y' as RiderId },
  paymentOfA: { customerId: 'cust-a' as CustomerId },
  paymentOfB: { customerId: 'cust-b' as CustomerId },
  accountOfB: { uid: 'cust-b' },
  none: {},
} as const satisfies Record<string, AccessTarget>;

export type ObjectName = keyof typeof objects;

/** One row of the matrix: who, what, on which object, and the expected answer. */
export interface AccessCase {
  readonly who: PrincipalName;
  readonly action: Action;
  readonly on: ObjectName;
  /** `null` means allowed. */
  readonly expect: ErrorCode | null;
}

const row = (who: PrincipalName, action: Action, on: ObjectName, expect: ErrorCode | null): AccessCase => ({
  who,
  action,
  on,
  expect,
});
const OBJ = 'AUTH_OBJECT_FORBIDDEN';
const ROLE = 'AUTH_ROLE_FORBIDDEN';

/** Every role against every kind of object it does not own, and calls outside its role. */
export const FORBIDDEN_CASES: readonly AccessCase[] = [
  // Another customer's order, payment and account.
  row('customerA', 'order.read', 'order2', OBJ),
  row('customerA', 'order.cancel', 'order2', OBJ),
  row('customerA', 'order.list', 'order2', OBJ),
  row('customerA', 'order.create', 'order2', OBJ),
  row('customerA', 'payment.create', 'paymentOfB', OBJ),
  row('customerA', 'payment.read', 'paymentOfB', OBJ),
  row('customerA', 'profile.read', 'accountOfB', OBJ),
  row('customerA', 'profile.write', 'accountOfB', OBJ),
  // Customers do not cook, ride or administer.
  row('customerA', 'order.status.update', 'order1', ROLE),
  row('customerA', 'menu.write', 'menu1', ROLE),
  row('customerA', 'offer.respond', 'offerX', ROLE),
  row('customerA', 'rider.location.update', 'riderX', ROLE),
  // Another restaurant's orders and menu.
  row('restaurant1', 'order.read', 'order2', OBJ),
  row('restaurant1', 'order.status.update', 'order2', OBJ),
  row('restaurant1', 'order.cancel', 'order2', OBJ),
  row('restaurant1', 'menu.write', 'menu2', OBJ),
  row('restaurant1', 'restaurant.update', 'menu2', OBJ),
  row('restaurant1', 'restaurant.register', 'menu2', OBJ),
  row('restaurant1', 'order.create', 'order1', ROLE),
  row('restaurant1', 'payment.create', 'paymentOfA', ROLE),
  row('restaurant1', 'offer.respond', 'offerX', ROLE),
  row('restaurant1', 'rider.location.update', 'riderX', ROLE),
  row('restaurant1', 'rider.documents.update', 'riderX', ROLE),
  // Another rider's offer, position and orders.
  row('riderX', 'offer.respond', 'offerY', OBJ),
  row('riderX', 'rider.location.update', 'riderY', OBJ),
  row('riderX', 'rider.status.update', 'riderY', OBJ),
  row('riderX', 'rider.documents.update', 'riderY', OBJ),
  row('riderX', 'rider.register', 'riderY', OBJ),
  row('riderX', 'order.read', 'order2', OBJ),
  row('riderX', 'order.read', 'order2Unassigned', OBJ),
  row('riderX', 'order.status.update', 'order2', OBJ),
  row('riderX', 'order.cancel', 'order1', ROLE),
  row('riderX', 'menu.write', 'menu1', ROLE),
  row('riderX', 'payment.read', 'paymentOfA', ROLE),
  // Admins do not pose as riders or customers.
  row('admin', 'offer.respond', 'offerX', ROLE),
  row('admin', 'rider.location.update', 'riderX', ROLE),
  row('admin', 'rider.documents.update', 'riderX', ROLE),
  row('admin', 'order.create', 'order1', ROLE),
  row('admin', 'payment.create', 'paymentOfA', ROLE),
  row('admin', 'profile.read', 'accountOfB', OBJ),
  // An admin token that was not checked for revocation.
  row('adminUnchecked', 'admin.inspect', 'none', ROLE),
  row('adminUnchecked', 'order.read', 'order1', ROLE),
];

const ADMIN_ACTIONS = [
  'admin.inspect',
  'admin.order.assign',
  'admin.order.cancel',
  'admin.restaurant.status',
  'admin.rider.review',
  'admin.shard.drain',
  'admin.settings.update',
  'admin.events.subscribe',
] as const satisfies readonly Action[];

/** Admin calls by every non-admin role. */
export const NON_ADMIN_CASES: readonly AccessCase[] = (['customerA', 'restaurant1', 'riderX'] as const).flatMap((who) =>
  ADMIN_ACTIONS.map((action) => row(who, action, 'none', ROLE)),
);

/** What each role may do on what it owns: the same edges must let these through. */
export const ALLOWED_CASES: readonly AccessCase[] = [
  row('customerA', 'order.create', 'order1', null),
  row('customerA', 'order.read', 'order1', null),
  row('customerA', 'order.cancel', 'order1', null),
  row('customerA', 'payment.create', 'paymentOfA', null),
  row('customerA', 'menu.read', 'menu2', null),
  row('customerB', 'profile.write', 'accountOfB', null),
  row('restaurant1', 'order.read', 'order1', null),
  row('restaurant1', 'order.status.update', 'order1', null),
  row('restaurant1', 'menu.write', 'menu1', null),
  row('riderX', 'offer.respond', 'offerX', null),
  row('riderX', 'rider.location.update', 'riderX', null),
  row('riderX', 'order.status.update', 'order1', null),
  row('admin', 'order.read', 'order2', null),
  row('admin', 'order.cancel', 'order2', null),
  row('admin', 'menu.write', 'menu2', null),
  ...ADMIN_ACTIONS.map((action) => row('admin', action, 'none', null)),
];

/** All rows, for suites that want them in one loop. */
export const ACCESS_MATRIX: readonly AccessCase[] = [...FORBIDDEN_CASES, ...NON_ADMIN_CASES, ...ALLOWED_CASES];
