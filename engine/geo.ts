import { latLngToCell } from 'h3-js';
import type { H3Cell } from '../protocol/index.js';

/** Mean earth radius, metres. */
export const EARTH_RADIUS_M = 6_371_008.8;
/** Radians per degree. */
export const RAD = Math.PI / 180;

/** Great-circle distance in metres (haversine). */
export function distanceM(lat1: number, lng1: number, lat2: number, lng2: number): number {
  const dLat = (lat2 - lat1) * RAD;
  const dLng = (lng2 - lng1) * RAD;
  const a = Math.sin(dLat / 2) ** 2 + Math.cos(lat1 * RAD) * Math.cos(lat2 * RAD) * Math.sin(dLng / 2) ** 2;
  return 2 * EARTH_RADIUS_M * Math.asin(Math.min(1, Math.sqrt(a)));
}

/**
 * Equirectangular distance in metres: within 0.1% of haversine below 50 km and
 * a few times cheaper, so the position hot path and scoring use it.
 */
export function fastDistanceM(lat1: number, lng1: number, lat2: number, lng2: number): number {
  const x = (lng2 - lng1) * RAD * Math.cos(((lat1 + lat2) / 2) * RAD);
  const y = (lat2 - lat1) * RAD;
  return Math.sqrt(x * x + y * y) * EARTH_RADIUS_M;
}

/** Initial bearing from point 1 to point 2, degrees clockwise from north in [0, 360). */
export function bearingDeg(lat1: number, lng1: number, lat2: number, lng2: number): number {
  const φ1 = lat1 * RAD;
  const φ2 = lat2 * RAD;
  const Δλ = (lng2 - lng1) * RAD;
  const y = Math.sin(Δλ) * Math.cos(φ2);
  const x = Math.cos(φ1) * Math.sin(φ2) - Math.sin(φ1) * Math.cos(φ2) * Math.cos(Δλ);
  return (Math.atan2(y, x) / RAD + 360) % 360;
}

/** Absolute difference of two headings, in [0, 180]. */
export function headingDelta(a: number, b: number): number {
  const d = Math.abs(a - b) % 360;
  return d > 180 ? 360 - d : d;
}

/** Moves `distance` metres from a point along `bearing` (flat-earth; fine for city scale). */
export function offsetM(lat: number, lng: number, bearing: number, distance: number): { lat: number; lng: number } {
  const dLat = (distance * Math.cos(bearing * RAD)) / EARTH_RADIUS_M / RAD;
  const dLng = (distance * Math.sin(bearing * RAD)) / (EARTH_RADIUS_M * Math.cos(lat * RAD)) / RAD;
  return { lat: lat + dLat, lng: lng + dLng };
}

export const cellOf = (lat: number, lng: number, res: number): H3Cell => latLngToCell(lat, lng, res) as H3Cell;
