import type { Test } from 'tap';
import type { JobQueue, QueuedJob } from '../../engine/ports/job-queue.js';

type Data = { readonly n: number };

/** Resolves when `check` is true, polling every `everyMs`; fails the test after `ms`. */
export async function until(check: () => boolean | Promise<boolean>, ms = 15_000, everyMs = 10): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

const jobs = (from: number, to: number) =>
  Array.from({ length: to - from }, (_, i) => ({ id: `job.${from + i}`, data: { n: from + i } }));

/**
 * The one suite every {@link JobQueue} passes (embedded and BullMQ). `make`
 * gives a fresh, empty queue per call whose failed batches come back within
 * about a second.
 */
export function jobQueueContract(t: Test, make: (t: Test) => Promise<JobQueue<Data>>): void {
  t.test('every job is delivered, in batches no larger than asked', async (t) => {
    const q = await make(t);
    await q.enqueue(jobs(0, 250));
    const seen: QueuedJob<Data>[][] = [];
    const c = q.consume(
      async (batch) => {
        seen.push([...batch]);
      },
      { batchSize: 40, lingerMs: 5 },
    );
    await until(() => seen.flat().length >= 250);
    await c.close();
    const ids = seen
      .flat()
      .map((j) => j.data.n)
      .sort((a, b) => a - b);
    t.same(
      ids,
      jobs(0, 250).map((j) => j.data.n),
      'each job once',
    );
    t.ok(
      seen.every((b) => b.length <= 40 && b.length > 0),
      'batch sizes within bounds',
    );
    t.ok(
      seen.flat().every((j) => j.attempt === 1),
      'first attempt',
    );
    await until(async () => (await q.pending()).length === 0);
    t.pass('nothing pending once handled');
  });

  t.test('an id still pending is not added twice', async (t) => {
    const q = await make(t);
    await q.enqueue(jobs(0, 10));
    await q.enqueue([...jobs(5, 15), ...jobs(14, 15)]);
    const pending = await q.pending();
    t.same(
      pending.map((j) => j.id).sort(),
      jobs(0, 15)
        .map((j) => j.id)
        .sort(),
      '15 distinct jobs pending',
    );
  });

  t.test('a batch whose handler throws is delivered again, with the next attempt', async (t) => {
    const q = await make(t);
    await q.enqueue(jobs(0, 5));
    const attempts = new Map<string, number[]>();
    let fail = true;
    const c = q.consume(
      async (batch) => {
        for (const j of batch) attempts.set(j.id, [...(attempts.get(j.id) ?? []), j.attempt]);
        if (fail) {
          fail = false;
          throw new Error('storage down');
        }
      },
      { batchSize: 5, lingerMs: 20 },
    );
    await until(async () => [...attempts.values()].flat().length >= 10 && (await q.pending()).length === 0, 10_000);
    await c.close();
    t.equal(attempts.size, 5);
    for (const [id, a] of attempts) t.same(a.slice(-1), [2], `${id} succeeded on attempt 2`);
  });

  t.test('pending lists what no handler has completed; close waits for the batch in hand', async (t) => {
    const q = await make(t);
    await q.enqueue(jobs(0, 3));
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    let started = 0;
    let finished = 0;
    const c = q.consume(
      async (b) => {
        started += b.length;
        await gate;
        finished += b.length;
      },
      { batchSize: 3, lingerMs: 20 },
    );
    await until(() => started === 3);
    t.equal((await q.pending()).length, 3, 'active jobs are still pending');
    const closing = c.close();
    release();
    await closing;
    t.equal(finished, 3, 'close waited for the handler');
    await until(async () => (await q.pending()).length === 0);
  });

  t.test('a held job is pending at once, handed over only when its hold ends, and never once settled', async (t) => {
    const q = await make(t);
    if (q.settle === undefined) throw new Error('both queues settle held jobs');
    const seen: { id: string; at: number }[] = [];
    const c = q.consume(
      async (batch) => {
        for (const j of batch) seen.push({ id: j.id, at: Date.now() });
      },
      { batchSize: 10, lingerMs: 5 },
    );
    const start = Date.now();
    await q.enqueue(jobs(0, 4), { holdMs: 800 });
    t.same(
      (await q.pending()).map((j) => j.id).sort(),
      ['job.0', 'job.1', 'job.2', 'job.3'],
      'pending at once (recovery reads them)',
    );
    await q.settle(['job.0', 'job.1', 'job.unknown']);
    t.same(
      (await q.pending()).map((j) => j.id).sort(),
      ['job.2', 'job.3'],
      'settled jobs are gone; an unknown id is skipped',
    );
    await new Promise((r) => setTimeout(r, 300));
    t.same(seen, [], 'nothing handed over during the hold');
    await until(() => seen.length >= 2, 10_000);
    await until(async () => (await q.pending()).length === 0);
    await new Promise((r) => setTimeout(r, 200));
    await c.close();
    t.same(seen.map((s) => s.id).sort(), ['job.2', 'job.3'], 'the jobs not settled, once each');
    t.ok(
      seen.every((s) => s.at - start >= 750),
      `handed over after the hold (${seen.map((s) => s.at - start).join(', ')} ms)`,
    );
  });

  t.test('a job in a consumer’s hands is not settled from under it', async (t) => {
    const q = await make(t);
    await q.enqueue(jobs(0, 1));
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const attempts: number[] = [];
    let finished = 0;
    const c = q.consume(
      async (b) => {
        for (const j of b) attempts.push(j.attempt);
        await gate;
        finished += b.length;
      },
      { batchSize: 1, lingerMs: 5 },
    );
    await until(() => attempts.length === 1);
    await q.settle!(['job.0']);
    t.equal((await q.pending()).length, 1, 'still pending while its consumer holds it');
    release();
    await until(async () => finished === 1 && (await q.pending()).length === 0);
    await new Promise((r) => setTimeout(r, 300));
    await c.close();
    t.same(attempts, [1], 'completed by its consumer, once, and not handed over again');
  });
}
