/** The dev CA and server certificate: made with openssl, reused while good, renewed when not. */
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { covers, ensureDevCert } from '../../scripts/edge/dev-cert.js';

const DAY = 24 * 3600 * 1000;

async function tempDir(tt: { teardown(fn: () => unknown): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'dev-cert-'));
  tt.teardown(() => rm(dir, { recursive: true, force: true }));
  return join(dir, 'certs');
}

t.test('makes a CA and a server certificate for localhost, 127.0.0.1 and ::1, signed by it', async (t) => {
  const c = await ensureDevCert({ dir: await tempDir(t) });
  t.equal(c.action, 'issued-ca-and-server');
  const ca = new X509Certificate(await readFile(c.caCertPath));
  const server = new X509Certificate(await readFile(c.certPath));
  t.ok(ca.ca, 'the CA is a CA');
  t.notOk(server.ca, 'the server certificate is not');
  t.ok(server.checkIssued(ca) && server.verify(ca.publicKey), 'signed by the CA');
  for (const h of ['localhost', '127.0.0.1', '::1']) t.ok(covers(server, h), `names ${h}`);
  t.notOk(covers(server, 'example.com'));
  t.match(server.keyUsage ?? [], ['1.3.6.1.5.5.7.3.1'], 'serverAuth');
  const days = (Date.parse(server.validTo) - Date.now()) / DAY;
  t.ok(days > 390 && days <= 398, `at most 398 days (${days.toFixed(1)})`);
  t.equal((await stat(c.keyPath)).mode & 0o777, 0o600, 'the key is private');
  t.equal((await stat(c.caKeyPath)).mode & 0o777, 0o600);
});

t.test('is idempotent: a second call reuses both files untouched', async (t) => {
  const dir = await tempDir(t);
  const first = await ensureDevCert({ dir });
  const before = await Promise.all([first.caCertPath, first.certPath, first.keyPath].map((p) => readFile(p)));
  const again = await ensureDevCert({ dir });
  t.equal(again.action, 'reused');
  const after = await Promise.all([again.caCertPath, again.certPath, again.keyPath].map((p) => readFile(p)));
  t.same(after, before);
});

t.test('renews only the server certificate when it nears expiry, keeping the (maybe trusted) CA', async (t) => {
  const dir = await tempDir(t);
  const first = await ensureDevCert({ dir });
  const ca = await readFile(first.caCertPath);
  const server = await readFile(first.certPath);
  const later = new Date(Date.now() + 380 * DAY); // under 30 days left on the server certificate
  const renewed = await ensureDevCert({ dir, now: later });
  t.equal(renewed.action, 'issued-server');
  t.same(await readFile(renewed.caCertPath), ca, 'same CA');
  t.not((await readFile(renewed.certPath)).toString(), server.toString(), 'new server certificate');
});

t.test('renews the server certificate for new names, a broken key, or a missing file', async (t) => {
  const dir = await tempDir(t);
  const first = await ensureDevCert({ dir });
  const more = await ensureDevCert({ dir, hosts: ['dispatch.test', '10.0.0.7'] });
  t.equal(more.action, 'issued-server');
  const cert = new X509Certificate(await readFile(more.certPath));
  t.ok(covers(cert, 'dispatch.test') && covers(cert, '10.0.0.7') && covers(cert, 'localhost'));

  await writeFile(first.keyPath, 'not a key');
  t.equal((await ensureDevCert({ dir })).action, 'issued-server', 'a key that does not match is replaced');
  await rm(first.certPath);
  t.equal((await ensureDevCert({ dir })).action, 'issued-server');
  t.equal((await ensureDevCert({ dir })).action, 'reused');
});

t.test('makes a new CA when the CA is missing or expiring', async (t) => {
  const dir = await tempDir(t);
  const first = await ensureDevCert({ dir });
  t.equal((await ensureDevCert({ dir, now: new Date(Date.now() + 1800 * DAY) })).action, 'issued-ca-and-server');
  await rm(first.caKeyPath);
  t.equal((await ensureDevCert({ dir })).action, 'issued-ca-and-server');
});
