/**
 * An {@link IdentityVerifier} that remembers verified principals for their
 * token's lifetime, so a client sending the same ID token with every request
 * pays a full verification once per token, not once per request.
 *
 * What it never does (docs/identity.md, "Caching"): serve or store a call
 * that asks for `checkRevoked`, an admin principal, or any principal whose
 * revocation was checked; store a rejection; serve an entry at or past the
 * principal's `expiresAt`; skip the inner verifier's screen (missing,
 * oversize, misconfigured identity), which runs before every lookup.
 */
import { createHash } from 'node:crypto';
import type { Clock } from '../../engine/index.js';
import type { IdentityVerifier, VerifyOptions } from '../../engine/ports/identity.js';
import type { Principal, Rejection, Result } from '../../protocol/index.js';

/** The production default of `IDENTITY_CACHE_SIZE`. */
export const DEFAULT_IDENTITY_CACHE_SIZE = 50_000;

/** A verifier whose cheap checks, made before any verification work, can be run on their own. */
export interface ScreeningVerifier extends IdentityVerifier {
  /** The rejection `verify` would give `token` before verifying anything, or undefined. */
  screen(token: string): Rejection | undefined;
}

export interface CachingIdentityOptions {
  /** Most principals kept; the least recently used goes first. At least 1. */
  readonly size?: number;
  /** Only `now()` is read: a cached principal is served while `now() < expiresAt`. */
  readonly clock: Pick<Clock, 'now'>;
}

/** Counters since start, for tests and the benchmark. */
export interface CachingIdentityStats {
  hits: number;
  misses: number;
  /** Calls that went to the inner verifier without a lookup (`checkRevoked`). */
  bypassed: number;
  /** Entries dropped for room (LRU), expiry or a later rejection of their token. */
  evicted: number;
}

export class CachingIdentity implements IdentityVerifier {
  readonly stats: CachingIdentityStats = { hits: 0, misses: 0, bypassed: 0, evicted: 0 };
  readonly size: number;
  readonly #inner: ScreeningVerifier;
  readonly #clock: Pick<Clock, 'now'>;
  // Keyed by the token's SHA-256, never the token: a heap dump must not hand out bearer tokens.
  // A Map iterates in insertion order; a hit re-inserts, so the first key is the least recently used.
  readonly #entries = new Map<string, Principal>();
  // Counts refusals that matter to the cache; a verification that saw one happen while it ran stores nothing,
  // so an unchecked call in flight cannot put back a token a checked call just found revoked.
  #refusals = 0;

  constructor(inner: ScreeningVerifier, opts: CachingIdentityOptions) {
    const size = opts.size ?? DEFAULT_IDENTITY_CACHE_SIZE;
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`cache size must be an integer ≥ 1, got ${size}`);
    this.size = size;
    this.#inner = inner;
    this.#clock = opts.clock;
  }

  /** Principals held now. */
  get entries(): number {
    return this.#entries.size;
  }

  async verify(token: string, opts: VerifyOptions = {}): Promise<Result<Principal>> {
    const screened = this.#inner.screen(token);
    if (screened !== undefined) return screened;
    if (opts.checkRevoked === true) {
      this.stats.bypassed++;
      return this.#verifyAndStore(token, undefined, opts);
    }
    const key = createHash('sha256').update(token).digest('base64');
    const hit = this.#entries.get(key);
    if (hit !== undefined) {
      this.#entries.delete(key);
      if (this.#clock.now() < hit.expiresAt) {
        this.#entries.set(key, hit);
        this.stats.hits++;
        return { ok: true, value: hit };
      }
      this.stats.evicted++;
    }
    this.stats.misses++;
    return this.#verifyAndStore(token, key, opts);
  }

  async #verifyAndStore(token: string, known: string | undefined, opts: VerifyOptions): Promise<Result<Principal>> {
    const refusals = this.#refusals;
    const res = await this.#inner.verify(token, opts);
    const key = known ?? createHash('sha256').update(token).digest('base64');
    if (!res.ok) {
      // A token refused now (revoked on a checked call, say) must not be served from an older entry.
      const dropped = this.#entries.delete(key);
      if (dropped) this.stats.evicted++;
      if (dropped || opts.checkRevoked === true) this.#refusals++;
      return res;
    }
    const p = res.value;
    if (opts.checkRevoked === true || p.role === 'admin' || p.revocationChecked) return res;
    if (refusals !== this.#refusals) return res;
    if (!(this.#clock.now() < p.expiresAt)) return res;
    this.#entries.delete(key);
    this.#entries.set(key, Object.freeze(p));
    if (this.#entries.size > this.size) {
      const oldest = this.#entries.keys().next();
      if (oldest.done !== true) this.#entries.delete(oldest.value);
      this.stats.evicted++;
    }
    return res;
  }
}
