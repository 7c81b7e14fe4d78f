/**
 * The firebase-admin adapter against the real Auth emulator: real users, real
 * claims, real ID tokens. Emulator mode: firebase-admin skips signatures here
 * (see firebase-production.test.ts for those) but checks revocation and the
 * disabled flag on every call.
 */
import t, { type Test } from 'tap';
import { parseFirebaseConfig } from '../../../adapters/identity/config.js';
import { createFirebaseIdentity, type FirebaseIdentity } from '../../../adapters/identity/firebase-identity.js';
import type { ErrorCode, Principal, Result } from '../../../protocol/index.js';
import { EMULATOR_HOST, useAuthEmulator } from '../../support/firebase-emulator.js';
import { makeUser, nextSecond, rewritePayload, signIn } from '../../support/firebase-users.js';

// Set before any firebase-admin app exists: firebase-admin reads it at call time.
process.env['FIREBASE_AUTH_EMULATOR_HOST'] = EMULATOR_HOST;
await useAuthEmulator(t);

const config = parseFirebaseConfig({ NODE_ENV: 'test' });
const id: FirebaseIdentity = createFirebaseIdentity(config);
t.teardown(() => id.close());
const auth = id.auth;

function expectCode(t: Test, res: Result<Principal>, code: ErrorCode, detail?: RegExp): void {
  t.equal(res.ok ? 'ok' : res.code, code);
  if (!res.ok && detail !== undefined) t.match(res.detail, detail);
}

t.test('a verified customer becomes a customer principal', async (t) => {
  const u = await makeUser(auth, { label: 'cust' });
  const res = await id.verify(u.token);
  if (!res.ok) return t.fail(res.detail);
  t.match(res.value, {
    uid: u.uid,
    role: 'customer',
    customerId: u.uid,
    email: u.email,
    phone: u.phone,
    revocationChecked: false,
  });
  t.ok(
    res.value.expiresAt > Date.now() && res.value.expiresAt <= Date.now() + 3_600_000 + 60_000,
    'expiry is the token exp, in ms',
  );
});

t.test('restaurant, rider and admin roles come from custom claims', async (t) => {
  const r = await makeUser(auth, { label: 'rest', claims: { role: 'restaurant', restaurant_id: 'rest-42' } });
  const d = await makeUser(auth, { label: 'rider', claims: { role: 'rider', rider_id: 'rider-7' } });
  const a = await makeUser(auth, { label: 'admin', claims: { role: 'admin' } });
  const [rr, dr, ar] = await Promise.all([id.verify(r.token), id.verify(d.token), id.verify(a.token)]);
  t.match(rr, { ok: true, value: { role: 'restaurant', restaurantId: 'rest-42' } });
  t.match(dr, { ok: true, value: { role: 'rider', riderId: 'rider-7' } });
  t.match(ar, { ok: true, value: { role: 'admin', revocationChecked: true } });
  t.notOk(rr.ok && 'customerId' in rr.value, 'a restaurant is no customer');
});

t.test('checkRevoked is passed for admins whatever the caller asked', async (t) => {
  const a = await makeUser(auth, { label: 'admin', claims: { role: 'admin' } });
  const c = await makeUser(auth, { label: 'cust' });
  const seen: boolean[] = [];
  const original = auth.verifyIdToken.bind(auth);
  auth.verifyIdToken = (token, checkRevoked) => (seen.push(checkRevoked === true), original(token, checkRevoked));
  t.teardown(() => void (auth.verifyIdToken = original));
  await id.verify(a.token);
  await id.verify(c.token);
  await id.verify(c.token, { checkRevoked: true });
  t.same(seen, [true, false, true]);
});

t.test('missing and malformed tokens', async (t) => {
  expectCode(t, await id.verify(''), 'AUTH_TOKEN_MISSING');
  expectCode(t, await id.verify('   '), 'AUTH_TOKEN_MISSING');
  expectCode(t, await id.verify('not-a-jwt'), 'AUTH_TOKEN_INVALID');
  expectCode(t, await id.verify('a.b.c'), 'AUTH_TOKEN_INVALID');
  expectCode(t, await id.verify('x'.repeat(10_000)), 'AUTH_TOKEN_INVALID');
});

t.test('expired, wrong audience and wrong issuer', async (t) => {
  const u = await makeUser(auth, { label: 'claims' });
  const now = Math.floor(Date.now() / 1000);
  const expired = rewritePayload(u.token, (p) => {
    p['iat'] = now - 7200;
    p['exp'] = now - 3600;
  });
  expectCode(t, await id.verify(expired), 'AUTH_TOKEN_EXPIRED', /expired/);
  const aud = rewritePayload(u.token, (p) => {
    p['aud'] = 'demo-someone-else';
  });
  expectCode(t, await id.verify(aud), 'AUTH_TOKEN_INVALID', /"aud"/);
  const iss = rewritePayload(u.token, (p) => {
    p['iss'] = 'https://securetoken.google.com/demo-someone-else';
  });
  expectCode(t, await id.verify(iss), 'AUTH_TOKEN_INVALID', /"iss"/);
  const noSub = rewritePayload(u.token, (p) => {
    p['sub'] = '';
  });
  expectCode(t, await id.verify(noSub), 'AUTH_TOKEN_INVALID', /"sub"/);
});

