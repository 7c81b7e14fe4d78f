/** A growable sample of numbers with percentiles: exact, for runs of up to a few million samples. */
export class Sample {
  #data = new Float64Array(1024);
  #n = 0;
  #sorted = true;

  get count(): number {
    return this.#n;
  }

  add(x: number): void {
    if (this.#n === this.#data.length) {
      const next = new Float64Array(this.#data.length * 2);
      next.set(this.#data);
      this.#data = next;
    }
    this.#data[this.#n++] = x;
    this.#sorted = false;
  }

  #view(): Float64Array {
    const v = this.#data.subarray(0, this.#n);
    if (!this.#sorted) {
      v.sort();
      this.#sorted = true;
    }
    return v;
  }

  /** The q-quantile (0..1), nearest-rank; NaN when empty. */
  quantile(q: number): number {
    const v = this.#view();
    if (v.length === 0) return NaN;
    return v[Math.min(v.length - 1, Math.max(0, Math.ceil(q * v.length) - 1))]!;
  }

  mean(): number {
    let s = 0;
    for (let i = 0; i < this.#n; i++) s += this.#data[i]!;
    return this.#n ? s / this.#n : NaN;
  }

  max(): number {
    return this.quantile(1);
  }

  /** p50, p90, p99, p99.9 and max, rounded to `digits`. */
  summary(digits = 1): { p50: number; p90: number; p99: number; p999: number; max: number } {
    const r = (x: number) => (Number.isNaN(x) ? 0 : Number(x.toFixed(digits)));
    return {
      p50: r(this.quantile(0.5)),
      p90: r(this.quantile(0.9)),
      p99: r(this.quantile(0.99)),
      p999: r(this.quantile(0.999)),
      max: r(this.max()),
    };
  }
}

/** Parses `--name value` and `--flag` arguments against defaults; unknown flags are an error. */
/** A flag's type from its default: `false` is any boolean, `0` any number. */
export type Widened<T> = {
  -readonly [K in keyof T]: T[K] extends boolean
    ? boolean
    : T[K] extends number
      ? number
      : T[K] extends string
        ? string
        : T[K];
};

export function parseFlags<T extends Record<string, number | boolean | string>>(
  argv: readonly string[],
  defaults: T,
): Widened<T> {
  const out: Record<string, number | boolean | string> = { ...defaults };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) throw new UsageError(`unexpected argument ${arg}`);
    const key = arg.slice(2).replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
    if (!(key in defaults))
      throw new UsageError(
        `unknown flag ${arg}; known: ${Object.keys(defaults)
          .map((k) => '--' + k.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase()))
          .join(' ')}`,
      );
    const d = defaults[key];
    if (typeof d === 'boolean') {
      out[key] = true;
      continue;
    }
    const v = argv[++i];
    if (v === undefined) throw new UsageError(`${arg} needs a value`);
    if (typeof d === 'number') {
      const n = Number(v);
      if (!Number.isFinite(n) || n < 0) throw new UsageError(`${arg} must be a number ≥ 0, got ${v}`);
      out[key] = n;
    } else out[key] = v;
  }
  return out as Widened<T>;
}

export class UsageError extends Error {}

/** One line naming the machine a figure was measured on. */
export async function machineLine(): Promise<string> {
  const os = await import('node:os');
  const cpu = os.cpus()[0]?.model ?? 'unknown cpu';
  return `${os.cpus().length} × ${cpu}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, ${os.platform()} ${os.release()}`;
}

/** Two full collections (needs `node --expose-gc`, which `npm run bench` passes). */
export function gc(): void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (!g) throw new Error('run with node --expose-gc (npm run bench does)');
  g();
  g();
}

/** JS heap plus ArrayBuffer backing stores (the rider table lives in one), after a full GC. */
export function heapUsed(): number {
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}
