import { checkToken, type Fence } from '../../engine/ports/fence.js';
import { OK, ok, reject, type Result } from '../../protocol/index.js';

/** What an in-memory fenced write may do: stage changes, applied only when the write is admitted. */
export interface StagedWrites {
  stage(apply: () => void): void;
}

/**
 * The {@link Fence} in one process's memory, for the embedded mode and
 * tests: one run per partition at a time (a promise chain plays the row
 * lock), staged changes applied together and synchronously at the end.
 */
export class MemoryFence implements Fence<StagedWrites> {
  readonly #tokens = new Map<string, number>();
  readonly #tails = new Map<string, Promise<unknown>>();

  async run<T>(partition: string, token: number, write: (tx: StagedWrites) => Promise<T>): Promise<Result<T>> {
    checkToken(token);
    return this.#serial(partition, async () => {
      const stored = this.#tokens.get(partition) ?? 0;
      if (token < stored) return reject('FENCED', `partition ${partition}: token ${token} is below ${stored}`);
      const staged: (() => void)[] = [];
      const value = await write({ stage: (apply) => staged.push(apply) });
      this.#tokens.set(partition, token);
      for (const apply of staged) apply();
      return ok(value);
    });
  }

  async claim(partition: string, token: number): Promise<Result> {
    const r = await this.run(partition, token, async () => null);
    return r.ok ? OK : r;
  }

  async tokenOf(partition: string): Promise<number> {
    return this.#tokens.get(partition) ?? 0;
  }

  #serial<T>(partition: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.#tails.get(partition) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const tail = next.catch(() => {});
    this.#tails.set(partition, tail);
    void tail.then(() => {
      if (this.#tails.get(partition) === tail) this.#tails.delete(partition);
    });
    return next;
  }
}
