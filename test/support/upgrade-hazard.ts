/**
 * `node --import tsx test/support/upgrade-hazard.ts <inside|after> <sockets>`: serves a route whose
 * `open` allocates and writes native memory, as a busy gateway's does, behind the gateways' own
 * `authenticatingUpgrade` with a verifier that answers on the next turn of the event loop (as the
 * Auth emulator and a key fetch do); its `open` work runs inside the upgrade or through
 * `openAfterUpgrade`. Opens the sockets against it and prints `{"clean":n,"dropped":n}` (1006s).
 * A script, so that test/adapters/ws/open-after-upgrade.test.ts can run it under each C allocator.
 */
import uWS from 'uWebSockets.js';
import type { WebSocket as ServerSocket } from 'uWebSockets.js';
import WebSocket from 'ws';
import { authenticatingUpgrade, openAfterUpgrade } from '../../adapters/ws/upgrade-auth.js';
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
  for (let n = 24; n <= 256; n += 8) kept.push(Buffer.allocUnsafeSlow(n).fill(0x10));
  if (kept.length > 1000) kept.splice(0, kept.length - 1000);
  ws.send('hello');
}

async function serve(open: 'inside the upgrade' | 'after the upgrade') {
  const upgrade = authenticatingUpgrade<Conn>({
    identity: laterVerifier,
    allowedOrigins: [],
    subprotocol: 'test.v1',
    optionalSubprotocol: true,
    admit: (p) => ok({ uid: p.uid }),
  });
  const handlers =
    open === 'inside the upgrade'
      ? { open: allocatingOpen, close: () => undefined }
      : openAfterUpgrade<Conn>(allocatingOpen, () => undefined);
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

const mode = process.argv[2];
if (mode !== 'inside' && mode !== 'after') throw new Error('usage: upgrade-hazard.ts <inside|after> <sockets>');
const s = await serve(mode === 'inside' ? 'inside the upgrade' : 'after the upgrade');
const r = await connect(s.port, Number(process.argv[3] ?? 300));
s.close();
console.log(JSON.stringify(r));
process.exit(0);
