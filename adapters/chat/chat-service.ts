/**
 * Chat per order, for the REST and stream edges alike: checks access with
 * engine/chat-rules.ts against the order as the engine holds it (or, once the
 * engine has let an ended order go, as Postgres keeps it), limits the rate
 * per sender and order, keeps each message in `chat_messages` (a client's
 * resend with the same `client_msg_id` is stored once), hands it to the
 * stream (the recipient's and sender's sockets), and queues a push for a
 * recipient with no socket open here.
 */
import type { Engine, OrderSnapshotRow } from '../../engine/index.js';
import { chatAccess, checkChatBody, ChatLimits, type ChatChannel, type ChatOrder } from '../../engine/index.js';
import type { Notice } from '../../engine/index.js';
import type { JobQueue } from '../../engine/ports/job-queue.js';
import { ok, reject, type OrderId, type Principal, type Result } from '../../protocol/index.js';
import type { SqlDatabase } from '../postgres/sql-database.js';
import type { PushJob } from '../push/push-feed.js';

export interface ChatMessage {
  readonly id: number;
  readonly order_id: string;
  readonly channel: ChatChannel;
  readonly sender_id: string;
  readonly sender_role: string;
  readonly body: string;
  readonly client_msg_id: string | null;
  readonly sent_at: string;
}

/** Hands a stored message to the stream; answers whether a socket of `to` heard it. */
export type ChatFanOut = (m: ChatMessage, to: string, from: string) => boolean;

type Row = Omit<ChatMessage, 'sent_at'> & { sent_at: Date };
const COLUMNS = 'id, order_id, channel, sender_id, sender_role, body, client_msg_id, sent_at';
const out = (r: Row): ChatMessage => ({ ...r, id: Number(r.id), sent_at: new Date(r.sent_at).toISOString() });

export class ChatService {
  readonly #db: SqlDatabase;
  readonly #engine: Engine;
  readonly #push: JobQueue<PushJob> | undefined;
  readonly #now: () => number;
  #fanOut: ChatFanOut = () => false;

  constructor(o: { db: SqlDatabase; engine: Engine; push?: JobQueue<PushJob>; now: () => number }) {
    this.#db = o.db;
    this.#engine = o.engine;
    this.#push = o.push;
    this.#now = o.now;
  }

  /** The stream route registers itself here. */
  attach(fanOut: ChatFanOut): void {
    this.#fanOut = fanOut;
  }

  async send(
    p: Principal,
    orderId: OrderId,
    channel: ChatChannel,
    rawBody: unknown,
    clientMsgId: string | null,
  ): Promise<Result<ChatMessage>> {
    const body = checkChatBody(rawBody);
    if (!body.ok) return body;
    const order = await this.#order(orderId);
    if (order === undefined) return reject('AUTH_OBJECT_FORBIDDEN', `chat: order ${orderId} is not yours`);
    const access = chatAccess(p, order, channel, 'write', this.#now());
    if (!access.ok) return access;
    const to = access.value!;
    const from =
      p.role === 'customer'
        ? `customer:${order.customerId}`
        : p.role === 'rider'
          ? `rider:${p.riderId}`
          : `restaurant:${p.restaurantId}`;
    if (clientMsgId !== null) {
      const again = await this.#db.query<Row>(
        `SELECT ${COLUMNS} FROM chat_messages WHERE sender_id = $1 AND client_msg_id = $2`,
        [p.uid, clientMsgId],
      );
      if (again.rows[0]) return ok(out(again.rows[0]));
    }
    const recent = await this.#db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM chat_messages
       WHERE order_id = $1 AND sender_id = $2 AND sent_at > now() - interval '1 minute'`,
      [orderId, p.uid],
    );
    if ((recent.rows[0]?.n ?? 0) >= ChatLimits.PER_MINUTE) {
      return reject('RATE_LIMITED', `at most ${ChatLimits.PER_MINUTE} messages a minute per order`);
    }
    const ins = await this.#db.query<Row>(
      `INSERT INTO chat_messages (order_id, channel, sender_id, sender_role, body, client_msg_id)
       VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (sender_id, client_msg_id) WHERE client_msg_id IS NOT NULL DO NOTHING
       RETURNING ${COLUMNS}`,
      [orderId, channel, p.uid, p.role, body.value, clientMsgId],
    );
    const row = ins.rows[0];
    if (row === undefined) return this.send(p, orderId, channel, rawBody, clientMsgId); // a concurrent resend won
    const m = out(row);
    const heard = this.#fanOut(m, to, from);
    if (!heard && this.#push) await this.#push.enqueue([{ id: `chat.${m.id}`, data: { notice: chatNotice(m, to) } }]);
    return ok(m);
  }

  /** The conversation after message `since` (0: from the start), oldest first, at most `limit`. */
  async history(
    p: Principal,
    orderId: OrderId,
    channel: ChatChannel,
    since: number,
    limit: number,
  ): Promise<Result<ChatMessage[]>> {
    const order = await this.#order(orderId);
    if (order === undefined) return reject('AUTH_OBJECT_FORBIDDEN', `chat: order ${orderId} is not yours`);
    const access = chatAccess(p, order, channel, 'read', this.#now());
    if (!access.ok) return access;
    const r = await this.#db.query<Row>(
      `SELECT ${COLUMNS} FROM chat_messages
       WHERE order_id = $1 AND channel = $2 AND id > $3 ORDER BY id LIMIT $4`,
      [orderId, channel, since, limit],
    );
    return ok(r.rows.map(out));
  }

  /** The order from the engine, or from Postgres once the engine has let it go. */
  async #order(id: OrderId): Promise<ChatOrder | undefined> {
    const row = this.#engine.snapshotRow('order', id) as OrderSnapshotRow | undefined;
    if (row !== undefined) {
      const riderId = row.context.riderId as string | null;
      return { customerId: row.customerId, restaurantId: row.restaurantId, riderId, endedAt: row.endedAt };
    }
    type OrderRow = { customer_id: string; restaurant_id: string; rider_id: string | null; ended_at: Date | null };
    const r = await this.#db.query<OrderRow>(
      'SELECT customer_id, restaurant_id, rider_id, ended_at FROM orders WHERE id = $1',
      [id],
    );
    const o = r.rows[0];
    if (o === undefined) return undefined;
    // An order the engine no longer holds has ended; without a recorded end, treat it as ended long ago.
    const endedAt = o.ended_at ? new Date(o.ended_at).getTime() : 1;
    return { customerId: o.customer_id, restaurantId: o.restaurant_id, riderId: o.rider_id, endedAt };
  }
}

/** The push of a chat message to a recipient with no socket open: who wrote, not what (lock screens are public). */
function chatNotice(m: ChatMessage, to: string): Notice {
  const from =
    m.sender_role === 'rider' ? 'your rider' : m.sender_role === 'restaurant' ? 'the restaurant' : 'the customer';
  return {
    id: `chat.${m.id}.${to.slice(0, to.indexOf(':'))}`,
    party: to,
    kind: 'chat_message',
    orderId: m.order_id as OrderId,
    title: 'New message',
    body: `A message from ${from}`,
    priority: 'high',
    ttlMs: 3_600_000,
    collapseKey: `chat-${m.order_id}-${m.channel}`,
    data: { channel: m.channel, message_id: String(m.id) },
  };
}
