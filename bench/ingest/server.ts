/**
 * The ingest bench's server process: the real gateway (uWS, firebase-admin
 * against the Auth emulator, the engine on the wall clock), reporting its own
 * `process.cpuUsage()` between a `start` and a `stop` message from the parent.
 * This is a composition root: it alone reads its configuration (from argv).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { parseFirebaseConfig } from '../../adapters/identity/config.js';
import { createFirebaseIdentity } from '../../adapters/identity/firebase-identity.js';
import { hrStopwatch, systemClock } from '../../adapters/system-clock.js';
import { resolveWsLimits } from '../../adapters/ws/limits.js';
import { startWsServer } from '../../adapters/ws/ws-server.js';
import { Engine } from '../../engine/index.js';
import { startFloorServer } from './floor.js';

export type ServerMsg =
  | { type: 'ready'; port: number }
  | {
      type: 'window';
      cpu_s: number;
      user_s: number;
      system_s: number;
      positions: number;
      stale: number;
      rate_limited: number;
      invalid: number;
      connections: number;
      dropped: number;
      rss_mb: number;
      threads: Record<string, number>;
      closes: Record<number, number>;
    };
export type ParentMsg = { type: 'start' } | { type: 'stop' } | { type: 'exit' };

const [emulatorHost = '127.0.0.1:9099', rate = '4', mode = 'gateway'] = process.argv.slice(2);
const send = (m: ServerMsg) => process.send?.(m);

const identity = createFirebaseIdentity(
  parseFirebaseConfig({ NODE_ENV: 'test', FIREBASE_AUTH_EMULATOR_HOST: emulatorHost }),
);
const engine = new Engine({ clock: systemClock, stopwatch: hrStopwatch });
// The production limits, except the position rate, which follows the bench's --rate with headroom.
const limits = { positionsPerSecond: Math.max(5, Number(rate) * 2), positionBurst: Math.max(10, Number(rate) * 4) };
// `floor`: the same sockets and load, a handler that only counts (bench/ingest/floor.ts).
const server =
  mode === 'floor'
    ? await startFloorServer(identity, resolveWsLimits(limits))
    : await startWsServer({
        engine,
        identity,
        clock: systemClock,
        port: 0,
        logger: { error: (m, d) => console.error('[server]', m, d) },
        limits,
      });
send({ type: 'ready', port: server.port });

/** CPU ticks per thread name from /proc (Linux), to say where the server's CPU goes. */
function threadTicks(): Map<string, number> {
  const out = new Map<string, number>();
  try {
    for (const tid of readdirSync('/proc/self/task')) {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(name, (out.get(name) ?? 0) + Number(f[11]) + Number(f[12]));
    }
  } catch {
    /* not Linux */
  }
  return out;
}

let t0 = process.cpuUsage();
let ticks0 = threadTicks();
let base = { ...server.rider.stats };
process.on('message', (m: ParentMsg) => {
  if (m.type === 'start') {
    base = { ...server.rider.stats };
    t0 = process.cpuUsage();
    ticks0 = threadTicks();
  } else if (m.type === 'stop') {
    const d = process.cpuUsage(t0);
    const s = server.rider.stats;
    const ticks = threadTicks();
    const threads: Record<string, number> = {};
    // Clock ticks are 10 ms on Linux.
    for (const [name, v] of ticks)
      if (v - (ticks0.get(name) ?? 0) > 0) threads[name] = (v - (ticks0.get(name) ?? 0)) / 100;
    send({
      type: 'window',
      cpu_s: (d.user + d.system) / 1e6,
      user_s: d.user / 1e6,
      system_s: d.system / 1e6,
      positions: s.positions - base.positions,
      stale: s.stalePositions - base.stalePositions,
      rate_limited: s.rateLimited - base.rateLimited,
      invalid: s.invalidFrames - base.invalidFrames,
      connections: s.connections,
      dropped: s.droppedFrames - base.droppedFrames,
      rss_mb: Math.round(process.memoryUsage().rss / 2 ** 20),
      threads,
      closes: { ...s.closes },
    });
  } else {
    server.close();
    engine.stop();
    // Exit at once (a CPU profile, when asked for, is written on exit); the OS reclaims the rest.
    process.exit(0);
  }
});
