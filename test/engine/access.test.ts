import t from 'tap';
import fc from 'fast-check';
import { ACCESS_RULES, ACTIONS, authorize, isAction, rolesAllowed, type AccessTarget } from '../../engine/access.js';
import { ErrorCodes, ROLES, isRole, type Principal } from '../../protocol/index.js';
import { ACCESS_MATRIX, FORBIDDEN_CASES, NON_ADMIN_CASES, objects, principals } from '../support/access-matrix.js';

t.test('the matrix: every row gets the expected answer', async (t) => {
  for (const c of ACCESS_MATRIX) {
    const res = authorize(principals[c.who], c.action, objects[c.on]);
    const got = res.ok ? null : res.code;
    t.equal(got, c.expect, `${c.who} ${c.action} on ${c.on}`);
  }
});

t.test('the matrix covers every role and every kind of foreign object', async (t) => {
  const refusedRoles = new Set([...FORBIDDEN_CASES, ...NON_ADMIN_CASES].map((c) => principals[c.who].role));
  t.same([...refusedRoles].sort(), [...ROLES].sort());
  const kinds = new Set(FORBIDDEN_CASES.filter((c) => c.expect === 'AUTH_OBJECT_FORBIDDEN').map((c) => c.on));
  for (const k of ['order2', 'menu2', 'offerY', 'riderY', 'paymentOfB', 'accountOfB'] as const) {
    t.ok(kinds.has(k), `someone is refused on ${k}`);
  }
  for (const action of ACTIONS.filter((a) => a.startsWith('admin.'))) {
    t.same(rolesAllowed(action), ['admin'], `${action} is admin-only`);
  }
});

t.test('refusals are 403 with the role and action in the detail', async (t) => {
  const res = authorize(principals.customerA, 'menu.write', objects.menu1);
  t.notOk(res.ok);
  if (res.ok) return;
  t.equal(ErrorCodes[res.code].http, 403);
  t.match(res.detail, /customer.*menu\.write/);
  const obj = authorize(principals.riderX, 'offer.respond', objects.offerY);
  t.notOk(obj.ok);
  if (!obj.ok) t.equal(ErrorCodes[obj.code].http, 403);
});

t.test('an owner left out of the target matches nobody', async (t) => {
  const noIds: Principal = { ...principals.riderX };
  delete (noIds as { riderId?: unknown }).riderId;
  t.notOk(authorize(noIds, 'offer.respond', {}).ok, 'undefined never equals undefined');
  t.notOk(authorize(principals.riderX, 'offer.respond', {}).ok);
  t.notOk(authorize(principals.customerA, 'profile.read', {}).ok);
});

t.test('every role in the table is a known role, every action is named', async (t) => {
  for (const [action, rule] of Object.entries(ACCESS_RULES)) {
    t.ok(isAction(action));
    for (const role of Object.keys(rule)) t.ok(isRole(role), `${action}: ${role}`);
  }
  t.notOk(isAction('order.delete'));
  t.notOk(isAction('toString'));
});

// Property: whatever the action, a principal whose ids appear nowhere in the
// target is let through only by an `any` rule.
t.test('property: no access to objects owned by others except by an any-scope rule', async (t) => {
  const id = fc.stringMatching(/^[a-z]{1,6}$/);
  const target = fc.record(
    { customerId: id, restaurantId: id, riderId: id, uid: id },
    { requiredKeys: [] },
  ) as fc.Arbitrary<AccessTarget>;
  fc.assert(
    fc.property(
      fc.constantFrom(...ACTIONS),
      fc.constantFrom<Principal>(principals.customerA, principals.restaurant1, principals.riderX, principals.admin),
      target,
      (action, p, tgt) => {
        const mine = [p.uid, p.customerId, p.restaurantId, p.riderId].filter((x) => x !== undefined);
        const touchesMe = Object.values(tgt).some((v) => mine.includes(v as string));
        const res = authorize(p, action, tgt);
        const scope = (ACCESS_RULES[action] as Record<string, string | undefined>)[p.role];
        if (scope === undefined) return !res.ok && res.code === 'AUTH_ROLE_FORBIDDEN';
        if (scope === 'any') return res.ok;
        return touchesMe || (!res.ok && res.code === 'AUTH_OBJECT_FORBIDDEN');
      },
    ),
    { seed: 20240115, numRuns: 2000 },
  );
  t.pass('property holds');
});

t.test('the AUTH_* codes map to 401, 403 and 503 as the edges promise', async (t) => {
  const unauthenticated = [
    'AUTH_TOKEN_MISSING',
    'AUTH_TOKEN_INVALID',
    'AUTH_TOKEN_EXPIRED',
    'AUTH_TOKEN_REVOKED',
    'AUTH_USER_DISABLED',
  ] as const;
  for (const c of unauthenticated) {
    t.equal(ErrorCodes[c].http, 401, c);
    t.equal(ErrorCodes[c].grpc, 'UNAUTHENTICATED', c);
  }
  for (const c of [
    'AUTH_EMAIL_UNVERIFIED',
    'AUTH_PHONE_UNVERIFIED',
    'AUTH_ROLE_FORBIDDEN',
    'AUTH_OBJECT_FORBIDDEN',
  ] as const) {
    t.equal(ErrorCodes[c].http, 403, c);
    t.equal(ErrorCodes[c].grpc, 'PERMISSION_DENIED', c);
  }
  t.equal(ErrorCodes.AUTH_UNAVAILABLE.http, 503);
});
