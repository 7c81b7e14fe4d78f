/**
 * `npm run start:edge` (or `./dev edge`): the REST gateway and Caddy in front
 * of it, as one command. Makes the dev certificate when needed, starts the
 * gateway (`node --import tsx scripts/server.ts`, or EDGE_UPSTREAM_CMD), waits
 * for its /health, starts Caddy with edge/Caddyfile, waits until the edge
 * answers, and then runs until a signal or until either process exits, which
 * stops the other. Variables: docs/edge.md.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { CADDYFILE, REPO_ROOT, caddyArgs, caddyEnv, parseEdgeConfig, type EdgeConfig } from './edge/config.js';
import { ensureDevCert } from './edge/dev-cert.js';
import { httpOk, httpsStatus, waitUntil } from './edge/ready.js';
import { Supervisor } from './edge/supervisor.js';

const UPSTREAM_READY_MS = 60_000;
const EDGE_READY_MS = 15_000;

const log = (line: string) => console.error(line);

async function main(): Promise<number> {
  const config = parseEdgeConfig(process.env);
  const sup = new Supervisor({ log });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => void sup.stop(signal, 'signal'));

  if (!config.upstreamCommand && !existsSync(join(REPO_ROOT, 'scripts', 'server.ts'))) {
    log('edge: scripts/server.ts (the REST gateway) is not in this tree yet. To try the edge alone, put the');
    log(
      "edge: echo stand-in behind it: EDGE_UPSTREAM_CMD='node --import tsx test/support/echo-upstream.ts' ./dev edge",
    );
    return 2;
  }
  const tls = await certificate(config);
  if (sup.isStopping) return sup.done;

  const server = sup.spawn(
    config.upstreamCommand
      ? {
          name: 'server',
          command: '/bin/sh',
          args: ['-c', `exec ${config.upstreamCommand}`],
          env: process.env,
          cwd: REPO_ROOT,
        }
      : {
          name: 'server',
          command: process.execPath,
          args: ['--import', 'tsx', 'scripts/server.ts'],
          env: process.env,
          cwd: REPO_ROOT,
        },
  );
  log(`edge: server pid ${server.pid ?? '?'}; waiting for ${config.upstreamUrl}/health`);
  const upstreamUp = await waitUntil(() => httpOk(`${config.upstreamUrl}/health`), {
    timeoutMs: UPSTREAM_READY_MS,
    cancelled: () => sup.isStopping,
  });
  if (!upstreamUp)
    return sup.isStopping
      ? sup.done
      : sup.fail(`the server did not answer ${config.upstreamUrl}/health within ${UPSTREAM_READY_MS / 1000} s`);

  const caddy = sup.spawn({
    name: 'caddy',
    command: 'caddy',
    args: caddyArgs(CADDYFILE),
    cwd: REPO_ROOT,
    env: caddyEnv(
      {
        port: config.port,
        bind: config.bind,
        upstream: config.upstream,
        certPath: tls.certPath,
        keyPath: tls.keyPath,
        dataDir: config.dataDir,
        admin: config.admin,
      },
      process.env,
    ),
  });
  const probeHost = config.bind === '0.0.0.0' ? '127.0.0.1' : config.bind === '::' ? '::1' : config.bind;
  const probeUrl = `https://${isIP(probeHost) === 6 ? `[${probeHost}]` : probeHost}:${config.port}/health`;
  log(`edge: caddy pid ${caddy.pid ?? '?'}; waiting for ${probeUrl}`);
  let status: number | undefined;
  const edgeUp = await waitUntil(
    async () =>
      (status = await httpsStatus(probeUrl, { ...(tls.ca ? { ca: tls.ca } : {}), servername: 'localhost' })) !==
      undefined,
    { timeoutMs: EDGE_READY_MS, cancelled: () => sup.isStopping },
  );
  if (!edgeUp)
    return sup.isStopping ? sup.done : sup.fail(`the edge did not answer ${probeUrl} within ${EDGE_READY_MS / 1000} s`);

  const publicHost = config.bind === '0.0.0.0' || config.bind === '127.0.0.1' ? 'localhost' : config.bind;
  log(
    `edge: ready: https://${publicHost}:${config.port} (HTTP/1.1, HTTP/2, HTTP/3 on UDP ${config.port}) -> ${config.upstreamUrl}; /health answered ${status ?? '?'}`,
  );
  if (tls.ca) log(`edge: certificate from the dev CA ${tls.caPath}; trust it or pass it to your client (docs/edge.md)`);
  return sup.done;
}

/** The certificate Caddy serves: the operator's (EDGE_CERT, EDGE_KEY) or the dev CA's. */
async function certificate(
  config: EdgeConfig,
): Promise<{ certPath: string; keyPath: string; ca?: Buffer; caPath?: string }> {
  if (config.certPath && config.keyPath) return { certPath: config.certPath, keyPath: config.keyPath };
  const dev = await ensureDevCert({ dir: config.certDir, hosts: config.certHosts });
  log(
    `edge: dev certificate ${dev.action === 'reused' ? 'reused' : dev.action === 'issued-server' ? 'renewed' : 'created, with a new CA'} in ${config.certDir}`,
  );
  return { certPath: dev.certPath, keyPath: dev.keyPath, ca: await readFile(dev.caCertPath), caPath: dev.caCertPath };
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    log(`edge: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
