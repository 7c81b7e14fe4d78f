/**
 * CachingIdentity over the firebase-admin adapter and the real Auth emulator,
 * as the server composes them: a real token is verified by firebase-admin
 * once and then served from memory, and what that means for a disabled,
 * revoked or deleted account (docs/identity.md, "Caching").
 */
import t, { type Test } from 'tap';
import { CachingIdentity } from '../../../adapters/identity/caching-identity.js';
import { parseFirebaseConfig } from '../../../adapters/identity/config.js';
import { createFirebaseIdentity, type FirebaseIdentity } from '../../../adapters/identity/firebase-identity.js';
import { systemClock } from '../../../adapters/system-clock.js';
import type { ErrorCode, Principal, Result } from '../../../protocol/index.js';
import { EMULATOR_HOST, useAuthEmulator } from '../../support/firebase-emulator.js';
import { makeUser, nextSecond, signIn } from '../../support/firebase-users.js';

// Set before any firebase-admin app exists: firebase-admin reads it at call time.
process.env['FIREBASE_AUTH_EMULATOR_HOST'] = EMULATOR_HOST;
await useAuthEmulator(t);

const firebase: FirebaseIdentity = createFirebaseIdentity(parseFirebaseConfig({ NODE_ENV: 'test' }));
t.teardown(() => firebase.close());
const auth = firebase.auth;

// Every token firebase-admin is asked to verify, with the revocation flag it got.
const seen: { token: string; checkRevoked: boolean }[] = [];
const original = auth.verifyIdToken.bind(auth);
auth.verifyIdToken = (token, checkRevoked) => {
  seen.push({ token, checkRevoked: checkRevoked === true });
  return original(token, checkRevoked);
};
const verified = (token: string) => seen.filter((s) => s.token === token);

function expectCode(t: Test, res: Result<Principal>, code: ErrorCode | 'ok'): void {
  t.equal(res.ok ? 'ok' : res.code, code);
}

t.test('a real token is verified by firebase-admin once, then served from the cache', async (t) => {
  const id = new CachingIdentity(firebase, { clock: systemClock });
  const u = await makeUser(auth, { label: 'cached', claims: { role: 'rider', rider_id: 'rider-cache-1' } });
  const first = await id.verify(u.token);
  t.match(first, {
    ok: true,
    value: { uid: u.uid, role: 'rider', riderId: 'rider-cache-1', revocationChecked: false },
  });
  for (let i = 0; i < 4; i++) t.same(await id.verify(u.token), first);
  t.equal(verified(u.token).length, 1, 'one verification for five calls');
  t.match(id.stats, { hits: 4, misses: 1 });
  const other = await makeUser(auth, { label: 'cached2' });
  t.match(await id.verify(other.token), { ok: true, value: { uid: other.uid } }, 'another token is its own entry');
  t.equal(verified(other.token).length, 1);
});

t.test('a disabled user: served until checkRevoked is asked, refused from then on', async (t) => {
  const id = new CachingIdentity(firebase, { clock: systemClock });
  const u = await makeUser(auth, { label: 'disabled' });
  expectCode(t, await id.verify(u.token), 'ok');
  await auth.updateUser(u.uid, { disabled: true });
  // The documented consequence: the firebase adapter alone refuses at once (emulator mode looks the user up
  // on every call), the cache serves the token until it expires.
  expectCode(t, await firebase.verify(u.token), 'AUTH_USER_DISABLED');
  expectCode(t, await id.verify(u.token), 'ok');
  expectCode(t, await id.verify(u.token, { checkRevoked: true }), 'AUTH_USER_DISABLED');
  expectCode(t, await id.verify(u.token), 'AUTH_USER_DISABLED');
  t.same(
    verified(u.token).map((s) => s.checkRevoked),
    [false, false, true, false],
    'the refusal dropped the entry: the next plain call reached firebase-admin',
  );
});

t.test('revoked refresh tokens: served until checkRevoked is asked', async (t) => {
  const id = new CachingIdentity(firebase, { clock: systemClock });
  const u = await makeUser(auth, { label: 'revoked' });
  expectCode(t, await id.verify(u.token), 'ok');
  await nextSecond();
  await auth.revokeRefreshTokens(u.uid);
  expectCode(t, await id.verify(u.token), 'ok');
  expectCode(t, await id.verify(u.token, { checkRevoked: true }), 'AUTH_TOKEN_REVOKED');
  expectCode(t, await id.verify(u.token), 'AUTH_TOKEN_REVOKED');
  await nextSecond();
  const fresh = await signIn(u.email);
  expectCode(t, await id.verify(fresh), 'ok');
  expectCode(t, await id.verify(fresh), 'ok');
  t.equal(verified(fresh).length, 1, 'the new sign-in is cached again');
});

t.test('a deleted user: a checked call refuses it and empties its entry', async (t) => {
  const id = new CachingIdentity(firebase, { clock: systemClock });
  const u = await makeUser(auth, { label: 'deleted' });
  expectCode(t, await id.verify(u.token), 'ok');
  await auth.deleteUser(u.uid);
  expectCode(t, await id.verify(u.token, { checkRevoked: true }), 'AUTH_TOKEN_REVOKED');
  t.equal(id.entries, 0);
});

t.test('admin tokens reach firebase-admin every time, checked, and a removed admin is refused at once', async (t) => {
  const id = new CachingIdentity(firebase, { clock: systemClock });
  const a = await makeUser(auth, { label: 'admin', claims: { role: 'admin' } });
  for (let i = 0; i < 3; i++)
    t.match(await id.verify(a.token), { ok: true, value: { role: 'admin', revocationChecked: true } });
  t.same(
    verified(a.token).map((s) => s.checkRevoked),
    [true, true, true],
  );
  t.equal(id.entries, 0);
  await auth.setCustomUserClaims(a.uid, null);
  expectCode(t, await id.verify(a.token), 'AUTH_TOKEN_REVOKED');
});

t.test('malformed tokens and a changed emulator variable: the same refusals as without the cache', async (t) => {
  const id = new CachingIdentity(firebase, { clock: systemClock });
  for (const bad of ['', 'not-a-jwt', 'a.b.c', 'x'.repeat(10_000)])
    t.same(await id.verify(bad), await firebase.verify(bad));
  const u = await makeUser(auth, { label: 'drift' });
  expectCode(t, await id.verify(u.token), 'ok');
  process.env['FIREBASE_AUTH_EMULATOR_HOST'] = '127.0.0.1:1';
  t.teardown(() => void (process.env['FIREBASE_AUTH_EMULATOR_HOST'] = EMULATOR_HOST));
  expectCode(t, await id.verify(u.token), 'AUTH_UNAVAILABLE');
});
