/**
 * A durability barrier the test opens and shuts, in place of the server's
 * `WriteBehind.barrier`: resolves at once while open; while shut, when next
 * opened; `refusals` makes the next calls reject (Redis refused).
 */
export class Gate {
  #open = true;
  #waiting: (() => void)[] = [];
  refusals = 0;
  calls = 0;
  /** The real barrier to ask instead, when set. */
  inner: (() => Promise<void>) | undefined;
  wait = (): Promise<void> => {
    this.calls++;
    if (this.inner) return this.inner();
    if (this.refusals > 0) {
      this.refusals--;
      return Promise.reject(Object.assign(new Error('job queue: Redis refused'), { code: 'DEPENDENCY_UNAVAILABLE' }));
    }
    return this.#open ? Promise.resolve() : new Promise((r) => this.#waiting.push(r));
  };
  shut(): void {
    this.#open = false;
  }
  open(): void {
    this.#open = true;
    for (const r of this.#waiting.splice(0)) r();
  }
}
