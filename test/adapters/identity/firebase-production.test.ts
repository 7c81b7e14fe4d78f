/**
 * The production path of the adapter: emulator mode OFF, RS256 signatures
 * checked by firebase-admin against certificates fetched from Google's URL.
 * No network: nock serves a locally generated certificate at that URL (and,
 * for admin tokens, Google's OAuth and user-lookup endpoints). Its own file
 * and process because firebase-admin reads FIREBASE_AUTH_EMULATOR_HOST from
 * the environment at call time.
 */
import nock from 'nock';
import t, { type Test } from 'tap';
import { parseFirebaseConfig } from '../../../adapters/identity/config.js';
import { createFirebaseIdentity, type FirebaseIdentity } from '../../../adapters/identity/firebase-identity.js';
import type { ErrorCode, Principal, Result } from '../../../protocol/index.js';
import {
  GOOGLE_CERTS_ORIGIN,
  GOOGLE_CERTS_PATH,
  hs256WithCert,
  idTokenClaims,
  makeSigningKey,
  signRs256,
  tamper,
  unsignedToken,
} from '../../support/google-certs.js';

delete process.env['FIREBASE_AUTH_EMULATOR_HOST'];
nock.disableNetConnect();
t.teardown(() => {
  nock.cleanAll();
  nock.enableNetConnect();
});

const PROJECT = 'demo-dispatch';
const key1 = makeSigningKey('key-1');
const key2 = makeSigningKey('key-2');
const serviceAccount = makeSigningKey('sa');
const config = parseFirebaseConfig({
  NODE_ENV: 'production',
  FIREBASE_PROJECT_ID: PROJECT,
  FIREBASE_SERVICE_ACCOUNT_KEY: JSON.stringify({
    type: 'service_account',
    project_id: PROJECT,
    client_email: `dispatch@${PROJECT}.iam.gserviceaccount.com`,
    private_key: serviceAccount.privateKeyPem,
  }),
});
t.equal(config.emulatorHost, undefined, 'production mode');

const JSON_HEADERS = { 'content-type': 'application/json; charset=UTF-8' };
const serveCerts = (times = 1, keys = [key1]): nock.Scope =>
  nock(GOOGLE_CERTS_ORIGIN)
    .get(GOOGLE_CERTS_PATH)
    .times(times)
    .reply(200, Object.fromEntries(keys.map((k) => [k.kid, k.certPem])), {
      ...JSON_HEADERS,
      'cache-control': 'public, max-age=19000, must-revalidate, no-transform',
    });

function verifier(t: Test): FirebaseIdentity {
  const v = createFirebaseIdentity(config);
  t.teardown(() => v.close());
  return v;
}
function expectCode(t: Test, res: Result<Principal>, code: ErrorCode, detail?: RegExp): void {
  t.equal(res.ok ? 'ok' : res.code, code);
  if (!res.ok && detail !== undefined) t.match(res.detail, detail);
}

t.test('correctly signed tokens pass; keys are fetched once and cached', async (t) => {
  const certs = serveCerts(1);
  const id = verifier(t);
  const res = await id.verify(signRs256(key1, idTokenClaims(PROJECT, 'cust-1')));
  t.match(res, {
    ok: true,
    value: { uid: 'cust-1', role: 'customer', customerId: 'cust-1', revocationChecked: false },
  });
  t.ok(certs.isDone(), 'the certificate URL was fetched');
  const again = await id.verify(
    signRs256(key1, idTokenClaims(PROJECT, 'rider-user', { role: 'rider', rider_id: 'rider-9' })),
  );
  t.match(again, { ok: true, value: { role: 'rider', riderId: 'rider-9' } }, 'second call served from the cache');
});

t.test('forged, tampered and misaddressed tokens fail', async (t) => {
  serveCerts(1, [key1]);
  const id = verifier(t);
  const good = signRs256(key1, idTokenClaims(PROJECT, 'cust-2'));
  t.ok((await id.verify(good)).ok, 'control: the untampered token passes');
  const cases: Array<[string, string, ErrorCode, RegExp?]> = [
    [
      'tampered payload',
      tamper(good, (c) => {
        c['sub'] = 'someone-else';
        c['user_id'] = 'someone-else';
      }),
      'AUTH_TOKEN_INVALID',
      /signature/,
    ],
    [
      'tampered role',
      tamper(good, (c) => {
        c['role'] = 'admin';
      }),
      'AUTH_TOKEN_INVALID',
      /signature/,
    ],
    [
      'wrong key, right kid',
      signRs256(key2, idTokenClaims(PROJECT, 'cust-2'), { kid: key1.kid }),
      'AUTH_TOKEN_INVALID',
      /signature/,
    ],
    ['wrong kid', signRs256(key2, idTokenClaims(PROJECT, 'cust-2')), 'AUTH_TOKEN_INVALID', /kid/],
    ['no kid', signRs256(key1, idTokenClaims(PROJECT, 'cust-2'), { kid: undefined }), 'AUTH_TOKEN_INVALID', /kid/],
    ['alg none', unsignedToken(idTokenClaims(PROJECT, 'cust-2')), 'AUTH_TOKEN_INVALID'],
    [
      'alg none with kid',
      unsignedToken(idTokenClaims(PROJECT, 'cust-2')).replace(
        /^[^.]+/,
        Buffer.from(JSON.stringify({ alg: 'none', kid: key1.kid })).toString('base64url'),
      ),
      'AUTH_TOKEN_INVALID',
      /algorithm/,
    ],
    [
      'HS256 keyed with the certificate',
      hs256WithCert(key1, idTokenClaims(PROJECT, 'cust-2')),
      'AUTH_TOKEN_INVALID',
      /algorithm/,
    ],
    [
      'expired',
      signRs256(
        key1,
        idTokenClaims(PROJECT, 'cust-2', { iat: 1_700_000_000, auth_time: 1_700_000_000, exp: 1_700_003_600 }),
      ),
      'AUTH_TOKEN_EXPIRED',
    ],
    [
      'wrong audience',
      signRs256(key1, idTokenClaims(PROJECT, 'cust-2', { aud: 'demo-other' })),
      'AUTH_TOKEN_INVALID',
      /"aud"/,
    ],
    [
      'wrong issuer',
      signRs256(key1, idTokenClaims(PROJECT, 'cust-2', { iss: 'https://securetoken.google.com/demo-other' })),
      'AUTH_TOKEN_INVALID',
      /"iss"/,
    ],
    [
      'issuer of another service',
      signRs256(key1, idTokenClaims(PROJECT, 'cust-2', { iss: 'https://accounts.google.com' })),
      'AUTH_TOKEN_INVALID',
      /"iss"/,
    ],
  ];
  for (const [name, token, code, detail] of cases) {
    const res = await id.verify(token);
    t.equal(res.ok ? 'ok' : res.code, code, name);
    if (!res.ok && detail !== undefined) t.match(res.detail, detail, `${name}: ${res.detail}`);
  }
});

