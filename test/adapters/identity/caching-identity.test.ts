/**
 * CachingIdentity on a simulated clock, over a scripted inner verifier: what
 * it serves from memory, for how long, and what always reaches the inner
 * verifier. The real firebase-admin path is in caching-identity-emulator.test.ts.
 */
import t from 'tap';
import { CachingIdentity, type ScreeningVerifier } from '../../../adapters/identity/caching-identity.js';
import { parseFirebaseConfig } from '../../../adapters/identity/config.js';
import { createFirebaseIdentity } from '../../../adapters/identity/firebase-identity.js';
import type { VerifyOptions } from '../../../engine/ports/identity.js';
import { SimulatedClock } from '../../../engine/index.js';
import {
  parseCustomerId,
  reject,
  type Principal,
  type Rejection,
  type Result,
  type Role,
} from '../../../protocol/index.js';

const HOUR = 3_600_000;

/** Answers from a table, counts calls, screens like the firebase adapter (empty, oversize, drift). */
class ScriptedVerifier implements ScreeningVerifier {
  readonly answers = new Map<string, Result<Principal>>();
  readonly calls: { token: string; checkRevoked: boolean }[] = [];
  drift = false;
  /** When set, unchecked calls answer only once it resolves (with the answer of when they were made). */
  gate: Promise<void> | undefined;

  screen(token: string): Rejection | undefined {
    if (token.trim() === '') return reject('AUTH_TOKEN_MISSING', 'no bearer token was given');
    if (token.length > 8192) return reject('AUTH_TOKEN_INVALID', 'token longer than 8192 characters');
    if (this.drift) return reject('AUTH_UNAVAILABLE', 'identity misconfigured');
    return undefined;
  }

  verify(token: string, opts: VerifyOptions = {}): Promise<Result<Principal>> {
    this.calls.push({ token, checkRevoked: opts.checkRevoked === true });
    const screened = this.screen(token);
    if (screened !== undefined) return Promise.resolve(screened);
    const answer = this.answers.get(token) ?? reject('AUTH_TOKEN_INVALID', 'unknown token');
    const gate = opts.checkRevoked === true ? undefined : this.gate;
    return gate ? gate.then(() => answer) : Promise.resolve(answer);
  }

  callsFor(token: string): number {
    return this.calls.filter((c) => c.token === token).length;
  }
}

function principal(uid: string, expiresAt: number, role: Role = 'customer', revocationChecked = false): Principal {
  const base = { uid, role, email: `${uid}@example.test`, phone: '+919000000000', expiresAt, revocationChecked };
  return role === 'customer' ? { ...base, customerId: parseCustomerId(uid)! } : base;
}

function setup(size?: number) {
  const clock = new SimulatedClock();
  const inner = new ScriptedVerifier();
  const cache = new CachingIdentity(inner, { clock, ...(size !== undefined ? { size } : {}) });
  const issue = (token: string, p: Principal) => inner.answers.set(token, { ok: true, value: p });
  return { clock, inner, cache, issue };
}

t.test('a second verification of the same token is served from the cache', async (t) => {
  const { clock, inner, cache, issue } = setup();
  issue('tok-a', principal('cust-a', clock.now() + HOUR));
  const first = await cache.verify('tok-a');
  const second = await cache.verify('tok-a');
  t.match(first, { ok: true, value: { uid: 'cust-a', role: 'customer' } });
  t.same(second, first);
  t.equal(inner.callsFor('tok-a'), 1, 'verified once');
  t.match(cache.stats, { hits: 1, misses: 1, bypassed: 0 });
  t.equal(cache.size, 50_000, 'production default');
  t.ok(second.ok && Object.isFrozen(second.value), 'a shared principal cannot be changed by one caller');
});

