import t from 'tap';
import { randomBytes } from 'node:crypto';
import { MemoryQueue } from '../../adapters/embedded/memory-queue.js';
import { BullmqQueue } from '../../adapters/queue/bullmq-queue.js';
import { SHARED_REDIS } from '../support/redis-server.js';
import { jobQueueContract } from './job-queue.contract.js';

t.test('embedded (in-process)', async (t) => {
  jobQueueContract(t, async (tt) => {
    const q = new MemoryQueue<{ n: number }>({ retryDelayMs: 50 });
    tt.teardown(() => q.close());
    return q;
  });
});

t.test('BullMQ on Redis', async (t) => {
  jobQueueContract(t, async (tt) => {
    // A prefix of this test's own on the shared Redis; removed after.
    const q = new BullmqQueue<{ n: number }>({
      redis: SHARED_REDIS,
      name: 'contract',
      prefix: `t-${process.pid}-${randomBytes(4).toString('hex')}`,
      backoffMs: 100,
    });
    tt.teardown(async () => {
      await q.bullmq.obliterate({ force: true }).catch(() => {});
      await q.close();
    });
    return q;
  });
});
