/**
 * The roles command against the real Auth emulator: argument handling, the
 * claims it writes, refresh-token revocation, and the real script's exit codes.
 */
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { parseFirebaseConfig } from '../../../adapters/identity/config.js';
import { createFirebaseIdentity } from '../../../adapters/identity/firebase-identity.js';
import { ExitCode, parseRolesArgs, runRoles } from '../../../adapters/identity/roles-command.js';
import { EMULATOR_HOST, useAuthEmulator } from '../../support/firebase-emulator.js';
import { makeUser, nextSecond, signIn } from '../../support/firebase-users.js';

process.env['FIREBASE_AUTH_EMULATOR_HOST'] = EMULATOR_HOST;
await useAuthEmulator(t);
const id = createFirebaseIdentity(parseFirebaseConfig({ NODE_ENV: 'test' }));
t.teardown(() => id.close());

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runRoles(argv, id.auth, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

t.test('usage errors are clear and exit 2', async (t) => {
  const bad: Array<[string[], RegExp]> = [
    [[], /grant or revoke/],
    [['promote', 'a@b.c', 'admin'], /grant or revoke/],
    [['grant'], /missing <email-or-uid>/],
    [['grant', 'a@b.c', 'owner'], /role must be/],
    [['grant', 'a@b.c', 'restaurant'], /needs --restaurant ID/],
    [['grant', 'a@b.c', 'rider'], /needs --rider ID/],
    [['grant', 'a@b.c', 'rider', '--rider'], /--rider needs an id/],
    [['grant', 'a@b.c', 'rider', '--rider', 'has space'], /invalid rider id/],
    [['grant', 'a@b.c', 'admin', '--restaurant', 'r1'], /--restaurant only goes with grant restaurant/],
    [['revoke', 'a@b.c', 'rider', '--rider', 'x'], /revoke takes no/],
    [['revoke', 'a@b.c', 'customer'], /default role/],
    [['grant', 'a@b.c', 'admin', 'extra'], /unexpected argument/],
    [['grant', 'a@b.c', 'admin', '--force'], /unknown option/],
  ];
  for (const [argv, msg] of bad) {
    const r = await run(...argv);
    t.equal(r.code, ExitCode.Usage, argv.join(' '));
    t.match(r.err, msg);
    t.match(r.err, /usage: npm run roles/);
  }
  t.match(parseRolesArgs(['grant', 'u1', 'rider', '--rider', 'rider-1']), {
    verb: 'grant',
    role: 'rider',
    riderId: 'rider-1',
  });
});

t.test('grant by email writes the claims; the next token carries them', async (t) => {
  const u = await makeUser(id.auth, { label: 'grant' });
  const r = await run('grant', u.email, 'restaurant', '--restaurant', 'rest-77');
  t.equal(r.code, ExitCode.Ok, r.err);
  t.match(r.out, /granted restaurant for rest-77 \(was customer\)/);
  t.notMatch(r.out, /revoked/, 'granting from customer ends no session');
  t.same((await id.auth.getUser(u.uid)).customClaims, { role: 'restaurant', restaurant_id: 'rest-77' });
  t.match(await id.verify(await signIn(u.email)), { ok: true, value: { role: 'restaurant', restaurantId: 'rest-77' } });
});

t.test('grant by uid keeps unrelated claims and replaces the old role', async (t) => {
  const u = await makeUser(id.auth, { label: 'regrant', claims: { role: 'rider', rider_id: 'rider-1', beta: true } });
  const r = await run('grant', u.uid, 'admin');
  t.equal(r.code, ExitCode.Ok, r.err);
  t.match(r.out, /granted admin \(was rider\); refresh tokens revoked/);
  t.same((await id.auth.getUser(u.uid)).customClaims, { role: 'admin', beta: true });
});

t.test('revoke admin: the old token is refused at once, sessions end', async (t) => {
  const a = await makeUser(id.auth, { label: 'revoke', claims: { role: 'admin' } });
  t.ok((await id.verify(a.token)).ok);
  await nextSecond(); // revocation times are whole seconds
  const r = await run('revoke', a.email, 'admin');
  t.equal(r.code, ExitCode.Ok, r.err);
  t.match(r.out, /revoked admin; now customer/);
  t.equal((await id.auth.getUser(a.uid)).customClaims?.['role'], undefined);
  t.match(await id.verify(a.token), { ok: false, code: 'AUTH_TOKEN_REVOKED' });
  t.ok((await id.auth.getUser(a.uid)).tokensValidAfterTime, 'refresh tokens revoked');
});

t.test('revoke of a role the user lacks, and unknown users, exit 1', async (t) => {
  const u = await makeUser(id.auth, { label: 'norole' });
  const wrong = await run('revoke', u.uid, 'admin');
  t.equal(wrong.code, ExitCode.Failed);
  t.match(wrong.err, /has role customer, not admin; nothing changed/);
  const missing = await run('grant', 'nobody-here@example.test', 'admin');
  t.equal(missing.code, ExitCode.Failed);
  t.match(missing.err, /no user nobody-here@example.test/);
});

t.test('the npm script itself: exit codes from a real process', async (t) => {
  const u = await makeUser(id.auth, { label: 'script' });
  const env = { ...process.env, NODE_ENV: 'test', FIREBASE_AUTH_EMULATOR_HOST: EMULATOR_HOST };
  const tsx = join(REPO, 'node_modules', '.bin', 'tsx');
  const usage = spawnSync(tsx, ['scripts/roles.ts', 'grant'], { cwd: REPO, env, encoding: 'utf8' });
  t.equal(usage.status, ExitCode.Usage);
  t.match(usage.stderr, /missing <email-or-uid>/);
  const ok = spawnSync(tsx, ['scripts/roles.ts', 'grant', u.email, 'rider', '--rider', 'rider-55'], {
    cwd: REPO,
    env,
    encoding: 'utf8',
  });
  t.equal(ok.status, ExitCode.Ok, ok.stderr);
  t.same((await id.auth.getUser(u.uid)).customClaims, { role: 'rider', rider_id: 'rider-55' });
  const prod = spawnSync(tsx, ['scripts/roles.ts', 'grant', u.email, 'admin'], {
    cwd: REPO,
    env: { ...env, NODE_ENV: 'production' },
    encoding: 'utf8',
  });
  t.equal(prod.status, ExitCode.Failed, 'refuses the emulator in production');
  t.match(prod.stderr, /NODE_ENV=production/);
});
