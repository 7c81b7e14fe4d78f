/**
 * Holds outgoing WebSocket messages until the engine events behind them are
 * durable, and releases them in the order they were made. Both WebSocket
 * routes use it with the server's `WriteBehind.barrier`: a client is told
 * nothing that a crash could take back.
 */
import type { Clock } from '../../engine/index.js';

/** After a refused barrier, how long before asking again (the events are resent with the next add), ms. */
export const DURABLE_RETRY_MS = 250;

/** Queues `send` until durable, or runs it at once when there is no barrier. */
export type Hold = (send: () => void) => void;

/**
 * A gate over `durable`, which resolves once every engine event emitted so far
 * is durable and rejects when it cannot be made so yet. A barrier covers every
 * event emitted before it was asked for, so each wait releases the sends held
 * when it began; sends held meanwhile wait for the next one. The first wait
 * starts a microtask later: a send is often made from an engine listener, and
 * the write-behind (another listener, maybe later in line) must have been
 * handed that command's events before the barrier is asked for.
 */
export function durableGate(
  durable: (() => Promise<void>) | undefined,
  clock: Clock,
  /** Runs each release of held sends (a profiler times them); none: they run as they are. */
  around?: (release: () => void) => void,
): Hold {
  if (durable === undefined) return (send) => send();
  const held: (() => void)[] = [];
  let waiting = false;
  const wait = (): void => {
    waiting = true;
    const n = held.length;
    durable().then(
      () => {
        waiting = false;
        const sends = held.splice(0, n);
        if (around) around(() => sends.forEach((send) => send()));
        else for (const send of sends) send();
        if (held.length > 0) wait();
      },
      () => {
        // Not durable yet (Redis refused or is down): nothing is told until it is.
        clock.setTimeout(wait, DURABLE_RETRY_MS);
      },
    );
  };
  return (send) => {
    held.push(send);
    if (!waiting) {
      waiting = true;
      queueMicrotask(wait);
    }
  };
}
