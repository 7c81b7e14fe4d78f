/**
 * `node --import tsx test/support/upgrade-hazard.ts <example|gateway> <inside|after> <sockets>`: serves a
 * route whose `open` allocates and writes native memory, as a busy gateway's does, behind an upgrade
 * decided after a token check that answers on the next turn of the event loop (as the Auth emulator
 * and a key fetch do). The upgrade is made the way uWS's own example does it (`example`: inside
 * `res.cork`) or by the gateways' `authenticatingUpgrade` (`gateway`); the `open` work runs inside
 * the upgrade or through `openAfterUpgrade`. Opens the sockets against it and prints
 * `{"clean":n,"dropped":n}` (1006s); a process that uWS crashes prints nothing. A script, so that
 * test/adapters/ws/open-after-upgrade.test.ts can run it under each C allocator.
 */
import uWS from 'uWebSockets.js';
import type { HttpRequest, HttpResponse, WebSocket as ServerSocket, us_socket_context_t } from 'uWebSockets.js';
import WebSocket from 'ws';
import { authenticatingUpgrade, openAfterUpgrade, readUpgrade } from '../../adapters/ws/upgrade-auth.js';
import type { IdentityVerifier } from '../../engine/ports/identity.js';
import { ok, type Principal } from '../../protocol/index.js';

interface Conn {
  readonly uid: string;
}

const principal: Principal = {
  uid: 'u1',
  role: 'customer',
  email: 'u1@example.test',
  phone: '+910000000001',
  expiresAt: Date.now() + 3_600_000,
  revocationChecked: false,
};
const laterVerifier: IdentityVerifier = {
  verify: () => new Promise((resolve) => setImmediate(() => resolve(ok(principal)))),
};

/** What a busy `open` does to the C heap: blocks of many sizes, written, some kept a while. */
const kept: Buffer[] = [];
function allocatingOpen(ws: ServerSocket<Conn>): void {
  for (let n = 24; n <= 512; n += 8) kept.push(Buffer.allocUnsafeSlow(n).fill(0x10));
  if (kept.length > 1000) kept.splice(0, kept.length - 1000);
  ws.send('hello');
}

/** uWS's `UpgradeAsync` example: the upgrade inside `res.cork` once the check has answered. */
const exampleUpgrade = (res: HttpResponse, req: HttpRequest, context: us_socket_context_t): void => {
  const h = readUpgrade(req);
  let aborted = false;
  res.onAborted(() => (aborted = true));
  void laterVerifier.verify('t').then((v) => {
    if (aborted || !v.ok) return;
    res.cork(() => res.upgrade({ uid: v.value.uid }, h.key, '', h.extensions, context));
  });
};

async function serve(style: 'example' | 'gateway', open: 'inside the upgrade' | 'after the upgrade') {
  const upgrade =
    style === 'example'
      ? exampleUpgrade
      : authenticatingUpgrade<Conn>({
          identity: laterVerifier,
          allowedOrigins: [],
          subprotocol: 'test.v1',
          optionalSubprotocol: true,
          admit: (p) => ok({ uid: p.uid }),
        });
  const after = openAfterUpgrade<Conn>(allocatingOpen, () => undefined);
  // Inside: the work runs in uWS's upgrade; the socket still goes through openAfterUpgrade (with no
  // work of its own), as the gateways' do, so open sockets can hold the cork for the next upgrade.
  const inside = openAfterUpgrade<Conn>(
    () => undefined,
    () => undefined,
  );
  const handlers =
    open === 'inside the upgrade'
      ? {
          open: (ws: ServerSocket<Conn>) => {
            inside.open(ws);
            allocatingOpen(ws);
          },
          close: inside.close,
        }
      : after;
  const app = uWS.App().ws<Conn>('/*', { upgrade, ...handlers });
  const listening = await new Promise<uWS.us_listen_socket>((resolve, reject) =>
    app.listen('127.0.0.1', 0, (s) => (s ? resolve(s) : reject(new Error('listen failed')))),
  );
  return { port: uWS.us_socket_local_port(listening), close: () => uWS.us_listen_socket_close(listening) };
}

/** Opens `n` sockets, 50 at a time; counts those that heard `hello` and closed cleanly, and the 1006s. */
async function connect(port: number, n: number) {
  let clean = 0;
  let dropped = 0;
  for (let i = 0; i < n; i += 50) {
    await Promise.all(
      Array.from(
        { length: Math.min(50, n - i) },
        () =>
          new Promise<void>((resolve) => {
            const c = new WebSocket(`ws://127.0.0.1:${port}/`, { headers: { authorization: 'Bearer t' } });
            c.on('error', () => undefined);
            c.on('message', () => c.close(1000));
            c.on('close', (code) => {
              if (code === 1006) dropped++;
              else if (code === 1000) clean++;
              resolve();
            });
          }),
      ),
    );
  }
  return { clean, dropped };
}

const [style, mode, sockets] = process.argv.slice(2);
if ((style !== 'example' && style !== 'gateway') || (mode !== 'inside' && mode !== 'after'))
  throw new Error('usage: upgrade-hazard.ts <example|gateway> <inside|after> <sockets>');
const s = await serve(style, mode === 'inside' ? 'inside the upgrade' : 'after the upgrade');
const r = await connect(s.port, Number(sockets ?? 300));
s.close();
console.log(JSON.stringify(r));
process.exit(0);
