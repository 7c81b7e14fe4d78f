/**
 * The production path through firebase-admin's own HTTP code: emulator mode
 * off, the key endpoint fetched over real HTTPS from the local stand-in
 * (test/support/local-google.ts) through the adapter's `httpAgent`, as the
 * benchmark's server does. Nothing of firebase-admin is mocked or intercepted.
 * Its own process: firebase-admin reads FIREBASE_AUTH_EMULATOR_HOST at call time.
 */
import type { Credential } from 'firebase-admin/app';
import t, { type Test } from 'tap';
import { parseFirebaseConfig } from '../../../adapters/identity/config.js';
import { createFirebaseIdentity, type FirebaseIdentity } from '../../../adapters/identity/firebase-identity.js';
import { idTokenClaims, makeSigningKey, signRs256 } from '../../support/google-certs.js';
import { localGoogleAgent, startLocalGoogle } from '../../support/local-google.js';

delete process.env['FIREBASE_AUTH_EMULATOR_HOST'];
const PROJECT = 'demo-dispatch';
const key = makeSigningKey('local-1');
const other = makeSigningKey('other-1');
const config = parseFirebaseConfig({ NODE_ENV: 'production', FIREBASE_PROJECT_ID: PROJECT });
t.equal(config.emulatorHost, undefined, 'production mode: signatures are checked');

const google = await startLocalGoogle({ projectId: PROJECT, keys: [key] });
t.teardown(() => google.close());

function verifier(t: Test, opts: { credential?: Credential } = {}): FirebaseIdentity {
  const v = createFirebaseIdentity(config, { httpAgent: google.agent, ...opts });
  t.teardown(() => v.close());
  return v;
}

t.test('a locally signed token passes; the keys come over HTTPS once and are cached', async (t) => {
  const before = google.requests.certs;
  const id = verifier(t);
  const rider = signRs256(key, idTokenClaims(PROJECT, 'rider-user', { role: 'rider', rider_id: 'rider-7' }));
  t.match(await id.verify(rider), {
    ok: true,
    value: { uid: 'rider-user', role: 'rider', riderId: 'rider-7', revocationChecked: false },
  });
  t.match(await id.verify(signRs256(key, idTokenClaims(PROJECT, 'cust-1'))), {
    ok: true,
    value: { role: 'customer', customerId: 'cust-1' },
  });
  t.equal(google.requests.certs - before, 1, 'one fetch of the key endpoint for two tokens');
  t.equal(google.requests.lookup, 0, 'no user lookup without checkRevoked');
});

t.test('forged, expired and misaddressed tokens fail', async (t) => {
  const id = verifier(t);
  const cases: Array<[string, string, string, RegExp]> = [
    [
      'signed by another key under our kid',
      signRs256(other, idTokenClaims(PROJECT, 'cust-2'), { kid: key.kid }),
      'AUTH_TOKEN_INVALID',
      /signature/,
    ],
    [
      'signed by a key the endpoint does not list',
      signRs256(other, idTokenClaims(PROJECT, 'cust-2')),
      'AUTH_TOKEN_INVALID',
      /kid/,
    ],
    [
      'expired',
      signRs256(
        key,
        idTokenClaims(PROJECT, 'cust-2', { iat: 1_700_000_000, auth_time: 1_700_000_000, exp: 1_700_003_600 }),
      ),
      'AUTH_TOKEN_EXPIRED',
      /expired/,
    ],
    [
      'wrong audience',
      signRs256(key, idTokenClaims(PROJECT, 'cust-2', { aud: 'demo-other' })),
      'AUTH_TOKEN_INVALID',
      /"aud"/,
    ],
  ];
  for (const [name, token, code, detail] of cases) {
    const res = await id.verify(token);
    t.equal(res.ok ? 'ok' : res.code, code, name);
    if (!res.ok) t.match(res.detail, detail, `${name}: ${res.detail}`);
  }
});

t.test('the agent trusts only the run CA and serves only Google hosts', async (t) => {
  const stranger = await startLocalGoogle({ projectId: PROJECT, keys: [key] });
  t.teardown(() => stranger.close());
  // The route to the stranger with our CA: its certificate was issued by another CA.
  const id = createFirebaseIdentity(config, { httpAgent: localGoogleAgent(stranger.port, google.caPem) });
  t.teardown(() => id.close());
  const res = await id.verify(signRs256(key, idTokenClaims(PROJECT, 'cust-3')));
  t.equal(res.ok ? 'ok' : res.code, 'AUTH_UNAVAILABLE', 'an untrusted key endpoint fails closed');
  t.equal(stranger.requests.certs, 0, 'no request got through the TLS check');
  t.throws(() => google.agent.createConnection({ host: 'example.com', servername: 'example.com', port: 443 }), {
    message: /does not serve example\.com/,
  });
});

t.test('admin tokens: revocation and role are looked up through the agent', async (t) => {
  // firebase-admin 13 sends a service account's OAuth request past httpAgent; this credential needs none.
  const credential: Credential = {
    getAccessToken: () => Promise.resolve({ access_token: 'ya29.local-test', expires_in: 3600 }),
  };
  const id = verifier(t, { credential });
  const claims = idTokenClaims(PROJECT, 'ops-1', { role: 'admin' });
  const token = signRs256(key, claims);
  const authTime = claims['auth_time'] as number;
  const account = {
    localId: 'ops-1',
    email: 'ops-1@example.test',
    emailVerified: true,
    customAttributes: '{"role":"admin"}',
    validSince: String(authTime - 100),
  };
  const lookups = google.requests.lookup;
  google.accounts.set('ops-1', account);
  t.match(await id.verify(token), { ok: true, value: { role: 'admin', revocationChecked: true } });
  t.equal(google.requests.lookup - lookups, 2, 'checkRevoked and the server-side role check');

  google.accounts.set('ops-1', { ...account, validSince: String(authTime + 5) });
  const revoked = await id.verify(token);
  t.equal(revoked.ok ? 'ok' : revoked.code, 'AUTH_TOKEN_REVOKED', 'refresh tokens revoked after sign-in');

  google.accounts.set('ops-1', { ...account, customAttributes: '{}' });
  const demoted = await id.verify(token);
  t.equal(demoted.ok ? 'ok' : demoted.code, 'AUTH_TOKEN_REVOKED', 'admin role removed');

  const before = google.requests.lookup;
  t.ok((await id.verify(signRs256(key, idTokenClaims(PROJECT, 'cust-4')))).ok, 'a customer token');
  t.equal(google.requests.lookup, before, 'a customer token costs no lookup');
  google.accounts.delete('ops-1');
});
