/**
 * The numeric state of every rider in one Float64Array, a fixed stride per
 * rider. Scoring a candidate then reads one or two cache lines instead of a
 * dozen boxed doubles scattered over the heap, and the position hot path
 * writes in place with no allocation at all. Slots are never reused: riders
 * are registered once and kept.
 */
export const Col = {
  LAT: 0,
  LNG: 1,
  ACCURACY: 2,
  HEADING: 3,
  SPEED: 4,
  /** Device time of the last applied position, epoch ms; -1 before the first. */
  POS_AT: 5,
  /** Centre and radius of the disc inside the rider's H3 cell; radius -1 when unknown. */
  DISC_LAT: 6,
  DISC_LNG: 7,
  DISC_R: 8,
  /** Next stop of the current job (pickup, then drop); NaN when none. */
  TARGET_LAT: 9,
  TARGET_LNG: 10,
  IDLE_SINCE: 11,
} as const;

export const STRIDE = 12;

const INITIAL: readonly number[] = [NaN, NaN, NaN, NaN, NaN, -1, NaN, NaN, -1, NaN, NaN, 0];

export class RiderTable {
  /** Replaced when the table grows: read it through the table, never keep it. */
  data: Float64Array;
  #count = 0;

  constructor(capacity = 1024) {
    this.data = new Float64Array(capacity * STRIDE);
  }

  get count(): number {
    return this.#count;
  }

  /** A fresh slot with every column at its initial value; answers its base offset. */
  allocate(): number {
    if ((this.#count + 1) * STRIDE > this.data.length) {
      const next = new Float64Array(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    const base = this.#count++ * STRIDE;
    this.data.set(INITIAL, base);
    return base;
  }
}
