/** The sequence ring (protocol/rider-sequence.ts): properties over the whole range, edges by example. */
import fc from 'fast-check';
import t from 'tap';
import { SEQ_TOP, SEQ_WINDOW, seqAfter, seqNewer } from '../../protocol/index.js';

const seq = fc.integer({ min: 1, max: SEQ_TOP });

t.test('edges', async (t) => {
  t.equal(seqAfter(SEQ_TOP), 1, 'after the top comes 1');
  t.equal(seqAfter(0), 1);
  t.ok(seqNewer(1, SEQ_TOP), '1 is newer than the top');
  t.ok(seqNewer(SEQ_TOP, 0) && seqNewer(1, 0), 'anything is newer than nothing');
  t.notOk(seqNewer(0, 5), '0 is never a seq');
  t.notOk(seqNewer(5, 5), 'a seq is not newer than itself');
  t.ok(seqNewer(SEQ_WINDOW, 1) && !seqNewer(SEQ_WINDOW + 1, 1), 'newer means less than half the ring ahead');
});

t.test('the successor is always newer; of two distinct numbers at most one is newer', async (t) => {
  fc.assert(
    fc.property(seq, (s) => seqNewer(seqAfter(s), s) && !seqNewer(s, seqAfter(s))),
    { numRuns: 2000 },
  );
  fc.assert(
    fc.property(seq, seq, (a, b) => !(seqNewer(a, b) && seqNewer(b, a))),
    { numRuns: 2000 },
  );
  fc.assert(
    fc.property(seq, fc.integer({ min: 1, max: SEQ_WINDOW - 1 }), (a, k) => {
      let b = a;
      for (let i = 0; i < k % 1000; i++) b = seqAfter(b);
      return k % 1000 === 0 || seqNewer(b, a);
    }),
    { numRuns: 500 },
  );
  t.pass('properties hold');
});
