/**
 * Branded identifiers. A plain string becomes an id only through a parser at
 * the edge (or the engine's id generator), so an `OrderId` can never be passed
 * where a `RiderId` is expected.
 */
export type OrderId = string & { readonly __orderId: never };
export type RiderId = string & { readonly __riderId: never };
export type RestaurantId = string & { readonly __restaurantId: never };
export type CustomerId = string & { readonly __customerId: never };
export type OfferId = string & { readonly __offerId: never };
/** An H3 cell index in its 15-hex-digit string form. */
export type H3Cell = string & { readonly __h3Cell: never };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Ids are UUIDs (the seed API's choice) or short slugs used by tools and tests. */
const SLUG = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/** True when `s` is acceptable as any id: a UUID or a slug of at most 64 safe characters. */
export function isIdString(s: unknown): s is string {
  return typeof s === 'string' && (UUID.test(s) || SLUG.test(s));
}

export const parseOrderId = (s: unknown): OrderId | undefined => (isIdString(s) ? (s as OrderId) : undefined);
export const parseRiderId = (s: unknown): RiderId | undefined => (isIdString(s) ? (s as RiderId) : undefined);
export const parseRestaurantId = (s: unknown): RestaurantId | undefined =>
  isIdString(s) ? (s as RestaurantId) : undefined;
export const parseCustomerId = (s: unknown): CustomerId | undefined => (isIdString(s) ? (s as CustomerId) : undefined);
