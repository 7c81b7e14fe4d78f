/**
 * The HTTP/3 edge over real sockets: Caddy with edge/Caddyfile in front of a
 * node:http echo upstream, reached over HTTP/3 (QUIC) with gtlsclient, and
 * with headless Chromium where the request needs headers, and over HTTPS
 * (HTTP/1.1 and HTTP/2) with node's clients and the test CA.
 */
import { readFile, rm } from 'node:fs/promises';
import { connect as h2connect } from 'node:http2';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { ensureDevCert } from '../../scripts/edge/dev-cert.js';
import { startCaddy } from '../support/caddy.js';
import { startEchoUpstream, type EchoedRequest } from '../support/echo-upstream.js';
import { startH3Browser } from '../support/h3-browser.js';
import { h3Request } from '../support/h3-client.js';

const upstream = await startEchoUpstream(t);
const edge = await startCaddy({ upstream: upstream.url, t });
const ca = await readFile(edge.caCertPath);
const h3 = (path: string, init: { method?: string; body?: string | Buffer } = {}) =>
  h3Request({ ...init, url: `${edge.url}${path}`, caCertPath: edge.caCertPath });

interface Plain {
  status: number;
  headers: Record<string, string>;
  body: string;
  httpVersion: string;
}

/** One request over HTTP/2 with node:http2, trusting only the test CA. */
function h2(
  path: string,
  init: { method?: string; headers?: Record<string, string>; body?: string | Buffer } = {},
): Promise<Plain> {
  return new Promise((resolve, reject) => {
    const session = h2connect(edge.url, { ca });
    session.once('error', reject);
    const req = session.request({ ':method': init.method ?? 'GET', ':path': path, ...init.headers });
    const chunks: Buffer[] = [];
    let headers: Record<string, string> = {};
    let status = 0;
    req.once('response', (h) => {
      status = Number(h[':status']);
      headers = Object.fromEntries(
        Object.entries(h)
          .filter(([k]) => !k.startsWith(':'))
          .map(([k, v]) => [k, String(v)]),
      );
    });
    req.on('data', (c: Buffer) => chunks.push(c));
    req.once('end', () => {
      session.close();
      resolve({ status, headers, body: Buffer.concat(chunks).toString('utf8'), httpVersion: '2.0' });
    });
    req.once('error', (err: Error) => {
      session.close();
      reject(err);
    });
    req.end(init.body);
  });
}

/**
 * One request over HTTP/1.1 with node:https, trusting only the test CA. A
 * server that refuses a body answers and closes before it has read it all, so
 * the rest of our write can fail (EPIPE, ECONNRESET) after the answer came:
 * once the answer is here, such an error is the refusal working, not a failure.
 */
function h1(
  path: string,
  init: { method?: string; headers?: Record<string, string>; body?: string | Buffer } = {},
): Promise<Plain> {
  // A large body waits for 100 Continue, as HTTP/1.1 clients send uploads: a server that refuses it
  // from its declared length answers at once, and the body is never written into a closing socket
  // (which the kernel would answer with a reset, sometimes before the client read the refusal).
  const body = init.body === undefined ? undefined : Buffer.from(init.body);
  const expect = body !== undefined && body.length > 65_536;
  const headers = {
    ...init.headers,
    ...(expect ? { expect: '100-continue', 'content-length': String(body.length) } : {}),
  };
  return new Promise((resolve, reject) => {
    let answered = false;
    const req = httpsRequest(
      `${edge.url}${path}`,
      { method: init.method ?? 'GET', headers, ca, agent: false },
      (res) => {
        answered = true;
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.once('end', () => {
          if (!req.writableEnded) req.destroy();
          resolve({
            status: res.statusCode ?? 0,
            headers: Object.fromEntries(Object.entries(res.headers).map(([k, v]) => [k, String(v)])),
            body: Buffer.concat(chunks).toString('utf8'),
            httpVersion: res.httpVersion,
          });
        });
      },
    );
    req.on('error', (err) => {
      if (!answered) reject(err);
    });
    if (expect) {
      req.once('continue', () => req.end(body));
      req.flushHeaders();
    } else req.end(body);
  });
}

const echoed = (body: string) => JSON.parse(body) as EchoedRequest;

t.test('a GET over HTTP/3 reaches the upstream and brings back its body', async (t) => {
  const res = await h3('/v1/orders/ord_1?fields=status');
  t.equal(res.httpVersion, '3');
  t.equal(res.alpn, 'h3', 'gtlsclient negotiated h3 on the QUIC connection');
  t.match(res.certificateSubject, /CN=localhost/, 'the certificate from the QUIC handshake chains to the test CA');
  t.equal(res.status, 200);
  t.equal(res.headers['content-type'], 'application/json');
  const seen = echoed(res.body);
  t.equal(seen.method, 'GET');
  t.equal(seen.path, '/v1/orders/ord_1?fields=status');
  t.equal(seen.httpVersion, '1.1', 'the edge speaks HTTP/1.1 to the gateway');
  t.equal(seen.headers['x-edge-http-version'], 'HTTP/3.0', 'Caddy saw the request arrive over HTTP/3');
  t.same(upstream.requests.at(-1), seen, 'the body is what the upstream answered');
});

