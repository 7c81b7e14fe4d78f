/**
 * The operators' roles command, run as
 * `npm run roles -- grant|revoke <email-or-uid> <role> [--restaurant ID | --rider ID]`.
 * It writes the role claims through firebase-admin; `scripts/roles.ts` is its
 * composition root. Exit codes: 0 done, 1 the operation failed (no such user,
 * role mismatch, Firebase error), 2 usage error.
 */
import type { Auth, UserRecord } from 'firebase-admin/auth';
import { IdentityClaim, isRole, parseRestaurantId, parseRiderId, type Role } from '../../protocol/index.js';

export const USAGE = `usage: npm run roles -- grant|revoke <email-or-uid> <role> [--restaurant ID | --rider ID]

  grant   set the role (replacing any other): customer | restaurant | rider | admin
          restaurant needs --restaurant ID, rider needs --rider ID
  revoke  take the role away; the account falls back to customer

Taking a role away (revoke, or grant over another role) also revokes the
user's refresh tokens, so every session must sign in again.`;

export const ExitCode = { Ok: 0, Failed: 1, Usage: 2 } as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** Where the command writes; the script passes stdout/stderr, tests collect lines. */
export interface RolesIo {
  out(line: string): void;
  err(line: string): void;
}

/** A parsed command line. */
export interface RolesCommand {
  readonly verb: 'grant' | 'revoke';
  readonly who: string;
  readonly role: Role;
  readonly restaurantId?: string;
  readonly riderId?: string;
}

/** Parses argv (without node and script); a string is the usage error to print. */
export function parseRolesArgs(argv: readonly string[]): RolesCommand | string {
  const positional: string[] = [];
  const flags = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? '';
    if (a === '--restaurant' || a === '--rider') {
      const v = argv[++i];
      if (v === undefined || v.startsWith('--')) return `${a} needs an id`;
      if (flags.has(a)) return `${a} given twice`;
      flags.set(a, v);
    } else if (a.startsWith('-')) {
      return `unknown option ${a}`;
    } else positional.push(a);
  }
  const [verb, who, role, ...rest] = positional;
  if (verb !== 'grant' && verb !== 'revoke')
    return `first argument must be grant or revoke, got ${JSON.stringify(verb ?? '')}`;
  if (who === undefined || who === '') return 'missing <email-or-uid>';
  if (!isRole(role)) return `role must be customer, restaurant, rider or admin, got ${JSON.stringify(role ?? '')}`;
  if (rest.length > 0) return `unexpected argument ${rest[0]}`;
  const restaurant = flags.get('--restaurant');
  const rider = flags.get('--rider');
  if (verb === 'revoke' && flags.size > 0) return 'revoke takes no --restaurant or --rider';
  if (verb === 'grant' && role === 'restaurant') {
    if (restaurant === undefined) return 'grant restaurant needs --restaurant ID';
    if (parseRestaurantId(restaurant) === undefined) return `invalid restaurant id ${JSON.stringify(restaurant)}`;
  } else if (restaurant !== undefined) return '--restaurant only goes with grant restaurant';
  if (verb === 'grant' && role === 'rider') {
    if (rider === undefined) return 'grant rider needs --rider ID';
    if (parseRiderId(rider) === undefined) return `invalid rider id ${JSON.stringify(rider)}`;
  } else if (rider !== undefined) return '--rider only goes with grant rider';
  if (verb === 'revoke' && role === 'customer')
    return 'customer is the default role and cannot be revoked; disable the account instead';
  return {
    verb,
    who,
    role,
    ...(restaurant === undefined ? {} : { restaurantId: restaurant }),
    ...(rider === undefined ? {} : { riderId: rider }),
  };
}

/** Runs the command against `auth`; never throws. */
export async function runRoles(argv: readonly string[], auth: Auth, io: RolesIo): Promise<ExitCode> {
  const cmd = parseRolesArgs(argv);
  if (typeof cmd === 'string') {
    io.err(`roles: ${cmd}\n\n${USAGE}`);
    return ExitCode.Usage;
  }
  try {
    const user = await findUser(auth, cmd.who);
    const all: Record<string, unknown> = { ...(user.customClaims ?? {}) };
    const current = isRole(all[IdentityClaim.Role]) ? (all[IdentityClaim.Role] as Role) : 'customer';
    // Our claims are rewritten below; anyone else's are kept as they are.
    const ours = new Set<string>(Object.values(IdentityClaim));
    const claims: Record<string, unknown> = Object.fromEntries(Object.entries(all).filter(([k]) => !ours.has(k)));

    if (cmd.verb === 'revoke' && current !== cmd.role) {
      io.err(`roles: ${describe(user)} has role ${current}, not ${cmd.role}; nothing changed`);
      return ExitCode.Failed;
    }
    if (cmd.verb === 'grant' && cmd.role !== 'customer') {
      claims[IdentityClaim.Role] = cmd.role;
      if (cmd.restaurantId !== undefined) claims[IdentityClaim.RestaurantId] = cmd.restaurantId;
      if (cmd.riderId !== undefined) claims[IdentityClaim.RiderId] = cmd.riderId;
    }
    await auth.setCustomUserClaims(user.uid, Object.keys(claims).length > 0 ? claims : null);

    // Claims reach clients only with their next ID token. When a role is taken
    // away, end every session now rather than when the token expires.
    const takesAway = cmd.verb === 'revoke' || (current !== 'customer' && current !== cmd.role);
    if (takesAway) await auth.revokeRefreshTokens(user.uid);
    const what = cmd.verb === 'grant' ? `granted ${roleLabel(cmd)}` : `revoked ${cmd.role}; now customer`;
    io.out(
      `${describe(user)}: ${what} (was ${current})${takesAway ? '; refresh tokens revoked, sessions must sign in again' : ''}`,
    );
    return ExitCode.Ok;
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    io.err(`roles: ${code === 'auth/user-not-found' ? `no user ${cmd.who}` : (e as Error).message}`);
    return ExitCode.Failed;
  }
}

function findUser(auth: Auth, who: string): Promise<UserRecord> {
  return who.includes('@') ? auth.getUserByEmail(who) : auth.getUser(who);
}

const describe = (u: UserRecord): string => (u.email !== undefined ? `${u.email} (${u.uid})` : u.uid);

function roleLabel(cmd: RolesCommand): string {
  if (cmd.restaurantId !== undefined) return `restaurant for ${cmd.restaurantId}`;
  if (cmd.riderId !== undefined) return `rider ${cmd.riderId}`;
  return cmd.role;
}
