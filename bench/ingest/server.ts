/**
 * The ingest bench's server process: the real gateway (uWS, firebase-admin
 * against the Auth emulator, the engine on the wall clock), reporting its own
 * `process.cpuUsage()` between a `start` and a `stop` message from the parent.
 * This is a composition root: it alone reads its configuration (from argv).
 */
import { parseFirebaseConfig } from '../../adapters/identity/config.js';
import { createFirebaseIdentity } from '../../adapters/identity/firebase-identity.js';
import { hrStopwatch, systemClock } from '../../adapters/system-clock.js';
import { startWsServer } from '../../adapters/ws/ws-server.js';
import { Engine } from '../../engine/index.js';

export type ServerMsg =
  | { type: 'ready'; port: number }
  | { type: 'window'; cpu_s: number; user_s: number; system_s: number; positions: number; stale: number; rate_limited: number; invalid: number; connections: number; dropped: number; rss_mb: number };
export type ParentMsg = { type: 'start' } | { type: 'stop' } | { type: 'exit' };

const [emulatorHost = '127.0.0.1:9099', rate = '4'] = process.argv.slice(2);
const send = (m: ServerMsg) => process.send?.(m);

const identity = createFirebaseIdentity(parseFirebaseConfig({ NODE_ENV: 'test', FIREBASE_AUTH_EMULATOR_HOST: emulatorHost }));
const engine = new Engine({ clock: systemClock, stopwatch: hrStopwatch });
// The production limits, except the position rate, which follows the bench's --rate with headroom.
const server = await startWsServer({
  engine, identity, clock: systemClock, port: 0,
  limits: { positionsPerSecond: Math.max(5, Number(rate) * 2), positionBurst: Math.max(10, Number(rate) * 4) },
});
send({ type: 'ready', port: server.port });

let t0 = process.cpuUsage();
let base = { ...server.rider.stats };
process.on('message', (m: ParentMsg) => {
  if (m.type === 'start') {
    base = { ...server.rider.stats };
    t0 = process.cpuUsage();
  } else if (m.type === 'stop') {
    const d = process.cpuUsage(t0);
    const s = server.rider.stats;
    send({
      type: 'window', cpu_s: (d.user + d.system) / 1e6, user_s: d.user / 1e6, system_s: d.system / 1e6, positions: s.positions - base.positions,
      stale: s.stalePositions - base.stalePositions, rate_limited: s.rateLimited - base.rateLimited,
      invalid: s.invalidFrames - base.invalidFrames, connections: s.connections, dropped: s.droppedFrames - base.droppedFrames,
      rss_mb: Math.round(process.memoryUsage().rss / 2 ** 20),
    });
  } else {
    server.close();
    engine.stop();
    void identity.close().then(() => process.exit(0));
  }
});
