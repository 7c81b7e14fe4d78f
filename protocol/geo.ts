/** A WGS84 point in decimal degrees. */
export interface LatLng {
  readonly lat: number;
  readonly lng: number;
}

/** True when `p` holds finite coordinates inside the WGS84 ranges. */
export function isLatLng(p: unknown): p is LatLng {
  if (typeof p !== 'object' || p === null) return false;
  const { lat, lng } = p as { lat: unknown; lng: unknown };
  return isLatitude(lat) && isLongitude(lng);
}

export const isLatitude = (x: unknown): x is number =>
  typeof x === 'number' && Number.isFinite(x) && x >= -90 && x <= 90;
export const isLongitude = (x: unknown): x is number =>
  typeof x === 'number' && Number.isFinite(x) && x >= -180 && x <= 180;
