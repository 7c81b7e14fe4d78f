/**
 * The push feed: the events of a stored batch that may lead to a notice go to the push queue as
 * one job (a few per batch past the cap), named by its first and last event, not one job each.
 */
import t from 'tap';
import type { EventRecord } from '../../../engine/index.js';
import { pushEventsOf, pushJobsOf } from '../../../adapters/push/push-feed.js';
import { world } from '../../engine/world.js';

/** The records write-behind would hand the persistence worker for what `act` emits. */
function recordsOf(w: ReturnType<typeof world>, act: () => void): EventRecord[] {
  const records: EventRecord[] = [];
  const off = w.engine.subscribeBatches(({ events }) => {
    for (const event of events) {
      records.push({ event, state: w.engine.snapshotRow(event.aggregate, event.id) ?? null, idCounter: 0 });
    }
  });
  act();
  off();
  return records;
}

t.test("a stored batch's notice events go as one job, in order, with a deterministic id", async (t) => {
  const w = world();
  const r = w.restaurant('r1');
  w.rider('d1');
  const records = recordsOf(w, () => {
    w.order(r, { id: 'o1' });
    w.order(r, { id: 'o2' });
  });
  const events = pushEventsOf(records);
  t.ok(events.length >= 4, `several notice events (${events.length})`);
  const jobs = pushJobsOf(records);
  t.equal(jobs.length, 1, 'one job');
  const job = jobs[0]!;
  t.ok('events' in job.data, 'carrying the events');
  if (!('events' in job.data)) return;
  t.same(
    job.data.events.map((e) => `${e.event.aggregate}.${e.event.id}.${e.event.seq}`),
    events.map((e) => e.key),
    'every notice event, in emission order',
  );
  t.equal(job.id, `pb.${events[0]!.key}.${events.at(-1)!.key}`, 'named by its first and last event');
  t.notOk(job.id.includes(':'), 'no `:` (BullMQ reserves it)');
  t.same(pushJobsOf(records), jobs, 'the same records make the same jobs');
  t.same(pushJobsOf(records.filter((x) => x.event.type === 'order_dispatchable')), [], 'no notice event, no job');
});

t.test('past the cap a batch goes as several jobs, each named by its own events', async (t) => {
  const w = world();
  const r = w.restaurant('r1');
  w.rider('d1');
  const records = recordsOf(w, () => {
    for (let i = 0; i < 3; i++) w.order(r, { id: `o${i}` });
  });
  const events = pushEventsOf(records);
  const jobs = pushJobsOf(records, 2);
  t.equal(jobs.length, Math.ceil(events.length / 2), 'one job per two events');
  t.same(
    jobs.flatMap((j) => ('events' in j.data ? j.data.events.map((e) => e.event) : [])),
    events.map((e) => e.job.event),
    'together every event once, in order',
  );
  t.equal(new Set(jobs.map((j) => j.id)).size, jobs.length, 'distinct ids');
});
