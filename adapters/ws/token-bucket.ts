/**
 * A token bucket on the caller's clock: `rate` tokens a second, at most
 * `burst` saved up. Numbers only, so one per connection costs a few bytes and
 * no timers.
 */
export class TokenBucket {
  #tokens: number;
  #at: number;

  constructor(
    readonly rate: number,
    readonly burst: number,
    now: number,
  ) {
    this.#tokens = burst;
    this.#at = now;
  }

  /** Takes one token if there is one; `now` is epoch ms. */
  take(now: number): boolean {
    if (now > this.#at) {
      this.#tokens = Math.min(this.burst, this.#tokens + ((now - this.#at) * this.rate) / 1000);
      this.#at = now;
    }
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}
