/**
 * Seedable randomness. The engine never calls Math.random: ids and any random
 * choice come from here, so the same seed and commands give the same log.
 */
export interface Random {
  /** A float in [0, 1). */
  next(): number;
}

/** sfc32: small, fast, and its whole state is four 32-bit words. */
export class SeededRandom implements Random {
  #a: number;
  #b: number;
  #c: number;
  #d: number;

  constructor(seed: number) {
    this.#a = 0x9e3779b9;
    this.#b = 0x243f6a88;
    this.#c = 0xb7e15162;
    this.#d = seed >>> 0;
    for (let i = 0; i < 15; i++) this.nextUint32();
  }

  nextUint32(): number {
    const t = (((this.#a + this.#b) | 0) + this.#d) | 0;
    this.#d = (this.#d + 1) | 0;
    this.#a = this.#b ^ (this.#b >>> 9);
    this.#b = (this.#c + (this.#c << 3)) | 0;
    this.#c = (this.#c << 21) | (this.#c >>> 11);
    this.#c = (this.#c + t) | 0;
    return t >>> 0;
  }

  next(): number {
    return this.nextUint32() / 4294967296;
  }

  /** An integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  /** Exponentially distributed with the given mean (Poisson inter-arrival times). */
  exponential(mean: number): number {
    return -Math.log(1 - this.next()) * mean;
  }

  /** Normally distributed (Box-Muller). */
  normal(mean: number, sd: number): number {
    const u = 1 - this.next();
    const v = this.next();
    return mean + sd * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** Current state, to save in a snapshot. */
  get state(): [number, number, number, number] {
    return [this.#a, this.#b, this.#c, this.#d];
  }

  set state(s: readonly [number, number, number, number]) {
    [this.#a, this.#b, this.#c, this.#d] = s;
  }
}

/**
 * A UUID (version 4 layout) derived from a seed and a counter: stateless apart
 * from the counter, so a snapshot only needs to record how many were made.
 */
export function seededUuid(seed: number, counter: number): string {
  const r = new SeededRandom((seed ^ Math.imul(counter + 1, 0x85ebca6b)) >>> 0);
  r.state = [r.state[0] ^ counter, r.state[1], r.state[2], r.state[3]];
  const hex = (n: number) => n.toString(16).padStart(8, '0');
  const w = [r.nextUint32(), r.nextUint32(), r.nextUint32(), r.nextUint32()];
  const s = hex(w[0]!) + hex(w[1]!) + hex(w[2]!) + hex(w[3]!);
  const variant = ((parseInt(s[16]!, 16) & 0x3) | 0x8).toString(16);
  return `${s.slice(0, 8)}-${s.slice(8, 12)}-4${s.slice(13, 16)}-${variant}${s.slice(17, 20)}-${s.slice(20, 32)}`;
}
