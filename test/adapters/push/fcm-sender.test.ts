/**
 * The real firebase-admin messaging code against the local FCM v1 stand-in
 * (HTTPS with its own CA, reached through the SDK's `httpAgent`): what the
 * wire carries, and how each FCM error answer is sorted.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { fcmSender, standInCredential, type PushMessage } from '../../../adapters/push/fcm-sender.js';
import { STAND_IN_ACCESS_TOKEN, standInAgent, startFcmStandIn } from '../../../adapters/push/fcm-stand-in.js';

const dir = await mkdtemp(join(tmpdir(), 'fcm-'));
const fcm = await startFcmStandIn({ certDir: dir });
const sender = fcmSender({
  projectId: 'demo-dispatch',
  credential: standInCredential(STAND_IN_ACCESS_TOKEN),
  httpAgent: standInAgent(fcm.port, fcm.caPem),
  now: () => 1_700_000_000_000,
});
t.teardown(async () => {
  await sender.close();
  await fcm.close();
  await rm(dir, { recursive: true, force: true });
});

const msg = (token: string, over: Partial<PushMessage> = {}): PushMessage => ({
  token,
  title: 'New order',
  body: 'A new order is waiting for you',
  data: { kind: 'new_order', order_id: 'o-1' },
  priority: 'high',
  ttlMs: 300_000,
  collapseKey: 'order-o-1',
  ...over,
});

t.test('a message reaches FCM as the v1 API defines it', async (t) => {
  fcm.clear();
  t.same(await sender.send([msg('tok-a')]), [{ kind: 'sent', messageId: 'projects/demo-dispatch/messages/1' }]);
  t.equal(fcm.received.length, 1);
  t.match(fcm.received[0], {
    project: 'demo-dispatch',
    status: 200,
    message: {
      token: 'tok-a',
      notification: { title: 'New order' },
      data: { kind: 'new_order', order_id: 'o-1' },
      android: { priority: 'high', ttl: '300s', collapse_key: 'order-o-1' },
      apns: {
        headers: { 'apns-priority': '10', 'apns-collapse-id': 'order-o-1', 'apns-expiration': String(1_700_000_300) },
      },
    },
  });
});

t.test("each token's result is sorted as FCM defines it", async (t) => {
  fcm.clear();
  fcm.fail('gone', { kind: 'unregistered' });
  fcm.fail('bad', { kind: 'invalid' });
  fcm.fail('busy', { kind: 'quota', retryAfterS: 7 });
  fcm.fail('oops', { kind: 'internal' });
  fcm.fail('other-project', { kind: 'sender_mismatch' });
  const out = await sender.send(['ok', 'gone', 'bad', 'busy', 'oops', 'other-project'].map((x) => msg(x)));
  t.same(
    out.map((o) => o.kind),
    ['sent', 'drop', 'drop', 'retry', 'retry', 'fail'],
  );
  t.match(out[1], { code: 'messaging/registration-token-not-registered' });
  t.match(out[3], { code: 'messaging/message-rate-exceeded' });
  t.match(out[5], { code: 'messaging/mismatched-credential' });
  fcm.clear();
});

t.test('an unavailable FCM is retried by the SDK itself, honouring Retry-After', async (t) => {
  fcm.clear();
  fcm.fail('flaky', { kind: 'unavailable', retryAfterS: 1 }, 1);
  const t0 = Date.now();
  t.same(
    (await sender.send([msg('flaky')])).map((o) => o.kind),
    ['sent'],
  );
  t.equal(fcm.received.length, 2, 'one 503, then the retry');
  t.ok(Date.now() - t0 >= 900, 'the retry waited for Retry-After');
});

t.test('more than 500 messages go in several sendEach calls', async (t) => {
  fcm.clear();
  const out = await sender.send(Array.from({ length: 501 }, (_, i) => msg(`bulk-${i}`)));
  t.equal(out.filter((o) => o.kind === 'sent').length, 501);
  t.equal(new Set(fcm.received.map((r) => r.message.token)).size, 501);
});
