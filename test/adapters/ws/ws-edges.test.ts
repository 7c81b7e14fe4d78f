/**
 * The pure parts of the WebSocket edges: where the token is read from, the
 * Origin rule, the refusal body, limits parsing, the token bucket, and the
 * mapping of engine events to stream messages.
 */
import t from 'tap';
import type { WebSocket } from 'uWebSockets.js';
import { resolveWsLimits, defaultWsLimits } from '../../../adapters/ws/limits.js';
import { streamMessage } from '../../../adapters/ws/stream-messages.js';
import { TokenBucket } from '../../../adapters/ws/token-bucket.js';
import {
  openAfterUpgrade,
  originAllowed,
  problemBody,
  tokenOf,
  type UpgradeHeaders,
} from '../../../adapters/ws/upgrade-auth.js';
import { CloseCode, ErrorCodes, type EngineEvent } from '../../../protocol/index.js';

const headers = (h: Partial<UpgradeHeaders>): UpgradeHeaders => ({
  key: 'k',
  extensions: '',
  protocols: [],
  origin: '',
  authorization: '',
  queryToken: '',
  ...h,
});

t.test('the token comes from the header, then a bearer. subprotocol entry, then the query', async (t) => {
  t.equal(
    tokenOf(headers({ authorization: 'Bearer aaa', protocols: ['dispatch.v1', 'bearer.bbb'], queryToken: 'ccc' })),
    'aaa',
  );
  t.equal(tokenOf(headers({ authorization: 'bearer   aaa ' })), 'aaa', 'scheme is case-insensitive');
  t.equal(tokenOf(headers({ protocols: ['dispatch.v1', 'bearer.bbb'], queryToken: 'ccc' })), 'bbb');
  t.equal(tokenOf(headers({ queryToken: 'ccc' })), 'ccc');
  t.equal(tokenOf(headers({ authorization: 'Basic xyz' })), '', 'other schemes are no token');
});

t.test('origins: native clients (no Origin) pass; browsers only from the list', async (t) => {
  t.ok(originAllowed('', []));
  t.notOk(originAllowed('https://evil.example', ['https://app.example']));
  t.ok(originAllowed('https://app.example', ['https://app.example']));
  t.ok(originAllowed('https://any.example', ['*']));
});

t.test('a refusal body names the code, title and status of the table', async (t) => {
  t.same(JSON.parse(problemBody('AUTH_ROLE_FORBIDDEN', 'role x')), {
    code: 'AUTH_ROLE_FORBIDDEN',
    title: ErrorCodes.AUTH_ROLE_FORBIDDEN.title,
    status: 403,
    detail: 'role x',
  });
  for (const code of [
    'FRAME_INVALID',
    'FRAME_TOO_LARGE',
    'PROTOCOL_UNSUPPORTED',
    'ORIGIN_FORBIDDEN',
    'AUTH_TIMEOUT',
    'CONNECTION_REPLACED',
    'SLOW_CONSUMER',
  ] as const) {
    t.ok(ErrorCodes[code].http >= 400, `${code} is in the table`);
  }
  const closes = Object.values(CloseCode);
  t.ok(
    closes.every((c) => c >= 4000 && c < 5000),
    'close codes are in the 4000 range',
  );
  t.equal(new Set(closes).size, closes.length, 'close codes are distinct');
});

t.test('limits are merged, checked and frozen', async (t) => {
  const l = resolveWsLimits({ positionsPerSecond: 2 });
  t.equal(l.positionsPerSecond, 2);
  t.equal(l.frameBurst, defaultWsLimits.frameBurst);
  t.ok(Object.isFrozen(l));
  t.throws(() => resolveWsLimits({ maxPayloadBytes: 100 }), RangeError);
  t.throws(() => resolveWsLimits({ ackEvery: NaN }), RangeError);
  t.throws(() => resolveWsLimits({ softBackpressureBytes: 10, maxBackpressureBytes: 5 }), RangeError);
});

t.test('the token bucket refills at its rate up to its burst', async (t) => {
  const b = new TokenBucket(2, 3, 1000);
  t.same([b.take(1000), b.take(1000), b.take(1000), b.take(1000)], [true, true, true, false]);
  t.notOk(b.take(1499), 'less than one token after 499 ms at 2/s');
  t.ok(b.take(1500));
  t.same(
    [b.take(10_000), b.take(10_000), b.take(10_000), b.take(10_000)],
    [true, true, true, false],
    'never more than the burst',
  );
});

t.test('engine events become seed-shaped stream messages', async (t) => {
  const base = { aggregate: 'order', id: 'o1', seq: 3, at: Date.UTC(2026, 0, 1, 12) } as const;
  const accepted = {
    ...base,
    type: 'order_accepted',
    prepMinutes: 10,
    readyAt: Date.UTC(2026, 0, 1, 12, 10),
    dispatchAt: 0,
  } as EngineEvent;
  t.same(streamMessage.fromEvent(accepted), [
    {
      type: 'order_status_update',
      data: {
        order_id: 'o1',
        status: 'confirmed',
        event: 'order_accepted',
        at: '2026-01-01T12:00:00.000Z',
        estimated_ready_at: '2026-01-01T12:10:00.000Z',
      },
    },
  ]);
  const cancelled = {
    ...base,
    type: 'order_cancelled',
    by: 'system',
    reason: 'no_rider',
    fromState: 'preparing',
    refundDue: true,
    riderId: null,
  } as EngineEvent;
  t.same(
    streamMessage.fromEvent(cancelled).map((m) => m.type),
    ['order_status_update', 'notification'],
  );
  t.same(
    streamMessage.fromEvent({ ...base, type: 'order_offered' } as EngineEvent),
    [],
    "offers are the rider's business",
  );
  const assigned = { ...base, type: 'order_assigned', riderId: 'v1' } as EngineEvent;
  t.match(
    streamMessage.fromEvent(assigned, () => 'ready'),
    [{ data: { status: 'ready', delivery_person_id: 'v1' } }],
    "assignment keeps the food's word",
  );
  t.match(
    streamMessage.fromEvent(assigned, () => 'preparing'),
    [{ data: { status: 'preparing' } }],
  );
  t.same(streamMessage.location('o1', { lat: 1, lng: 2, at: base.at, heading: NaN, speed: 3 }).data, {
    order_id: 'o1',
    location: { latitude: 1, longitude: 2 },
    heading: null,
    speed: 3,
    at: '2026-01-01T12:00:00.000Z',
  });
});

t.test('open work runs after the upgrade returns, corked; a socket closed before it never opens', async (t) => {
  const log: string[] = [];
  const socket = (name: string) => {
    const ud = { name };
    return {
      getUserData: () => ud,
      cork: (f: () => void) => {
        log.push(`${name} cork`);
        f();
      },
    } as unknown as WebSocket<{ name: string }>;
  };
  const h = openAfterUpgrade<{ name: string }>(
    (ws) => log.push(`${ws.getUserData().name} open`),
    (ws, code) => log.push(`${ws.getUserData().name} close ${code}`),
  );
  const a = socket('a');
  const b = socket('b');
  h.open(a);
  h.open(b);
  log.push('upgrade returned');
  h.close(b, 1006, new ArrayBuffer(0));
  await Promise.resolve();
  t.same(log, ['upgrade returned', 'a cork', 'a open'], 'b closed during its upgrade: neither its open nor its close');
  h.close(a, 1000, new ArrayBuffer(0));
  t.same(log.slice(3), ['a close 1000']);
});
