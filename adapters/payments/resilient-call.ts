/**
 * How the gateway adapter calls out: each attempt under a timeout, transient
 * failures retried with exponential backoff and full jitter, and a circuit
 * that opens after consecutive transient failures so that, while the gateway
 * is down, callers fail at once instead of piling up timeouts.
 */
import { GatewayError } from '../../engine/ports/payment-gateway.js';

export interface ResilienceOptions {
  /** Per attempt (default 5000). */
  readonly timeoutMs: number;
  /** Attempts per call, the first included (default 3). */
  readonly attempts: number;
  /** Backoff base and cap (defaults 100 and 2000): attempt n waits a random time in [0, min(cap, base·2ⁿ)]. */
  readonly backoffBaseMs: number;
  readonly backoffCapMs: number;
  /** Consecutive transient failures that open the circuit (default 5), and how long it stays open (default 10000). */
  readonly breakerThreshold: number;
  readonly breakerCooldownMs: number;
  readonly now: () => number;
  readonly random: () => number;
  readonly sleep: (ms: number) => Promise<void>;
}

export const defaultResilience: ResilienceOptions = {
  timeoutMs: 5_000,
  attempts: 3,
  backoffBaseMs: 100,
  backoffCapMs: 2_000,
  breakerThreshold: 5,
  breakerCooldownMs: 10_000,
  now: () => Date.now(),
  random: Math.random,
  sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
};

/** Closed → open after `breakerThreshold` transient failures → half-open (one trial) after the cooldown. */
export class CircuitBreaker {
  #failures = 0;
  #openUntil = 0;
  #trial = false;

  constructor(private readonly o: Pick<ResilienceOptions, 'breakerThreshold' | 'breakerCooldownMs' | 'now'>) {}

  get state(): 'closed' | 'open' | 'half-open' {
    if (this.#failures < this.o.breakerThreshold) return 'closed';
    return this.o.now() < this.#openUntil ? 'open' : 'half-open';
  }

  /** Throws a transient error while open; in half-open lets one call through. */
  admit(): void {
    const s = this.state;
    if (s === 'open' || (s === 'half-open' && this.#trial)) {
      throw new GatewayError('transient', 'payment gateway circuit open: failing fast while it is down', 503);
    }
    if (s === 'half-open') this.#trial = true;
  }

  success(): void {
    this.#failures = 0;
    this.#trial = false;
  }

  failure(): void {
    this.#failures++;
    this.#trial = false;
    if (this.#failures >= this.o.breakerThreshold) this.#openUntil = this.o.now() + this.o.breakerCooldownMs;
  }
}

/**
 * Runs `attempt(signal)` with the policy. Only {@link GatewayError}s of kind
 * `transient` (and aborts by the timeout) are retried; `rejected` ones are
 * final at once and do not count against the circuit.
 */
export async function resilientCall<T>(
  o: ResilienceOptions,
  breaker: CircuitBreaker,
  what: string,
  attempt: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  let last: unknown;
  for (let n = 0; n < o.attempts; n++) {
    if (n > 0) await o.sleep(Math.floor(o.random() * Math.min(o.backoffCapMs, o.backoffBaseMs * 2 ** n)));
    breaker.admit();
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), o.timeoutMs);
    try {
      const out = await attempt(ac.signal);
      breaker.success();
      return out;
    } catch (err) {
      const e = ac.signal.aborted
        ? new GatewayError('transient', `${what}: no answer within ${o.timeoutMs} ms`, 0, { cause: err })
        : err instanceof GatewayError
          ? err
          : new GatewayError('transient', `${what}: ${(err as Error).message}`, 0, { cause: err });
      if (e.kind === 'rejected') {
        breaker.success();
        throw e;
      }
      breaker.failure();
      last = e;
    } finally {
      clearTimeout(timer);
    }
  }
  throw last;
}
