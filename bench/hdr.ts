/**
 * Latency percentiles for the benchmark, with HdrHistogram (hdr-histogram-js):
 * values recorded in nanoseconds (3 significant digits, up to 10 minutes),
 * reported in microseconds. Histograms travel between processes as
 * HdrHistogram's compressed base64 form, so a load generator's and a
 * server's measurements merge without losing the distribution.
 */
import * as hdr from 'hdr-histogram-js';

const HIGHEST_NS = 600e9;

/** The percentiles every latency in the benchmark's JSON carries, in µs. */
export interface Percentiles {
  readonly count: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
  readonly mean: number;
}

/** Points of the percentile curve (for the chart): percentile, µs. */
export const CURVE_PERCENTILES = [0, 10, 25, 50, 75, 90, 95, 99, 99.5, 99.9, 99.95, 99.99, 100] as const;

export class LatencyHistogram {
  readonly #h: hdr.Histogram;

  constructor(h?: hdr.Histogram) {
    this.#h =
      h ??
      hdr.build({
        bitBucketSize: 64,
        lowestDiscernibleValue: 1,
        highestTrackableValue: HIGHEST_NS,
        numberOfSignificantValueDigits: 3,
      });
  }

  /** Records one latency in µs (negative values count as 0; values past 10 minutes as 10 minutes). */
  recordMicros(us: number): void {
    const ns = Math.round(us * 1000);
    this.#h.recordValue(ns <= 0 ? 0 : ns >= HIGHEST_NS ? HIGHEST_NS : ns);
  }

  get count(): number {
    return this.#h.totalCount;
  }

  /** The value at `p` percent (0..100), in µs. */
  percentileMicros(p: number): number {
    return this.#h.totalCount === 0 ? 0 : this.#h.getValueAtPercentile(p) / 1000;
  }

  summary(digits = 1): Percentiles {
    const r = (x: number) => Number(x.toFixed(digits));
    const h = this.#h;
    return {
      count: h.totalCount,
      p50: r(this.percentileMicros(50)),
      p90: r(this.percentileMicros(90)),
      p99: r(this.percentileMicros(99)),
      p999: r(this.percentileMicros(99.9)),
      max: r(this.percentileMicros(100)),
      mean: r(h.totalCount ? h.mean / 1000 : 0),
    };
  }

  /** `[percentile, µs]` at {@link CURVE_PERCENTILES}. */
  curve(digits = 1): [number, number][] {
    return CURVE_PERCENTILES.map((p) => [p, Number(this.percentileMicros(p).toFixed(digits))]);
  }

  add(other: LatencyHistogram): void {
    this.#h.add(other.#h);
  }

  reset(): void {
    this.#h.reset();
  }

  /** HdrHistogram's compressed base64 encoding, readable by any HdrHistogram implementation. */
  encode(): string {
    return hdr.encodeIntoCompressedBase64(this.#h);
  }

  static decode(base64: string): LatencyHistogram {
    return new LatencyHistogram(hdr.decodeFromCompressedBase64(base64, 64, false));
  }
}
