/**
 * The stores' one rule for a lost database: the caller hears
 * {@link DependencyUnavailableError} (503 at the edge), not the driver's error.
 */
import { DependencyUnavailableError, isConnectionError } from '../dependency-error.js';

/** Runs `fn`, turning a lost connection into a 503-bound error. */
export async function guarded<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (isConnectionError(err)) throw new DependencyUnavailableError(`database unavailable (${what})`, { cause: err });
    throw err;
  }
}