t.test('a POST with a JSON body over HTTP/3 arrives intact', async (t) => {
  const order = {
    restaurantId: 'rst_42',
    items: [{ sku: 'masala-dosa', qty: 2 }],
    note: 'no onions — extra chutney 🌶️',
    drop: { lat: 12.9716, lng: 77.5946 },
  };
  const text = JSON.stringify(order);
  const res = await h3('/v1/orders', { method: 'POST', body: text });
  t.equal(res.status, 200);
  const seen = echoed(res.body);
  t.equal(seen.method, 'POST');
  t.equal(seen.body, text, 'byte for byte');
  t.same(JSON.parse(seen.body), order);
  t.equal(seen.headers['content-length'], String(Buffer.byteLength(text)));
  t.equal(seen.headers['x-edge-http-version'], 'HTTP/3.0');
});

t.test('HTTPS over HTTP/2 and HTTP/1.1 advertises HTTP/3 with Alt-Svc', async (t) => {
  for (const [name, send] of [
    ['HTTP/2', h2],
    ['HTTP/1.1', h1],
  ] as const) {
    const res = await send('/health');
    t.equal(res.status, 200, name);
    t.equal(res.httpVersion, name === 'HTTP/2' ? '2.0' : '1.1');
    t.match(
      res.headers['alt-svc'],
      new RegExp(`(^|,\\s*)h3=":${edge.httpsPort}"`),
      `${name}: Alt-Svc offers h3 on the same port`,
    );
    t.notOk(res.headers.server, `${name}: no Server header`);
  }
});

t.test('the upstream sees the client address and https in X-Forwarded-*, whatever the client claims', async (t) => {
  const res = await h2('/whoami', {
    headers: { 'x-forwarded-for': '203.0.113.9', 'x-forwarded-proto': 'http', 'x-edge-http-version': 'HTTP/9' },
  });
  const seen = echoed(res.body);
  t.equal(seen.headers['x-forwarded-for'], '127.0.0.1', 'the peer address, not the spoofed one');
  t.equal(seen.headers['x-forwarded-proto'], 'https');
  t.equal(seen.headers['x-forwarded-host'], `127.0.0.1:${edge.httpsPort}`);
  t.equal(seen.headers['x-edge-http-version'], 'HTTP/2.0', 'set by the edge only');
  t.equal(seen.remoteAddress, '127.0.0.1');

  const over3 = echoed((await h3('/whoami')).body);
  t.equal(over3.headers['x-forwarded-for'], '127.0.0.1', 'over HTTP/3 too');
  t.equal(over3.headers['x-forwarded-proto'], 'https');
});

t.test('status codes and problem+json bodies of the upstream pass through unchanged', async (t) => {
  for (const status of [400, 409, 503]) {
    const direct = await fetch(`${upstream.url}/problem/${status}`);
    const directBody = await direct.text();
    for (const [name, res] of [
      ['HTTP/3', await h3(`/problem/${status}`)],
      ['HTTP/2', await h2(`/problem/${status}`)],
    ] as const) {
      t.equal(res.status, status, `${name} ${status}`);
      t.equal(res.headers['content-type'], 'application/problem+json', `${name} ${status} content-type`);
      t.equal(res.body, directBody, `${name} ${status}: the body byte for byte`);
      if (status === 503) t.equal(res.headers['retry-after'], '2', `${name}: Retry-After kept`);
    }
  }
  const post = await h3('/problem/400', { method: 'POST', body: '{"restaurantId":' });
  t.equal(post.status, 400, 'a POST refused by the upstream keeps its status');
});

t.test('X-Request-Id: kept when the client sends a sane one, made by the edge otherwise, echoed back', async (t) => {
  const kept = await h2('/trace', { headers: { 'x-request-id': 'app-7f3a.42:retry-1' } });
  t.equal(echoed(kept.body).headers['x-request-id'], 'app-7f3a.42:retry-1');
  t.equal(kept.headers['x-request-id'], 'app-7f3a.42:retry-1');

  const made = await h3('/trace');
  const id = echoed(made.body).headers['x-request-id'];
  t.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, 'a UUID over HTTP/3');
  t.equal(made.headers['x-request-id'], id, 'the client gets the same id');

  const replaced = await h1('/trace', { headers: { 'x-request-id': 'x'.repeat(129) } });
  const rid = echoed(replaced.body).headers['x-request-id'];
  t.match(rid, /^[0-9a-f-]{36}$/, 'an over-long id is replaced');
  t.equal(replaced.headers['x-request-id'], rid);
});

