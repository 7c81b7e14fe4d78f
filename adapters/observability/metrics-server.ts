/**
 * The operations port (`METRICS_PORT`): Prometheus's `/metrics`, and the
 * probes `/livez` and `/readyz` again. It listens before storage is opened,
 * so while the server recovers Prometheus already sees `dispatch_recovering 1`
 * and an orchestrator pointed here sees "not ready" rather than a refused
 * connection. Plain node:http: a scrape every few seconds needs nothing more.
 */
import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';
import type { Readiness } from './health.js';

export interface OpsServer {
  readonly port: number;
  close(): Promise<void>;
}

export interface OpsRoutes {
  readonly registry: Registry;
  readonly readiness: () => Readiness;
}

export async function startOpsServer(host: string, port: number, routes: () => OpsRoutes): Promise<OpsServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    const r = routes();
    if (path === '/metrics') {
      r.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': r.registry.contentType }).end(text),
        (err: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(String(err)),
      );
      return;
    }
    if (path === '/livez') {
      json(res, 200, { status: 'alive' });
      return;
    }
    if (path === '/readyz') {
      const ready = r.readiness();
      json(res, ready.ready ? 200 : 503, { status: ready.ready ? 'ready' : 'not_ready', reasons: ready.reasons });
      return;
    }
    json(res, 404, { code: 'ROUTE_NOT_FOUND', detail: 'this port serves /metrics, /livez and /readyz' });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = (server.address() as { port: number }).port;
  return {
    port: bound,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function json(res: import('node:http').ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(body));
}
