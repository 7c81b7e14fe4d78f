import { spawn } from 'node:child_process';
import { once } from 'node:events';
import t from 'tap';
import { nextMsg } from '../../bench/pipeline-bench.js';

// The pipeline bench waits on its server and load generator by message: a child that is gone must
// end the wait with its exit code or signal, whether it exits during the wait or had exited before.
const node = (code: string) => spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'ignore', 'ignore', 'ipc'] });

t.test('a message that comes is answered', async (t) => {
  const c = node(
    "process.send({ type: 'other' }); process.send({ type: 'ready', port: 7 }); setTimeout(() => {}, 200)",
  );
  const seen: string[] = [];
  const m = await nextMsg<{ type: 'ready'; port: number }>(c, 'ready', (o) => seen.push(o.type));
  t.same(m, { type: 'ready', port: 7 });
  t.same(seen, ['other'], 'other messages went to onOther');
  c.kill();
});

t.test('a child that exits during the wait ends it with its code', async (t) => {
  const c = node('setTimeout(() => process.exit(3), 50)');
  await t.rejects(nextMsg(c, 'ready'), /waiting for ready: child exited with 3/);
});

t.test('a child that had already died ends the wait at once, with its signal', async (t) => {
  const c = node('setTimeout(() => {}, 10_000)');
  c.kill('SIGKILL');
  await once(c, 'exit');
  await t.rejects(nextMsg(c, 'window'), /waiting for window: child exited with SIGKILL/);
});
