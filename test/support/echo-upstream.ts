/**
 * A stand-in for the REST gateway behind the edge: node:http on loopback,
 * HTTP/1.1 like the gateway. It answers
 *   GET /health            200 {"status":"ok"}
 *   ANY /problem/<status>  that status, an application/problem+json body
 *   ANY other path         200 JSON echo of method, path, headers, body, peer
 * and records every request it got.
 *
 * Run as a script it plays the gateway's start contract for scripts/edge.ts:
 * listens on SERVER_HOST:SERVER_PORT, prints `server: listening on
 * http://HOST:PORT` to stderr, stops on SIGTERM or SIGINT.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';

export interface EchoedRequest {
  readonly method: string;
  readonly path: string;
  readonly httpVersion: string;
  readonly headers: Record<string, string>;
  readonly body: string;
  readonly remoteAddress: string;
}

export interface EchoUpstream {
  readonly port: number;
  /** http://127.0.0.1:PORT */
  readonly url: string;
  readonly requests: readonly EchoedRequest[];
  stop(): Promise<void>;
}

/** The problem bodies it answers at /problem/<status>, shaped like the gateway's. */
export const PROBLEMS: Readonly<Record<number, { code: string; title: string }>> = {
  400: { code: 'INVALID_ARGUMENT', title: 'A field is missing, of the wrong type or out of range' },
  404: { code: 'ORDER_NOT_FOUND', title: 'No such order' },
  409: { code: 'ORDER_INVALID_TRANSITION', title: 'The order state does not allow this' },
  429: { code: 'RATE_LIMITED', title: 'Too many requests' },
  503: { code: 'DEPENDENCY_UNAVAILABLE', title: 'A service this call needs is down' },
};

export function createEchoServer(requests: EchoedRequest[] = []): Server {
  return createServer((req, res) => {
    void readBody(req).then(
      (body) => {
        const path = req.url ?? '/';
        const seen: EchoedRequest = {
          method: req.method ?? '',
          path,
          httpVersion: req.httpVersion,
          headers: flatHeaders(req),
          body,
          remoteAddress: req.socket.remoteAddress ?? '',
        };
        requests.push(seen);
        if (path === '/health') {
          send(res, 200, 'application/json', { status: 'ok' });
          return;
        }
        const problem = /^\/problem\/(\d{3})$/.exec(path);
        if (problem?.[1] !== undefined) {
          const status = Number(problem[1]);
          const p = PROBLEMS[status] ?? { code: 'INTERNAL', title: 'Internal error' };
          if (status === 503) res.setHeader('retry-after', '2');
          send(res, status, 'application/problem+json', { ...p, status, detail: `asked for ${status}` });
          return;
        }
        send(res, 200, 'application/json', seen);
      },
      () => res.destroy(),
    ); // a request the edge aborted (body over its limit)
  });
}

/** Starts the echo upstream on a free loopback port. */
export async function startEchoUpstream(t?: { teardown(fn: () => unknown): void }): Promise<EchoUpstream> {
  const requests: EchoedRequest[] = [];
  const server = createEchoServer(requests);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  let closed: Promise<void> | undefined;
  const stop = () =>
    (closed ??= new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    }));
  t?.teardown(stop);
  return { port, url: `http://127.0.0.1:${port}`, requests, stop };
}

function send(res: ServerResponse, status: number, type: string, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function flatHeaders(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) out[k] = Array.isArray(v) ? v.join(', ') : v;
  return out;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const host = process.env.SERVER_HOST || '127.0.0.1';
  const port = Number(process.env.SERVER_PORT || 8080);
  const server = createEchoServer();
  server.listen(port, host, () => console.error(`server: listening on http://${host}:${port}`));
  const stop = () => {
    server.closeAllConnections();
    server.close(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}
