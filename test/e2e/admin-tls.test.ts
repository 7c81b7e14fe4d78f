import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { credentials, status, type ServiceError } from '@grpc/grpc-js';
import t from 'tap';
import { adminClientClass } from '../../adapters/admin/admin-proto.js';
import { ensureDevCert } from '../../scripts/edge/dev-cert.js';
import { makeCast, startTestServer } from '../support/rest-server.js';

/** With a certificate configured the admin port speaks TLS only: the console trusts the CA, plaintext fails. */

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const cert = await ensureDevCert({ dir: mkdtempSync(join(tmpdir(), 'admin-tls-')) });
const ts = await startTestServer(t, {
  label: 'admintls',
  env: { ADMIN_TLS_CERT: cert.certPath, ADMIN_TLS_KEY: cert.keyPath },
});
const cast = await makeCast(ts.auth);
const port = ts.server.admin!.port;

t.test('TLS with the CA; plaintext refused', async (t) => {
  t.equal(ts.server.admin!.tls, true);
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--import', 'tsx', 'scripts/admin.ts', 'shards', '--json', '--tls'],
    {
      cwd: ROOT,
      env: {
        PATH: process.env['PATH'] ?? '',
        ADMIN_GRPC_ADDR: `localhost:${port}`,
        ADMIN_TLS_CA: cert.caCertPath,
        ADMIN_TOKEN: cast.admin.token,
      },
      timeout: 60_000,
    },
  );
  t.ok(Array.isArray(JSON.parse(stdout).shards), 'the console over TLS');

  const Client = adminClientClass();
  const tls = new Client(`localhost:${port}`, credentials.createSsl(readFileSync(cert.caCertPath)));
  const plain = new Client(`127.0.0.1:${port}`, credentials.createInsecure());
  t.teardown(() => {
    tls.close();
    plain.close();
  });
  const ask = (c: InstanceType<typeof Client>) =>
    new Promise<ServiceError | null>((resolve) =>
      (c as unknown as { ShardStats(r: object, o: object, cb: (e: ServiceError | null) => void): void }).ShardStats(
        {},
        { deadline: Date.now() + 5_000 },
        (err) => resolve(err),
      ),
    );
  t.match(await ask(tls), { code: status.UNAUTHENTICATED }, 'TLS reaches the service (and asks for a token)');
  const err = await ask(plain);
  t.ok(err !== null && err.code !== status.UNAUTHENTICATED, `plaintext never reaches it (${err?.code})`);
});
