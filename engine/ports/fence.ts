import type { Result } from '../../protocol/index.js';

/**
 * Fencing tokens where a partition's writes land (docs/scale.md). A lease
 * names one owner per partition, but an owner paused past its lease (a long
 * GC, SIGSTOP, a VM migration) wakes believing it still owns the partition.
 * So every write of a partition carries the owner's token (its lease's KV
 * revision, higher for every later owner) and the store refuses a token
 * below the highest it has seen.
 *
 * `Tx` is what a fenced write may touch: a SQL transaction for Postgres, a
 * list of staged changes in memory.
 *
 * Contract (test/contracts/fence.contract.ts):
 * - `run` raises the stored token to `token` (or keeps it when equal) and
 *   runs `write` in the same transaction; both commit together or neither
 *   does (a throwing write rethrows and leaves the token where it was).
 * - A token below the stored one is refused with `FENCED`; `write` is not
 *   run and nothing changes.
 * - A write admitted under a token completes before a higher token is
 *   stored: a new owner's `claim` waits for it, so what the new owner then
 *   reads includes it and nothing of the old owner's lands after.
 * - Partitions are independent.
 */
export interface Fence<Tx> {
  run<T>(partition: string, token: number, write: (tx: Tx) => Promise<T>): Promise<Result<T>>;
  /** Raises the token with no write: a new owner does this before it loads the partition's state. */
  claim(partition: string, token: number): Promise<Result>;
  /** The highest token stored for `partition`; 0 when none was ever stored. */
  tokenOf(partition: string): Promise<number>;
}

/** Tokens are KV revisions: positive safe integers. */
export function checkToken(token: number): void {
  if (!(Number.isSafeInteger(token) && token > 0)) throw new RangeError(`fence: token must be a positive integer`);
}