t.test('verified email and phone are required here too', async (t) => {
  serveCerts(1);
  const id = verifier(t);
  expectCode(
    t,
    await id.verify(signRs256(key1, idTokenClaims(PROJECT, 'u3', { email_verified: false }))),
    'AUTH_EMAIL_UNVERIFIED',
  );
  expectCode(
    t,
    await id.verify(signRs256(key1, idTokenClaims(PROJECT, 'u3', { phone_number: undefined }))),
    'AUTH_PHONE_UNVERIFIED',
  );
});

t.test('an unreachable key endpoint fails closed', async (t) => {
  const token = signRs256(key1, idTokenClaims(PROJECT, 'cust-4'));
  const outages: Array<[string, () => void]> = [
    [
      'connection refused',
      () =>
        nock(GOOGLE_CERTS_ORIGIN)
          .get(GOOGLE_CERTS_PATH)
          .replyWithError({ code: 'ECONNREFUSED', message: 'connect ECONNREFUSED' }),
    ],
    [
      'server error',
      () => nock(GOOGLE_CERTS_ORIGIN).get(GOOGLE_CERTS_PATH).reply(500, { error: 'backend_error' }, JSON_HEADERS),
    ],
    [
      'not JSON',
      () =>
        nock(GOOGLE_CERTS_ORIGIN)
          .get(GOOGLE_CERTS_PATH)
          .reply(200, '<html>captive portal</html>', { 'content-type': 'text/html' }),
    ],
    ['no interceptor at all (no network)', () => undefined],
  ];
  for (const [name, arrange] of outages) {
    arrange();
    const id = createFirebaseIdentity(config);
    const res = await id.verify(token);
    await id.close();
    t.equal(res.ok ? 'ok' : res.code, 'AUTH_UNAVAILABLE', `${name}: 503, not a pass`);
  }
  nock.cleanAll();
});

// Admin tokens cost a user lookup: firebase-admin's checkRevoked plus our
// server-side role check. Serve Google's OAuth and accounts:lookup endpoints.
function serveAdminLookups(user: Record<string, unknown>, times: number): void {
  nock('https://oauth2.googleapis.com')
    .post('/token')
    .optionally()
    .times(times)
    .reply(200, { access_token: 'ya29.test', expires_in: 3600, token_type: 'Bearer' }, JSON_HEADERS);
  nock('https://identitytoolkit.googleapis.com')
    .post(
      `/v1/projects/${PROJECT}/accounts:lookup`,
      (body: { localId?: string[] }) => body.localId?.[0] === user['localId'],
    )
    .times(times)
    .reply(200, { kind: 'identitytoolkit#GetAccountInfoResponse', users: [user] }, JSON_HEADERS);
}

t.test('admin tokens are checked for revocation and role server-side', async (t) => {
  serveCerts(1);
  const id = verifier(t);
  const claims = idTokenClaims(PROJECT, 'ops-1', { role: 'admin' });
  const token = signRs256(key1, claims);
  const authTime = claims['auth_time'] as number;
  const account = {
    localId: 'ops-1',
    email: 'ops-1@example.test',
    emailVerified: true,
    customAttributes: '{"role":"admin"}',
    validSince: String(authTime - 100),
  };

  serveAdminLookups(account, 2);
  t.match(await id.verify(token), { ok: true, value: { role: 'admin', revocationChecked: true } });

  serveAdminLookups({ ...account, customAttributes: '{}' }, 2);
  expectCode(t, await id.verify(token), 'AUTH_TOKEN_REVOKED', /admin role was removed/);

  serveAdminLookups({ ...account, validSince: String(authTime + 5) }, 1);
  expectCode(t, await id.verify(token), 'AUTH_TOKEN_REVOKED');

  serveAdminLookups({ ...account, disabled: true }, 1);
  expectCode(t, await id.verify(token), 'AUTH_USER_DISABLED');

  nock('https://oauth2.googleapis.com')
    .post('/token')
    .optionally()
    .reply(200, { access_token: 'ya29.test', expires_in: 3600, token_type: 'Bearer' }, JSON_HEADERS);
  nock('https://identitytoolkit.googleapis.com')
    .post(`/v1/projects/${PROJECT}/accounts:lookup`)
    .replyWithError({ code: 'ECONNREFUSED', message: 'connect ECONNREFUSED' });
  expectCode(t, await id.verify(token), 'AUTH_UNAVAILABLE');
  nock.cleanAll();
});
