/**
 * Methods over the real server, direct and behind Caddy (edge/Caddyfile).
 * The gateway's parser (uWS 20.30) drops the connection on a method outside
 * RFC 9110's nine before our code runs, so the edge answers those with a 501
 * problem body; the nine are the gateway's (405 with Allow, or 404).
 */
import { request } from 'node:https';
import { readFile } from 'node:fs/promises';
import t from 'tap';
import { startCaddy } from '../support/caddy.js';
import { api, startTestServer } from '../support/rest-server.js';

const { url } = await startTestServer(t, { label: 'methods' });
const caddy = await startCaddy({ upstream: url, t });
const ca = await readFile(caddy.caCertPath);

/** One HTTPS request through the edge with any method token. */
function edge(method: string, path: string): Promise<{ status: number; type: string; body: any }> {
  return new Promise((resolve, reject) => {
    const req = request(`${caddy.url}${path}`, { method, ca }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => {
        let body: unknown = text;
        try {
          body = JSON.parse(text);
        } catch {
          /* left as text */
        }
        resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

t.test('unknown methods through the edge: 501 METHOD_NOT_IMPLEMENTED, never a 5xx from the gateway', async (t) => {
  for (const m of ['FOO', 'PROPFIND', 'PURGE', 'BREW']) {
    const r = await edge(m, '/health');
    t.equal(r.status, 501, `${m}: ${JSON.stringify(r.body)}`);
    t.equal(r.body.code, 'METHOD_NOT_IMPLEMENTED');
    t.match(r.type, /application\/problem\+json/);
  }
});

t.test('the nine methods reach the gateway: 405 with Allow on a known path, 404 elsewhere', async (t) => {
  for (const m of ['DELETE', 'PATCH', 'OPTIONS']) {
    const r = await api(url, m, '/health');
    t.equal(r.status, 405, `direct ${m}`);
    t.equal(r.body.code, 'METHOD_NOT_ALLOWED');
    t.equal(r.headers.get('allow'), 'GET');
    const e = await edge(m, '/orders/x');
    t.equal(e.status, 405, `edge ${m}`);
    t.equal(e.body.code, 'METHOD_NOT_ALLOWED');
  }
  const nf = await edge('DELETE', '/nowhere');
  t.equal(nf.status, 404);
  t.equal(nf.body.code, 'ROUTE_NOT_FOUND');
  const ok = await edge('GET', '/health');
  t.equal(ok.status, 200, 'ordinary requests pass');
});