t.test('a hit is served only while now < expiresAt', async (t) => {
  const { clock, inner, cache, issue } = setup();
  const expiresAt = clock.now() + 1000;
  issue('tok-b', principal('cust-b', expiresAt));
  t.ok((await cache.verify('tok-b')).ok);
  clock.advance(999);
  t.ok((await cache.verify('tok-b')).ok, '1 ms before expiry: served');
  t.equal(inner.callsFor('tok-b'), 1);
  clock.advance(1);
  t.equal(clock.now(), expiresAt);
  // The inner verifier, asked again, is what refuses an expired token.
  inner.answers.set('tok-b', reject('AUTH_TOKEN_EXPIRED', 'expired'));
  t.match(await cache.verify('tok-b'), { ok: false, code: 'AUTH_TOKEN_EXPIRED' }, 'at expiresAt: verified again');
  t.equal(inner.callsFor('tok-b'), 2);
  t.equal(cache.entries, 0, 'the expired entry is gone');
});

t.test('a principal already past its expiry is not stored', async (t) => {
  const { clock, inner, cache, issue } = setup();
  issue('tok-late', principal('cust-late', clock.now()));
  t.ok((await cache.verify('tok-late')).ok, "the inner verifier's answer is passed on");
  await cache.verify('tok-late');
  t.equal(inner.callsFor('tok-late'), 2);
  t.equal(cache.entries, 0);
});

t.test('bounded: the least recently used entry goes first', async (t) => {
  const { clock, inner, cache, issue } = setup(2);
  for (const x of ['a', 'b', 'c']) issue(`tok-${x}`, principal(`cust-${x}`, clock.now() + HOUR));
  await cache.verify('tok-a');
  await cache.verify('tok-b');
  await cache.verify('tok-a'); // a is now the most recently used
  await cache.verify('tok-c'); // evicts b
  t.equal(cache.entries, 2);
  t.equal(cache.stats.evicted, 1);
  await cache.verify('tok-a');
  t.equal(inner.callsFor('tok-a'), 1, 'a stayed');
  await cache.verify('tok-b');
  t.equal(inner.callsFor('tok-b'), 2, 'b was evicted and verified again');
  t.equal(inner.callsFor('tok-c'), 1);
});

t.test('admins and revocation-checked principals are never cached', async (t) => {
  const { clock, inner, cache, issue } = setup();
  issue('tok-admin', principal('adm', clock.now() + HOUR, 'admin', true));
  // An inner verifier that forgot the check for an admin: still not cached.
  issue('tok-admin-unchecked', principal('adm2', clock.now() + HOUR, 'admin', false));
  issue('tok-checked', principal('cust-checked', clock.now() + HOUR, 'customer', true));
  for (let i = 0; i < 3; i++) {
    t.match(await cache.verify('tok-admin'), { ok: true, value: { role: 'admin' } });
    t.ok((await cache.verify('tok-admin-unchecked')).ok);
    t.ok((await cache.verify('tok-checked')).ok);
  }
  t.equal(inner.callsFor('tok-admin'), 3);
  t.equal(inner.callsFor('tok-admin-unchecked'), 3);
  t.equal(inner.callsFor('tok-checked'), 3);
  t.equal(cache.entries, 0);
  t.equal(cache.stats.hits, 0);
});

t.test('checkRevoked: always verified, never stored, and a refusal drops the cached entry', async (t) => {
  const { clock, inner, cache, issue } = setup();
  issue('tok-r', principal('cust-r', clock.now() + HOUR));
  await cache.verify('tok-r');
  t.equal(cache.entries, 1);
  t.ok((await cache.verify('tok-r', { checkRevoked: true })).ok);
  t.same(
    inner.calls.map((c) => c.checkRevoked),
    [false, true],
    'the checked call reached the inner verifier, with the option',
  );
  t.equal(cache.stats.bypassed, 1);
  issue('tok-fresh', principal('cust-fresh', clock.now() + HOUR, 'customer', true));
  await cache.verify('tok-fresh', { checkRevoked: true });
  t.equal(cache.entries, 1, 'a checked call stores nothing');

  inner.answers.set('tok-r', reject('AUTH_TOKEN_REVOKED', 'revoked'));
  t.match(await cache.verify('tok-r', { checkRevoked: true }), { ok: false, code: 'AUTH_TOKEN_REVOKED' });
  t.equal(cache.entries, 0, 'the revoked token is no longer cached');
  t.match(await cache.verify('tok-r'), { ok: false, code: 'AUTH_TOKEN_REVOKED' }, 'nor served to unchecked calls');
});

