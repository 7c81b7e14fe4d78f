/**
 * The rider protocol's sequence space (rider-protocol.md, "Sequence numbers
 * and resume"): seq runs 1, 2, ..., 4294967295 (2^32 - 1), then wraps to 1;
 * 0 means "not sequenced". Which of two numbers is newer is decided on that
 * ring, RFC 1982 style: `a` is newer than `b` when it is less than half the
 * ring (2^31 steps) ahead of it. Server and client use these functions and
 * nothing else, so neither can mute the other at the top of the range.
 */
import { RiderLimits } from './rider-codes.js';

/** The largest seq; the one after it is 1. */
export const SEQ_TOP = RiderLimits.MAX_SEQ;
/** How far ahead a seq may be and still count as newer. */
export const SEQ_WINDOW = 2 ** 31;

/** The seq after `seq`: wraps from the top to 1 (0 is never used as a seq). */
export const seqAfter = (seq: number): number => (seq >= SEQ_TOP ? 1 : seq + 1);

/** True when `seq` is newer than `last`; `last` 0 means nothing yet, so any seq but 0 is newer. */
export function seqNewer(seq: number, last: number): boolean {
  if (seq === 0) return false;
  if (last === 0) return true;
  // Steps from last to seq on the ring of 1..SEQ_TOP.
  const ahead = (seq - last + SEQ_TOP) % SEQ_TOP;
  return ahead > 0 && ahead < SEQ_WINDOW;
}
