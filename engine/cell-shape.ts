import { cellToBoundary, cellToLatLng } from 'h3-js';
import type { H3Cell } from '../protocol/index.js';
import { EARTH_RADIUS_M, fastDistanceM, RAD } from './geo.js';

/** The outline is drawn this much inside the cell's own, so a flat-map test never says "inside" wrongly. */
const MARGIN = 0.01;
/**
 * Cells wider than this (centre to corner) keep to a smaller disc and no outline: on a flat map
 * around the centre their edges bend away from H3's by more than the margin at high latitudes. Index
 * cells are far smaller (resolution 9, the default, is about 175 m).
 */
const MAX_OUTLINE_M = 5_000;
/** Cells wider than this have no disc either: every position asks H3. */
const MAX_DISC_M = 30_000;

/**
 * An H3 cell as the position hot path sees it: its centre, the disc inside it, and its outline, so
 * that a rider can be told to be still in its cell without `latLngToCell` (and its string). The disc
 * answers most positions with one distance; the outline the rest but the last per cent next to the
 * edge, where only H3 can say. Both lie inside the cell, so "inside" is always right and "not inside"
 * means "ask H3".
 */
export class CellShape {
  readonly cell: H3Cell;
  readonly lat: number;
  readonly lng: number;
  /** Radius of the disc inside the cell, metres. */
  readonly discR: number;
  /** Metres per degree east at the centre. */
  readonly #mx: number;
  /**
   * The outline's edges as half-planes in metres around the centre, four numbers each (nx, ny, c,
   * unused): a point (x, y) is inside when nx·x + ny·y < c for every edge. Empty when the cell keeps
   * to its disc.
   */
  readonly #edges: Float64Array;

  constructor(cell: H3Cell) {
    this.cell = cell;
    const [lat, lng] = cellToLatLng(cell);
    this.lat = lat;
    this.lng = lng;
    this.#mx = RAD * EARTH_RADIUS_M * Math.cos(lat * RAD);
    const corners = cellToBoundary(cell);
    let farthest = 0;
    for (const [vLat, vLng] of corners) farthest = Math.max(farthest, fastDistanceM(lat, lng, vLat, vLng));
    const edges = this.#outline(corners);
    // The disc touches the nearest edge, not the nearest corner's apothem: H3's cells are not all
    // regular (a stretched one at 61° S, resolution 8, has corners 426 to 490 m from its centre).
    let apothem = Infinity;
    for (let i = 0; i < edges.length; i += 4)
      apothem = Math.min(apothem, edges[i + 2]! / Math.hypot(edges[i]!, edges[i + 1]!));
    if (edges.length === 0 || farthest > MAX_DISC_M) {
      this.discR = 0;
      this.#edges = new Float64Array(0);
    } else if (farthest > MAX_OUTLINE_M) {
      this.discR = apothem * 0.9;
      this.#edges = new Float64Array(0);
    } else {
      this.discR = apothem * (1 - MARGIN) * 0.995;
      this.#edges = edges.map((v, i) => (i % 4 === 2 ? v * (1 - MARGIN) : v));
    }
  }

  /** Whether (lat, lng) is certainly in this cell; false means it may not be (ask H3). */
  contains(lat: number, lng: number): boolean {
    return fastDistanceM(lat, lng, this.lat, this.lng) < this.discR || this.outlineHolds(lat, lng);
  }

  /**
   * Whether (lat, lng) is certainly inside the outline; for a caller that has already found it
   * outside the disc (the position hot path keeps the disc in the rider table).
   */
  outlineHolds(lat: number, lng: number): boolean {
    const e = this.#edges;
    if (e.length === 0) return false;
    const x = (lng - this.lng) * this.#mx;
    const y = (lat - this.lat) * RAD * EARTH_RADIUS_M;
    for (let i = 0; i < e.length; i += 4) if (!(e[i]! * x + e[i + 1]! * y < e[i + 2]!)) return false;
    return true;
  }

  /** The corners as half-planes around the centre; none if they do not make a convex outline around it. */
  #outline(corners: readonly (readonly number[])[]): Float64Array {
    const n = corners.length;
    const xs = corners.map((v) => (v[1]! - this.lng) * this.#mx);
    const ys = corners.map((v) => (v[0]! - this.lat) * RAD * EARTH_RADIUS_M);
    // Which way the corners turn: the centre must be on the inner side of every edge.
    let area = 0;
    for (let i = 0; i < n; i++) area += xs[i]! * ys[(i + 1) % n]! - xs[(i + 1) % n]! * ys[i]!;
    const turn = Math.sign(area);
    const edges = new Float64Array(4 * n);
    for (let i = 0; i < n; i++) {
      const j = (i + 1) % n;
      // Outward normal of edge i → j, for corners turning `turn` (1: anticlockwise).
      const nx = turn * (ys[j]! - ys[i]!);
      const ny = turn * (xs[i]! - xs[j]!);
      const c = nx * xs[i]! + ny * ys[i]!;
      // The centre is inside, so every c is positive; and the next corner is not outside this edge.
      const k = (j + 1) % n;
      if (!(c > 0) || nx * xs[k]! + ny * ys[k]! > c + 1e-6 * Math.abs(c)) return new Float64Array(0);
      edges.set([nx, ny, c, 0], 4 * i);
    }
    return edges;
  }
}