t.test('an unchecked call in flight does not store a token a checked call refused meanwhile', async (t) => {
  const { clock, inner, cache, issue } = setup();
  issue('tok-race', principal('cust-race', clock.now() + HOUR));
  let open = () => {};
  inner.gate = new Promise<void>((r) => (open = r));
  const unchecked = cache.verify('tok-race');
  inner.answers.set('tok-race', reject('AUTH_TOKEN_REVOKED', 'revoked'));
  t.match(await cache.verify('tok-race', { checkRevoked: true }), { ok: false, code: 'AUTH_TOKEN_REVOKED' });
  open();
  t.ok((await unchecked).ok, 'the call made before the revocation was seen passes, as it would uncached');
  t.equal(cache.entries, 0, 'but it stored nothing');
  inner.gate = undefined;
  t.match(await cache.verify('tok-race'), { ok: false, code: 'AUTH_TOKEN_REVOKED' });
});

t.test('failures are not cached', async (t) => {
  const { clock, inner, cache, issue } = setup();
  inner.answers.set('tok-f', reject('AUTH_UNAVAILABLE', "Google's keys unreachable"));
  t.match(await cache.verify('tok-f'), { ok: false, code: 'AUTH_UNAVAILABLE' });
  t.match(await cache.verify('tok-f'), { ok: false, code: 'AUTH_UNAVAILABLE' });
  t.equal(inner.callsFor('tok-f'), 2, 'each refusal came from the inner verifier');
  issue('tok-f', principal('cust-f', clock.now() + HOUR));
  t.ok((await cache.verify('tok-f')).ok, 'the next attempt verifies again and passes');
  t.equal(cache.entries, 1);
});

t.test('the screen runs before every lookup: a cached token still meets it', async (t) => {
  const { clock, inner, cache, issue } = setup();
  issue('tok-s', principal('cust-s', clock.now() + HOUR));
  await cache.verify('tok-s');
  inner.drift = true;
  t.match(await cache.verify('tok-s'), { ok: false, code: 'AUTH_UNAVAILABLE' }, 'served from the cache: no');
  inner.drift = false;
  for (const bad of ['', '   ', 'x'.repeat(10_000)])
    t.same(await cache.verify(bad), inner.screen(bad), `${bad.length}`);
  t.equal(inner.callsFor('tok-s'), 1);
});

t.test('malformed tokens get the same error as from the firebase adapter alone', async (t) => {
  // Production mode (no emulator): nothing here reaches the network, every token fails before the key fetch.
  const prev = process.env['FIREBASE_AUTH_EMULATOR_HOST'];
  delete process.env['FIREBASE_AUTH_EMULATOR_HOST'];
  const config = Object.freeze({ ...parseFirebaseConfig({ NODE_ENV: 'test' }), emulatorHost: undefined });
  const firebase = createFirebaseIdentity(config);
  t.teardown(async () => {
    await firebase.close();
    if (prev !== undefined) process.env['FIREBASE_AUTH_EMULATOR_HOST'] = prev;
  });
  const cache = new CachingIdentity(firebase, { clock: new SimulatedClock() });
  for (const bad of ['', '   ', 'not-a-jwt', 'a.b.c', 'x'.repeat(10_000)]) {
    const alone = await firebase.verify(bad);
    t.notOk(alone.ok, `${bad.slice(0, 12)} is refused`);
    t.same(await cache.verify(bad), alone, `${bad.slice(0, 12)}: the same code and detail`);
    t.same(await cache.verify(bad), alone, `${bad.slice(0, 12)}: and again`);
  }
  t.equal(cache.entries, 0);
});

t.test('a size below 1 is refused (the server does not build the cache for 0)', async (t) => {
  const inner = new ScriptedVerifier();
  for (const size of [0, -1, 1.5, NaN])
    t.throws(() => new CachingIdentity(inner, { clock: new SimulatedClock(), size }), RangeError);
});
