/**
 * `/push-tokens` and `/notifications`: a device registers for pushes under the
 * caller's account and party (a restaurant's staff all hear its orders), and
 * an app that was away lists what it was told since its last cursor. Both are
 * the caller's own, like the profile (`profile.read` / `profile.write`).
 */
import type { Rejection } from '../../../protocol/index.js';
import { reject } from '../../../protocol/index.js';
import type { RegisterPushTokenBody } from '../../../protocol/rest/schemas.js';
import { partyKeyOf } from '../../ws/party-index.js';
import type { PushStore } from '../../push/push-store.js';
import type { Reply } from '../http-io.js';
import type { RestContext } from '../rest-gateway.js';
import { mayAct } from '../gateway-deps.js';

const DEFAULT_PAGE = 50;

export function pushHandlers(store: PushStore) {
  /** The caller's party, or a refusal for accounts that have none (admins). */
  const partyOf = (ctx: RestContext): string | Rejection => {
    const party = partyKeyOf(ctx.principal);
    return party ?? reject('AUTH_ROLE_FORBIDDEN', `role '${ctx.principal.role}' receives no pushes or notifications`);
  };

  return {
    async registerPushToken(ctx: RestContext): Promise<Reply | Rejection> {
      const p = ctx.principal;
      const denied = mayAct(p, 'profile.write', { uid: p.uid }, 'PROFILE_NOT_FOUND', 'profile');
      if (denied) return denied;
      const party = partyOf(ctx);
      if (typeof party !== 'string') return party;
      const b = ctx.body as RegisterPushTokenBody;
      const appVersion = b.app_version ?? null;
      await store.register({ token: b.token, userId: p.uid, party, platform: b.platform, appVersion });
      return { status: 201, body: { token: b.token, platform: b.platform, app_version: b.app_version ?? null } };
    },

    async listPushTokens(ctx: RestContext): Promise<Reply | Rejection> {
      const p = ctx.principal;
      const denied = mayAct(p, 'profile.read', { uid: p.uid }, 'PROFILE_NOT_FOUND', 'profile');
      return denied ?? { status: 200, body: { tokens: await store.tokensOfUser(p.uid) } };
    },

    async removePushToken(ctx: RestContext): Promise<Reply | Rejection> {
      const p = ctx.principal;
      const denied = mayAct(p, 'profile.write', { uid: p.uid }, 'PROFILE_NOT_FOUND', 'profile');
      if (denied) return denied;
      // Path parameters arrive decoded once (http-io.ts); malformed encoding names no token.
      const token = ctx.req.params['token'] ?? '';
      if (!(await store.remove(p.uid, token))) {
        return reject('PUSH_TOKEN_NOT_FOUND', 'this account has no such push token');
      }
      return { status: 200, body: { status: 'removed' } };
    },

    async listNotifications(ctx: RestContext): Promise<Reply | Rejection> {
      const p = ctx.principal;
      const denied = mayAct(p, 'profile.read', { uid: p.uid }, 'PROFILE_NOT_FOUND', 'profile');
      if (denied) return denied;
      const party = partyOf(ctx);
      if (typeof party !== 'string') return party;
      const since = (ctx.query['since'] as number | undefined) ?? 0;
      const list = await store.noticesOf(party, since, (ctx.query['limit'] as number | undefined) ?? DEFAULT_PAGE);
      return { status: 200, body: { notifications: list, next_since: list.at(-1)?.cursor ?? since } };
    },
  };
}