t.test(
  'bodies over 1 MB are refused at the edge with 413 problem+json; the upstream never gets one whole',
  async (t) => {
    const before = upstream.requests.length;
    const big = Buffer.alloc(1_000_001, 'a');
    for (const [name, res] of [
      ['HTTP/3', await h3('/v1/orders', { method: 'POST', body: big })],
      ['HTTP/2', await h2('/v1/orders', { method: 'POST', body: big })],
      ['HTTP/1.1', await h1('/v1/orders', { method: 'POST', body: big })],
    ] as const) {
      t.equal(res.status, 413, name);
      t.equal(res.headers['content-type'], 'application/problem+json', name);
      t.match(JSON.parse(res.body), { code: 'BODY_TOO_LARGE', status: 413 }, name);
      t.ok(res.headers['x-request-id'], `${name}: the refusal carries the request id`);
    }
    t.equal(
      upstream.requests.length,
      before,
      'the upstream completed none of them (a streamed one is cut at the limit)',
    );

    const atLimit = await h2('/v1/orders', { method: 'POST', body: Buffer.alloc(1_000_000, 'b') });
    t.equal(atLimit.status, 200, 'exactly 1,000,000 bytes pass');
    t.equal(echoed(atLimit.body).body.length, 1_000_000);
  },
);

t.test('a gateway that is down is a 503 problem, not an empty 502', async (t) => {
  const gone = await startEchoUpstream();
  await gone.stop();
  const orphan = await startCaddy({ upstream: gone.url, t });
  const res = await h3Request({ url: `${orphan.url}/v1/orders`, caCertPath: orphan.caCertPath });
  t.equal(res.status, 503);
  t.equal(res.headers['content-type'], 'application/problem+json');
  t.match(JSON.parse(res.body), { code: 'DEPENDENCY_UNAVAILABLE', status: 503 });
  await orphan.stop();
});

t.test(
  'request headers over HTTP/3 (through Chromium): a bearer token, a JSON content type, a request id',
  async (t) => {
    const browser = await startH3Browser({ caCertPaths: [edge.caCertPath], t });
    const body = JSON.stringify({ restaurantId: 'rst_42', items: [{ sku: 'idli', qty: 3 }] });
    const res = await browser.request({
      method: 'POST',
      url: `${edge.url}/v1/orders`,
      body,
      headers: {
        authorization: 'Bearer eyJhbGciOiJSUzI1NiJ9.e30.sig',
        'content-type': 'application/json',
        'x-request-id': 'rq-h3-1',
        'x-forwarded-for': '198.51.100.4',
      },
    });
    t.equal(res.httpVersion, '3', 'Chromium reports the response protocol as h3');
    t.equal(res.status, 200);
    t.equal(res.headers['x-request-id'], 'rq-h3-1');
    const seen = echoed(res.body);
    t.equal(seen.headers.authorization, 'Bearer eyJhbGciOiJSUzI1NiJ9.e30.sig');
    t.equal(seen.headers['content-type'], 'application/json');
    t.equal(seen.headers['x-request-id'], 'rq-h3-1');
    t.equal(seen.headers['x-edge-http-version'], 'HTTP/3.0', 'Caddy saw HTTP/3');
    t.equal(seen.headers['x-forwarded-for'], '127.0.0.1', 'a spoofed X-Forwarded-For is replaced over HTTP/3 too');
    t.equal(seen.body, body);

    const problem = await browser.request({ url: `${edge.url}/problem/400`, headers: { authorization: 'Bearer x' } });
    t.equal(problem.status, 400);
    t.equal(problem.headers['content-type'], 'application/problem+json');
    t.match(JSON.parse(problem.body), { code: 'INVALID_ARGUMENT', status: 400 });
    await t.rejects(browser.request({ url: `${edge.url}/x`, headers: { host: 'evil.test' } }), /cannot send host/);
  },
);

t.test('both HTTP/3 clients refuse a server whose certificate is not from the CA given', async (t) => {
  const dir = join(tmpdir(), `edge-other-ca-${process.pid}`);
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const other = await ensureDevCert({ dir });
  await t.rejects(
    h3Request({ url: `${edge.url}/health`, caCertPath: other.caCertPath }),
    /not signed by the given CA/,
    'gtlsclient path',
  );
  await t.rejects(
    h3Request({ url: `${edge.url}/health`, caCertPath: other.caCertPath, headers: { authorization: 'Bearer x' } }),
    /request failed/,
    'Chromium path',
  );
  await t.rejects(
    h3Request({ url: `${edge.url}/health`, caCertPath: edge.caCertPath, headers: { a: 'b' }, client: 'gtlsclient' }),
    /cannot send request headers/,
  );
});