t.test("a second project side by side refuses this project's tokens", async (t) => {
  const other = createFirebaseIdentity(
    parseFirebaseConfig({ NODE_ENV: 'test', FIREBASE_PROJECT_ID: 'demo-elsewhere' }),
  );
  t.teardown(() => other.close());
  const u = await makeUser(auth, { label: 'proj' });
  expectCode(t, await other.verify(u.token), 'AUTH_TOKEN_INVALID', /demo-elsewhere/);
  t.ok((await id.verify(u.token)).ok, 'the first verifier still works');
});

t.test('email and phone must be verified, and the error says which', async (t) => {
  const unverified = await makeUser(auth, { label: 'unverified', emailVerified: false });
  expectCode(t, await id.verify(unverified.token), 'AUTH_EMAIL_UNVERIFIED', /email .* is not verified$/);
  const noPhone = await makeUser(auth, { label: 'nophone', phone: false });
  expectCode(t, await id.verify(noPhone.token), 'AUTH_PHONE_UNVERIFIED', /phone number/);
  const neither = await makeUser(auth, { label: 'neither', emailVerified: false, phone: false });
  expectCode(t, await id.verify(neither.token), 'AUTH_EMAIL_UNVERIFIED', /phone number is missing too/);
  const anonymous = await makeUser(auth, { noEmail: true });
  expectCode(t, await id.verify(anonymous.token), 'AUTH_EMAIL_UNVERIFIED', /no email address/);
});

t.test('bad role claims are refused', async (t) => {
  const unknown = await makeUser(auth, { label: 'weird', claims: { role: 'superuser' } });
  expectCode(t, await id.verify(unknown.token), 'AUTH_ROLE_FORBIDDEN', /superuser/);
  const noRestaurant = await makeUser(auth, { label: 'norest', claims: { role: 'restaurant' } });
  expectCode(t, await id.verify(noRestaurant.token), 'AUTH_ROLE_FORBIDDEN', /restaurant_id/);
  const badRider = await makeUser(auth, {
    label: 'badrider',
    claims: { role: 'rider', rider_id: 'no spaces allowed' },
  });
  expectCode(t, await id.verify(badRider.token), 'AUTH_ROLE_FORBIDDEN', /rider_id/);
});

t.test('a disabled user is refused at once', async (t) => {
  const u = await makeUser(auth, { label: 'disabled' });
  t.ok((await id.verify(u.token)).ok);
  await auth.updateUser(u.uid, { disabled: true });
  expectCode(t, await id.verify(u.token), 'AUTH_USER_DISABLED');
});

t.test('a deleted user is refused', async (t) => {
  const u = await makeUser(auth, { label: 'deleted' });
  await auth.deleteUser(u.uid);
  expectCode(t, await id.verify(u.token, { checkRevoked: true }), 'AUTH_TOKEN_REVOKED');
});

t.test('revoked refresh tokens revoke the ID token; a new sign-in works again', async (t) => {
  const u = await makeUser(auth, { label: 'revoked' });
  await nextSecond();
  await auth.revokeRefreshTokens(u.uid);
  expectCode(t, await id.verify(u.token, { checkRevoked: true }), 'AUTH_TOKEN_REVOKED');
  await nextSecond();
  t.ok((await id.verify(await signIn(u.email), { checkRevoked: true })).ok);
});

t.test('a removed admin loses access at once, before the token expires', async (t) => {
  const a = await makeUser(auth, { label: 'exadmin', claims: { role: 'admin' } });
  t.ok((await id.verify(a.token)).ok);
  // Only the claim changes: no refresh-token revocation, the token is unexpired.
  await auth.setCustomUserClaims(a.uid, null);
  expectCode(t, await id.verify(a.token), 'AUTH_TOKEN_REVOKED', /admin role was removed/);
  const fresh = await id.verify(await signIn(a.email));
  t.match(fresh, { ok: true, value: { role: 'customer' } }, 'a new token carries the new role');
});

t.test('an admin whose tokens were revoked is refused', async (t) => {
  const a = await makeUser(auth, { label: 'revadmin', claims: { role: 'admin' } });
  await nextSecond();
  await auth.revokeRefreshTokens(a.uid);
  expectCode(t, await id.verify(a.token), 'AUTH_TOKEN_REVOKED');
});

t.test('the emulator variable changed at run time fails closed', async (t) => {
  const u = await makeUser(auth, { label: 'drift' });
  process.env['FIREBASE_AUTH_EMULATOR_HOST'] = '127.0.0.1:1';
  t.teardown(() => void (process.env['FIREBASE_AUTH_EMULATOR_HOST'] = EMULATOR_HOST));
  expectCode(t, await id.verify(u.token), 'AUTH_UNAVAILABLE', /changed at run time/);
  t.throws(() => createFirebaseIdentity(config), { name: 'FirebaseConfigError' });
});
