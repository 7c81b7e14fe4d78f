/**
 * scripts/edge.ts as a user runs it: real processes (the echo upstream in
 * place of scripts/server.ts through EDGE_UPSTREAM_CMD, and real Caddy),
 * readiness, HTTP/3 through it, and that the two live and die together.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { REPO_ROOT } from '../../scripts/edge/config.js';
import { freeTcpUdpPort } from '../support/caddy.js';
import { h3Request } from '../support/h3-client.js';

const ECHO = 'node --import tsx test/support/echo-upstream.ts';

interface EdgeRun {
  readonly proc: ChildProcess;
  readonly edgePort: number;
  readonly certDir: string;
  output(): string;
  /** Resolves with the first match of `re` in the output. */
  waitFor(re: RegExp, ms?: number): Promise<RegExpMatchArray>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

async function runEdge(tt: Test, upstreamCmd = ECHO): Promise<EdgeRun> {
  const dir = await mkdtemp(join(tmpdir(), 'edge-script-'));
  const edgePort = await freeTcpUdpPort();
  const serverPort = await freeTcpUdpPort();
  const proc = spawn(process.execPath, ['--import', 'tsx', 'scripts/edge.ts'], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      SERVER_PORT: String(serverPort),
      EDGE_PORT: String(edgePort),
      EDGE_CERT_DIR: join(dir, 'certs'),
      EDGE_DATA_DIR: join(dir, 'caddy'),
      EDGE_UPSTREAM_CMD: upstreamCmd,
    },
  });
  let out = '';
  const listeners = new Set<() => void>();
  const onData = (c: Buffer) => {
    out += c.toString('utf8');
    for (const l of listeners) l();
  };
  proc.stdout?.on('data', onData);
  proc.stderr?.on('data', onData);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
    proc.once('exit', (code, signal) => r({ code, signal })),
  );
  tt.teardown(async () => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    await exited;
    // Whatever the edge started must be gone even if it was SIGKILLed: kill by the pids it printed.
    for (const m of out.matchAll(/edge: (?:server|caddy) pid (\d+)/g))
      try {
        process.kill(Number(m[1]), 'SIGKILL');
      } catch {
        /* gone */
      }
    await rm(dir, { recursive: true, force: true });
  });
  const waitFor = (re: RegExp, ms = 20_000) =>
    new Promise<RegExpMatchArray>((resolve, reject) => {
      const check = () => {
        const m = out.match(re);
        if (m) {
          listeners.delete(check);
          clearTimeout(timer);
          resolve(m);
        }
      };
      const timer = setTimeout(() => {
        listeners.delete(check);
        reject(new Error(`no ${re} in:\n${out}`));
      }, ms);
      listeners.add(check);
      check();
    });
  return { proc, edgePort, certDir: join(dir, 'certs'), output: () => out, waitFor, exited };
}

const pidOf = async (run: EdgeRun, name: 'server' | 'caddy') =>
  Number((await run.waitFor(new RegExp(`edge: ${name} pid (\\d+)`)))[1]);

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

t.test('starts the server and Caddy, serves HTTP/3, and stops both on SIGTERM', async (t) => {
  const run = await runEdge(t);
  await run.waitFor(/edge: ready: https:\/\/localhost:\d+ .*\/health answered 200/);
  t.match(run.output(), /dev certificate created, with a new CA/);
  const server = await pidOf(run, 'server');
  const caddy = await pidOf(run, 'caddy');

  const res = await h3Request({
    url: `https://localhost:${run.edgePort}/v1/ping`,
    caCertPath: join(run.certDir, 'ca.crt'),
  });
  t.equal(res.status, 200);
  t.equal(JSON.parse(res.body).headers['x-edge-http-version'], 'HTTP/3.0');

  run.proc.kill('SIGTERM');
  t.same(await run.exited, { code: 0, signal: null }, 'a clean stop exits 0');
  t.notOk(alive(server), 'the server is gone');
  t.notOk(alive(caddy), 'caddy is gone');
  t.match(run.output(), /edge: caddy stopped/);
  t.match(run.output(), /edge: server stopped/);
});

t.test('when the server dies, Caddy is stopped and the edge exits non-zero', async (t) => {
  const run = await runEdge(t);
  await run.waitFor(/edge: ready/);
  const server = await pidOf(run, 'server');
  const caddy = await pidOf(run, 'caddy');
  process.kill(server, 'SIGKILL');
  const exit = await run.exited;
  t.not(exit.code, 0);
  t.match(run.output(), /edge: server exited \(signal SIGKILL\); stopping the others/);
  t.notOk(alive(caddy), 'caddy is gone');
});

t.test('when Caddy dies, the server is stopped and the edge exits non-zero', async (t) => {
  const run = await runEdge(t);
  await run.waitFor(/edge: ready/);
  const server = await pidOf(run, 'server');
  const caddy = await pidOf(run, 'caddy');
  process.kill(caddy, 'SIGKILL');
  const exit = await run.exited;
  t.not(exit.code, 0);
  t.match(run.output(), /edge: caddy exited \(signal SIGKILL\); stopping the others/);
  t.notOk(alive(server), 'the server is gone');
});

t.test('a server that fails at start ends the edge with its exit code, Caddy never started', async (t) => {
  const run = await runEdge(t, 'node -e "process.exit(3)"');
  const exit = await run.exited;
  t.equal(exit.code, 3);
  t.notMatch(run.output(), /caddy pid/);
});
