/**
 * Sends pushes through firebase-admin messaging (FCM HTTP v1) and sorts each
 * token's result as FCM defines it (docs/push.md): sent; drop the token
 * (unregistered, not a valid token); retry later (quota, unavailable,
 * internal); or fail (configuration: wrong sender, bad credentials). The SDK
 * runs over its HTTP/1.1 transport, the one that takes an `httpAgent`, so
 * development and tests run this same code against the local FCM stand-in.
 */
import { randomUUID } from 'node:crypto';
import type { Agent } from 'node:http';
import { deleteApp, initializeApp, type App, type Credential } from 'firebase-admin/app';
import { getMessaging, type Message, type SendResponse } from 'firebase-admin/messaging';

/** FCM's limit per `sendEach` call. */
export const FCM_BATCH = 500;
/** FCM refuses a message whose payload is over 4096 bytes. */
export const FCM_MAX_PAYLOAD = 4096;

/** One push to one device token. Only strings in `data`: FCM's rule. */
export interface PushMessage {
  readonly token: string;
  readonly title: string;
  readonly body: string;
  readonly data: Readonly<Record<string, string>>;
  readonly priority: 'high' | 'normal';
  /** How long FCM keeps it for an offline device, ms (0: now or never). */
  readonly ttlMs: number;
  /** Messages with one key replace each other on a device that has not shown them. */
  readonly collapseKey: string;
}

export type PushOutcome =
  | { readonly kind: 'sent'; readonly messageId: string }
  | { readonly kind: 'drop'; readonly code: string }
  | { readonly kind: 'retry'; readonly code: string }
  | { readonly kind: 'fail'; readonly code: string };

/** The port the push worker sends through. */
export interface PushSender {
  /** One outcome per message, in order; never throws for a message's own failure. */
  send(messages: readonly PushMessage[]): Promise<PushOutcome[]>;
  close(): Promise<void>;
}

const DROP = new Set(['messaging/registration-token-not-registered', 'messaging/invalid-registration-token']);
const RETRY = new Set([
  'messaging/message-rate-exceeded',
  'messaging/device-message-rate-exceeded',
  'messaging/server-unavailable',
  'messaging/internal-error',
  'messaging/unknown-error',
]);

/** Sorts one `sendEach` response as FCM's error table says (REFERENCE.md). */
export function outcomeOf(r: SendResponse): PushOutcome {
  if (r.success) return { kind: 'sent', messageId: r.messageId ?? '' };
  const code = r.error?.code ?? 'messaging/unknown-error';
  if (DROP.has(code)) return { kind: 'drop', code };
  // INVALID_ARGUMENT is a bad token or a bad payload; only the first is the token's fault.
  if (code === 'messaging/invalid-argument') {
    return /registration token/i.test(r.error?.message ?? '') ? { kind: 'drop', code } : { kind: 'fail', code };
  }
  if (RETRY.has(code)) return { kind: 'retry', code };
  return { kind: 'fail', code };
}

/** The FCM v1 message of a push: notification, data, and the Android and APNs delivery options. */
export function fcmMessage(m: PushMessage, now: number): Message {
  return {
    token: m.token,
    notification: { title: m.title, body: m.body },
    data: { ...m.data },
    android: { priority: m.priority, ttl: m.ttlMs, collapseKey: m.collapseKey },
    apns: {
      headers: {
        'apns-priority': m.priority === 'high' ? '10' : '5',
        'apns-expiration': String(Math.floor((now + m.ttlMs) / 1000)),
        'apns-collapse-id': m.collapseKey,
      },
    },
  };
}

/** Bytes of the message as FCM receives it (the request body's `message`). */
export const payloadBytes = (msg: Message): number => Buffer.byteLength(JSON.stringify({ message: msg }));

export interface FcmSenderOptions {
  readonly projectId: string;
  /** A service account or ADC credential; the stand-in's in development and tests. */
  readonly credential: Credential;
  /** Where requests go: the stand-in's agent, or undefined for Google. */
  readonly httpAgent?: Agent;
  readonly now: () => number;
}

/** A sender over its own firebase-admin app (deleted by `close`). */
export function fcmSender(o: FcmSenderOptions): PushSender {
  const app: App = initializeApp(
    { projectId: o.projectId, credential: o.credential, ...(o.httpAgent ? { httpAgent: o.httpAgent } : {}) },
    `push-${randomUUID()}`,
  );
  const messaging = getMessaging(app);
  // The HTTP/2 transport opens its own session and ignores httpAgent; HTTP/1.1 honours it.
  // eslint-disable-next-line @typescript-eslint/no-deprecated -- the only transport that takes our agent today
  messaging.enableLegacyHttpTransport();
  return {
    async send(messages) {
      const out: PushOutcome[] = [];
      for (let i = 0; i < messages.length; i += FCM_BATCH) {
        const slice = messages.slice(i, i + FCM_BATCH).map((m) => fcmMessage(m, o.now()));
        const res = await messaging.sendEach(slice);
        for (const r of res.responses) out.push(outcomeOf(r));
      }
      return out;
    },
    close: () => deleteApp(app),
  };
}

/** The credential of the stand-in: a fixed access token, no Google call. */
export function standInCredential(token: string): Credential {
  return { getAccessToken: async () => ({ access_token: token, expires_in: 3600 }) };
}
