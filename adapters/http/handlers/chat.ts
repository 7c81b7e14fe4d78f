/**
 * `/orders/{order_id}/chat`: an order's conversations over REST, the same
 * service the stream uses (adapters/chat/chat-service.ts): who may read and
 * write is decided there, by engine/chat-rules.ts.
 */
import { parseOrderId, reject, type Rejection } from '../../../protocol/index.js';
import type { ChatChannel } from '../../../engine/index.js';
import type { PostChatBody } from '../../../protocol/rest/schemas.js';
import type { ChatService } from '../../chat/chat-service.js';
import type { Reply } from '../http-io.js';
import type { RestContext } from '../rest-gateway.js';

const DEFAULT_PAGE = 100;

/** REST answers an order the caller may not see as a missing one (docs/rest.md, Errors). */
const asRest = (r: Rejection): Rejection =>
  r.code === 'AUTH_OBJECT_FORBIDDEN' ? reject('ORDER_NOT_FOUND', 'no such order of yours') : r;

export function chatHandlers(chat: ChatService) {
  return {
    async postChat(ctx: RestContext): Promise<Reply | Rejection> {
      const id = parseOrderId(ctx.req.params['order_id']);
      if (id === undefined) return reject('ORDER_NOT_FOUND', 'no such order of yours');
      const b = ctx.body as PostChatBody;
      const res = await chat.send(ctx.principal, id, b.channel, b.body, b.client_msg_id ?? null);
      return res.ok ? { status: 201, body: res.value } : asRest(res);
    },

    async getChat(ctx: RestContext): Promise<Reply | Rejection> {
      const id = parseOrderId(ctx.req.params['order_id']);
      if (id === undefined) return reject('ORDER_NOT_FOUND', 'no such order of yours');
      const q = ctx.query as { channel: ChatChannel; since?: number; limit?: number };
      const res = await chat.history(ctx.principal, id, q.channel, q.since ?? 0, q.limit ?? DEFAULT_PAGE);
      return res.ok ? { status: 200, body: { messages: res.value } } : asRest(res);
    },
  };
}
