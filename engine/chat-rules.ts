/**
 * Who may read and write an order's chat, and what a message may be. An
 * order has two conversations: `rider` (customer with the assigned rider) and
 * `restaurant` (customer with the restaurant). Each is open for the life of
 * the order and read-only for a day after it ends; admins read either for a
 * dispute and write neither. Pure: the caller passes the order and the time.
 */
import { ok, reject, type Principal, type Result } from '../protocol/index.js';

export const CHAT_CHANNELS = ['rider', 'restaurant'] as const;
export type ChatChannel = (typeof CHAT_CHANNELS)[number];

export const ChatLimits = {
  /** Characters of one message. */
  MAX_CHARS: 1000,
  /** Messages one sender may write to one order in a minute. */
  PER_MINUTE: 20,
  /** How long a conversation can be read after its order ended, ms. */
  READ_AFTER_END_MS: 24 * 3_600_000,
} as const;

/** The order as chat needs it; `endedAt` 0 while live. */
export interface ChatOrder {
  readonly customerId: string;
  readonly restaurantId: string;
  readonly riderId: string | null;
  readonly endedAt: number;
}

/**
 * Whether `p` may read or write `channel` of the order. Answers the party key of the other side
 * (whom a written message goes to; for an admin reading, none).
 */
export function chatAccess(
  p: Principal,
  o: ChatOrder,
  channel: ChatChannel,
  mode: 'read' | 'write',
  now: number,
): Result<string | null> {
  const other = channel === 'rider' ? (o.riderId ? `rider:${o.riderId}` : null) : `restaurant:${o.restaurantId}`;
  let counterpart: string | null;
  if (p.role === 'customer' && (p.customerId ?? p.uid) === o.customerId) counterpart = other;
  else if (p.role === 'rider' && channel === 'rider' && o.riderId !== null && p.riderId === o.riderId) {
    counterpart = `customer:${o.customerId}`;
  } else if (p.role === 'restaurant' && channel === 'restaurant' && p.restaurantId === o.restaurantId) {
    counterpart = `customer:${o.customerId}`;
  } else if (p.role === 'admin' && p.revocationChecked && mode === 'read') return ok(null);
  // A stranger and a missing order look alike: no probing for ids.
  else return reject('AUTH_OBJECT_FORBIDDEN', `chat: order is not yours (${channel})`);
  if (o.endedAt > 0 && mode === 'write') return reject('CHAT_CLOSED', 'the order has ended; its chat is read-only');
  if (o.endedAt > 0 && now - o.endedAt > ChatLimits.READ_AFTER_END_MS) {
    return reject('CHAT_CLOSED', 'the order ended more than a day ago');
  }
  if (mode === 'write' && counterpart === null) return reject('CHAT_CLOSED', 'no rider is assigned to this order yet');
  return ok(counterpart);
}

// Control characters other than newline and tab are refused: text only.
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f]/;

/** Checks a message body: a non-blank string of at most MAX_CHARS characters, text only. */
export function checkChatBody(body: unknown): Result<string> {
  if (typeof body !== 'string') return reject('INVALID_ARGUMENT', 'body must be text');
  const text = body.trim();
  if (text.length === 0) return reject('INVALID_ARGUMENT', 'body is empty');
  // The limit counts code points, as the docs say (not UTF-16 units, not grapheme clusters).
  // eslint-disable-next-line @typescript-eslint/no-misused-spread
  if ([...text].length > ChatLimits.MAX_CHARS) {
    return reject('INVALID_ARGUMENT', `body is longer than ${ChatLimits.MAX_CHARS} characters`);
  }
  if (CONTROL.test(text)) return reject('INVALID_ARGUMENT', 'body must be plain text (no control characters)');
  return ok(text);
}

export const isChatChannel = (x: unknown): x is ChatChannel => x === 'rider' || x === 'restaurant';
