/**
 * `/v1/rider` authentication over real sockets with real emulator tokens:
 * refusals at upgrade (status and code from the error table), the browser
 * token paths, one connection per rider, token expiry and refresh.
 */
import t from 'tap';
import { CloseCode, Frame, RIDER_SUBPROTOCOL, encodeAuth, type ServerFrame } from '../../protocol/index.js';
import { rewritePayload } from '../support/firebase-users.js';
import { connect, startHarness } from '../support/ws-harness.js';

const h = await startHarness(t);
const isWelcome = (f: ServerFrame) => f.type === Frame.WELCOME;

t.test('refusals at upgrade carry the error table status and code', async (t) => {
  const customer = await h.user();
  const noRider = await h.user({ role: 'rider' });
  const cases: [string, ReturnType<typeof connect>, number, string][] = [
    ['no token', connect(h.url), 401, 'AUTH_TOKEN_MISSING'],
    ['garbage token', connect(h.url, { token: 'not-a-jwt' }), 401, 'AUTH_TOKEN_INVALID'],
    ['customer role', connect(h.url, { token: customer.token }), 403, 'AUTH_ROLE_FORBIDDEN'],
    ['rider without rider_id', connect(h.url, { token: noRider.token }), 403, 'AUTH_ROLE_FORBIDDEN'],
    ['no subprotocol', connect(h.url, { token: customer.token, protocols: [] }), 426, 'PROTOCOL_UNSUPPORTED'],
    [
      'foreign origin',
      connect(h.url, { token: customer.token, headers: { origin: 'https://evil.example' } }),
      403,
      'ORIGIN_FORBIDDEN',
    ],
  ];
  for (const [name, c, status, code] of cases) {
    const r = await c.refused;
    t.same(r && { status: r.status, code: r.body.code }, { status, code }, name);
  }
  const now = Math.floor(Date.now() / 1000);
  const rider = await h.rider();
  const expired = rewritePayload(rider.token, (p) => {
    p['iat'] = now - 7200;
    p['exp'] = now - 3600;
  });
  const r = await connect(h.url, { token: expired }).refused;
  t.same(r && { status: r.status, code: r.body.code }, { status: 401, code: 'AUTH_TOKEN_EXPIRED' }, 'expired token');
  t.equal(h.server.rider.stats.connections, 0, 'no socket was opened for any of them');
});

t.test('browsers: token in a bearer.<token> subprotocol entry or the query, from an allowed origin', async (t) => {
  const a = await h.rider('browser');
  const viaProtocol = connect(h.url, {
    protocols: [RIDER_SUBPROTOCOL, `bearer.${a.token}`],
    headers: { origin: 'https://app.example.test' },
  });
  await viaProtocol.opened;
  t.equal(viaProtocol.ws.protocol, RIDER_SUBPROTOCOL, 'the server answers with the protocol, never the token entry');
  t.match(await viaProtocol.next(isWelcome), { type: Frame.WELCOME, riderId: a.riderId, lastSeq: 0 });
  viaProtocol.ws.close();
  await viaProtocol.closed;
  const viaQuery = connect(`${h.url}?token=${encodeURIComponent(a.token)}`, {
    headers: { origin: 'https://app.example.test' },
  });
  t.match(await viaQuery.next(isWelcome), { riderId: a.riderId });
  viaQuery.ws.close();
  await viaQuery.closed;
});

t.test('the rider id comes from the token, and an unknown rider is registered', async (t) => {
  const a = await h.rider('fresh');
  t.equal(h.engine.getRider(a.riderId as never).ok, false, 'unknown before');
  const c = connect(h.url, { token: a.token });
  const w = await c.next(isWelcome);
  t.match(w, { riderId: a.riderId });
  t.match(h.engine.getRider(a.riderId as never), { ok: true, value: { state: 'offline', connected: true } });
  c.ws.close();
  await c.closed;
});

t.test('one live connection per rider: a new one closes the old with 4004', async (t) => {
  const a = await h.rider('twice');
  const first = connect(h.url, { token: a.token });
  await first.next(isWelcome);
  const second = connect(h.url, { token: a.token });
  await second.next(isWelcome);
  // The server ends the old socket with 4004; with the pinned uWS build an existing socket is
  // sometimes dropped (1006) when a new one opens (docs/streams.md, open issue), so either ends it.
  const closed = await first.closed;
  t.ok(closed.code === CloseCode.REPLACED || closed.code === 1006, `the old socket is closed (${closed.code})`);
  t.match(h.engine.getRider(a.riderId as never), { ok: true, value: { connected: true } }, 'the rider stays connected');
  second.ws.close();
  await second.closed;
});

t.test('the socket closes with 4002 when its token expires', async (t) => {
  const a = await h.rider('expiry');
  const c = connect(h.url, { token: a.token });
  const w = await c.next(isWelcome);
  if (w.type !== Frame.WELCOME) return t.fail();
  h.clock.runUntil(w.tokenExpiresAt - 1);
  t.equal(c.ws.readyState, c.ws.OPEN, 'open until the expiry');
  h.clock.runUntil(w.tokenExpiresAt);
  t.same(await c.closed, { code: CloseCode.TOKEN_EXPIRED, reason: 'AUTH_TOKEN_EXPIRED' });
});

t.test('a fresh token frame keeps the socket open past the old expiry', async (t) => {
  const a = await h.rider('refresh');
  const c = connect(h.url, { token: a.token });
  const w = await c.next(isWelcome);
  if (w.type !== Frame.WELCOME) return t.fail();
  const later = Math.floor(w.tokenExpiresAt / 1000) + 1800;
  // Emulator mode accepts unsigned tokens, so a token with a later expiry can be made by rewriting one.
  c.send(
    encodeAuth(
      rewritePayload(a.token, (p) => {
        p['exp'] = later;
      }),
    ),
  );
  await c.next((f) => f.type === Frame.ACK);
  h.clock.runUntil(w.tokenExpiresAt + 60_000);
  t.equal(c.ws.readyState, c.ws.OPEN, 'still open after the first token expired');
  h.clock.runUntil(later * 1000);
  t.same((await c.closed).code, CloseCode.TOKEN_EXPIRED, 'closed at the new expiry');
});

t.test('a token frame for another rider closes the socket with 4001', async (t) => {
  const a = await h.rider('mine');
  const b = await h.rider('theirs');
  const c = connect(h.url, { token: a.token });
  await c.next(isWelcome);
  c.send(encodeAuth(b.token));
  t.match(await c.next((f) => f.type === Frame.ERROR), { code: 'AUTH_OBJECT_FORBIDDEN' });
  t.same(await c.closed, { code: CloseCode.AUTH_FAILED, reason: 'AUTH_OBJECT_FORBIDDEN' });
});
