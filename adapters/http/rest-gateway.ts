/**
 * The REST gateway: registers every route of the route table
 * (protocol/rest/routes.ts) on the uWS app and runs each request through the
 * same steps: request id, rate limit, body limits, JSON and schema checks,
 * authentication, `Idempotency-Key`, then the route's handler, which makes
 * one engine command or query. Codes become statuses through the error table
 * only (problem bodies, RFC 9457). The gateway holds no business rules.
 */
import { createHash } from 'node:crypto';
import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js';
import type { Clock } from '../../engine/index.js';
import type { IdentityVerifier } from '../../engine/ports/identity.js';
import type { Principal, Rejection } from '../../protocol/index.js';
import { PATH_PARAMS, ROUTES, type RouteId, type RouteSpec } from '../../protocol/rest/routes.js';
import { Id } from '../../protocol/rest/schemas.js';
import type { StageTimer } from '../observability/stage-profiler.js';
import { clientFault } from '../postgres/sql-errors.js';
import type { SqlTx } from '../postgres/sql-database.js';
import { TokenBucket } from '../ws/token-bucket.js';
import {
  type AbortState,
  type FieldError,
  problem,
  readBody,
  readRequest,
  type Reply,
  type RequestInfo,
  send,
} from './http-io.js';
import { parseQuery, validate } from './validate.js';

/** One request as a handler sees it. */
export interface RestContext {
  readonly req: RequestInfo;
  /** Set on every authenticated route. */
  readonly principal: Principal;
  /** The body, already valid against the route's schema. */
  readonly body: unknown;
  readonly query: Readonly<Record<string, unknown>>;
  /**
   * Idempotent routes: store the reply in the handler's own transaction, so
   * the effect and the remembered answer commit together.
   */
  readonly remember: (tx: SqlTx, reply: Reply) => Promise<void>;
  /** Whether `remember` stores anything (an Idempotency-Key came): without one a handler may skip the transaction. */
  readonly remembers: boolean;
}

export type RestHandler = (ctx: RestContext) => Promise<Reply | Rejection>;
/** Public routes; those with a body get it raw (a webhook verifies its signature on the bytes). */
export type PublicHandler = (req: RequestInfo, raw: Buffer | undefined) => Promise<Reply>;

/** Where idempotent replies are kept. */
export interface ReplyStore {
  storedReply(
    principal: string,
    key: string,
  ): Promise<{ route: string; request_hash: string; status: number; response: unknown } | undefined>;
  storeReply(
    tx: SqlTx,
    principal: string,
    key: string,
    r: { route: string; request_hash: string; status: number; response: unknown },
  ): Promise<void>;
}

export interface RestLimits {
  /** Largest body accepted, bytes (413 beyond). */
  readonly maxBodyBytes: number;
  /** Requests a second per caller (uid when signed in, else address), and the burst. */
  readonly ratePerSecond: number;
  readonly rateBurst: number;
}

export const defaultRestLimits: RestLimits = Object.freeze({
  maxBodyBytes: 64 * 1024,
  ratePerSecond: 50,
  rateBurst: 100,
});

export interface RestLogger {
  info(o: Record<string, unknown>): void;
  error(o: Record<string, unknown>): void;
}

export interface RestGatewayOptions {
  readonly identity: IdentityVerifier;
  readonly clock: Clock;
  readonly replies: ReplyStore;
  readonly handlers: Readonly<Record<Exclude<RouteId, PublicRoute>, RestHandler>>;
  readonly publicHandlers: Readonly<Record<PublicRoute, PublicHandler>>;
  readonly limits?: Partial<RestLimits>;
  /** Take the client address from X-Forwarded-For (behind Caddy on loopback). */
  readonly trustProxy?: boolean;
  readonly logger: RestLogger;
  /**
   * Called once per answered request with the route's template
   * (`/orders/{order_id}`; `unmatched` for a 404 or 405), never the path, so
   * that metrics carry no ids.
   */
  readonly onAnswered?: (method: string, route: string, status: number, seconds: number) => void;
  /** The benchmark's stage profiler: request handling under `request`, the answer under `reply`. */
  readonly stages?: StageTimer;
}

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);
/** A method for a metric label: one of RFC 9110's common ones, or OTHER. */
const methodLabel = (m: string): string => (METHODS.has(m) ? m : 'OTHER');

type PublicRoute = 'health' | 'openapi' | 'paymentWebhook';

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;
const MAX_BUCKETS = 100_000;

/** Registers the REST routes on `app`; unknown paths get a coded 404 or 405. */
export function attachRestRoutes(
  app: TemplatedApp,
  o: RestGatewayOptions,
): { readonly stats: { requests: number; errors: number } } {
  const limits = Object.freeze({ ...defaultRestLimits, ...o.limits });
  const buckets = new Map<string, TokenBucket>();
  const inFlight = new Set<string>();
  const stats = { requests: 0, errors: 0 };

  // An address may carry many users (a campus, a carrier's NAT): it gets ten callers' budget.
  const allow = (who: string, scale = 1): boolean => {
    const now = o.clock.now();
    let b = buckets.get(who);
    if (b === undefined) {
      // Bounded: forget everyone at once rather than grow without limit (a flood of addresses).
      if (buckets.size >= MAX_BUCKETS) buckets.clear();
      b = new TokenBucket(limits.ratePerSecond * scale, limits.rateBurst * scale, now);
      buckets.set(who, b);
    }
    return b.take(now);
  };

  const run = async (spec: RouteSpec, res: HttpResponse, info: RequestInfo, state: AbortState): Promise<Reply> => {
    if (!allow(`ip:${info.remote}`, 10))
      return problem('RATE_LIMITED', 'too many requests from this address', info.requestId);

    // The body is read before authentication (uWS wants onData registered now; a 413 needs no
    // identity); what it says is looked at only after.
    let raw: Buffer | undefined;
    let contentType = '';
    if (spec.body) {
      const type = (info.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
      const length = Number(info.headers['content-length'] ?? NaN);
      if (length > limits.maxBodyBytes)
        return problem(
          'BODY_TOO_LARGE',
          `the body is ${length} bytes; at most ${limits.maxBodyBytes} are accepted`,
          info.requestId,
        );
      const body = await readBody(res, limits.maxBodyBytes, state);
      if (body === 'aborted') return { status: 499, body: null };
      if (body === 'too-large')
        return problem('BODY_TOO_LARGE', `at most ${limits.maxBodyBytes} bytes are accepted`, info.requestId);
      raw = body;
      contentType = type;
    }
    if (!spec.auth) return o.publicHandlers[spec.id as PublicRoute](info, raw);

    const auth = info.headers['authorization'] ?? '';
    const m = /^Bearer\s+(\S+)$/i.exec(auth);
    if (!m) return problem('AUTH_TOKEN_MISSING', 'send Authorization: Bearer <Firebase ID token>', info.requestId);
    const verified = await o.identity.verify(m[1]!);
    if (!verified.ok) return problem(verified.code, verified.detail, info.requestId);
    const principal = verified.value;
    if (!allow(`uid:${principal.uid}`))
      return problem('RATE_LIMITED', `more than ${limits.ratePerSecond} requests a second`, info.requestId);
    for (const [name, value] of Object.entries(info.params)) {
      // A path id that cannot be an id names nothing: the object's 404, before anything looks it up.
      const notFound = PATH_PARAMS[name as keyof typeof PATH_PARAMS];
      if (notFound !== undefined && validate(Id, value).length > 0) {
        return problem(notFound, `no such ${name.replace(/_id$/, '')}`, info.requestId);
      }
    }

    const parsed = o.stages
      ? o.stages.sync('request', () => parseInput(spec, info, raw, contentType))
      : parseInput(spec, info, raw, contentType);
    if ('status' in parsed) return parsed;
    const { body, query } = parsed;

    const handler = o.handlers[spec.id as keyof typeof o.handlers];
    let remember: RestContext['remember'] = async () => {};
    const key = info.headers['idempotency-key'];
    if (spec.idempotent && key !== undefined) {
      if (!IDEMPOTENCY_KEY.test(key))
        return problem(
          'IDEMPOTENCY_KEY_INVALID',
          'Idempotency-Key must be 1 to 255 visible ASCII characters',
          info.requestId,
        );
      const hash = createHash('sha256')
        .update(`${info.method} ${info.path}\n`)
        .update(raw ?? '')
        .digest('hex');
      const fk = `${principal.uid}\n${key}`;
      if (inFlight.has(fk))
        return problem(
          'IDEMPOTENCY_IN_FLIGHT',
          'a request with this Idempotency-Key is still being processed; retry shortly',
          info.requestId,
        );
      // Claimed before the first await, so a concurrent twin sees it.
      inFlight.add(fk);
      const replay = async (): Promise<Reply | undefined> => {
        const stored = await o.replies.storedReply(principal.uid, key);
        if (stored === undefined) return undefined;
        if (stored.request_hash !== hash || stored.route !== spec.id) {
          return problem(
            'IDEMPOTENCY_KEY_REUSED',
            'this Idempotency-Key was used for a different request; use a new key',
            info.requestId,
          );
        }
        return { status: stored.status, body: stored.response, headers: { 'idempotent-replayed': 'true' } };
      };
      try {
        const stored = await replay();
        if (stored) return stored;
        remember = (tx, reply) =>
          o.replies.storeReply(tx, principal.uid, key, {
            route: spec.id,
            request_hash: hash,
            status: reply.status,
            response: reply.body,
          });
        try {
          return await answer(handler, { req: info, principal, body, query, remember, remembers: true });
        } catch (err) {
          // Another server process stored this key first (the primary key is the last word): answer with its result.
          if ((err as { code?: unknown }).code === '23505') {
            const again = await replay();
            if (again) return again;
          }
          throw err;
        }
      } finally {
        inFlight.delete(fk);
      }
    }
    return answer(handler, { req: info, principal, body, query, remember, remembers: false });
  };

  const answer = async (handler: RestHandler, ctx: RestContext): Promise<Reply> => {
    const out = await handler(ctx);
    if ('ok' in out && !out.ok) return problem(out.code, out.detail, ctx.req.requestId);
    return out as Reply;
  };

  for (const spec of ROUTES as readonly RouteSpec[]) {
    const paramNames = [...spec.path.matchAll(/\{([a-z_]+)\}/g)].map((x) => x[1]!);
    const uwsPath = spec.path.replace(/\{([a-z_]+)\}/g, ':$1');
    for (const path of [uwsPath, `/v1${uwsPath}`]) {
      // uWS names DELETE `del`.
      const onRequest = (res: HttpResponse, req: HttpRequest) => {
        const t0 = performance.now();
        const state: AbortState = { aborted: false };
        res.onAborted(() => {
          state.aborted = true;
          state.onAbort?.();
        });
        const info = readRequest(res, req, paramNames, o.trustProxy === true);
        stats.requests++;
        run(spec, res, info, state).then(
          (reply) => finish(res, state, info, spec, reply, t0),
          (err: unknown) => {
            const e = err as { code?: unknown; message?: unknown };
            const fault = clientFault(err);
            // The database refused what the client sent: a 4xx, logged as a gap in the edge's validation.
            if (fault) {
              const logged = { request_id: info.requestId, route: spec.id, err: String(e?.message) };
              o.logger.info({ msg: 'database refused client data', ...logged });
            }
            const reply = fault
              ? problem(fault.code, fault.detail, info.requestId)
              : e?.code === 'DEPENDENCY_UNAVAILABLE'
                ? problem('DEPENDENCY_UNAVAILABLE', String(e.message), info.requestId)
                : problem('INTERNAL', 'the server failed to handle this request; it has been logged', info.requestId);
            if (reply.status === 500)
              o.logger.error({
                msg: 'request failed',
                request_id: info.requestId,
                route: spec.id,
                err: err instanceof Error ? err.stack : String(err),
              });
            finish(res, state, info, spec, reply, t0);
          },
        );
      };
      const st = o.stages;
      app[spec.method === 'delete' ? 'del' : spec.method](
        path,
        st ? (res: HttpResponse, req: HttpRequest) => st.sync('request', () => onRequest(res, req)) : onRequest,
      );
    }
  }

  const answerNow = (
    res: HttpResponse,
    state: AbortState,
    info: RequestInfo,
    spec: RouteSpec,
    reply: Reply,
    t0: number,
  ): void => {
    if (reply.status >= 400) stats.errors++;
    const status = state.aborted ? 499 : reply.status;
    const ms = performance.now() - t0;
    const orderId = info.params['order_id'];
    o.logger.info({
      msg: 'request',
      request_id: info.requestId,
      method: info.method,
      path: info.path,
      route: spec.id,
      ...(orderId !== undefined ? { order_id: orderId } : {}),
      status,
      ms: Math.round(ms * 100) / 100,
      remote: info.remote,
      ...(reply.status >= 400 ? { code: (reply.body as { code?: string } | null)?.code } : {}),
    });
    o.onAnswered?.(methodLabel(info.method), spec.path, status, ms / 1000);
    send(res, state, info.requestId, reply);
  };
  const stages = o.stages;
  const finish: typeof answerNow = stages ? (...a) => stages.sync('reply', () => answerNow(...a)) : answerNow;

  // Known paths with another method get 405; everything else 404 (the WebSocket routes are registered before this).
  const known = (ROUTES as readonly RouteSpec[]).map((r) => ({
    re: new RegExp(`^(/v1)?${r.path.replace(/\{[a-z_]+\}/g, '[^/]+')}$`),
    method: r.method,
  }));
  app.any('/*', (res, req) => {
    const state: AbortState = { aborted: false };
    res.onAborted(() => (state.aborted = true));
    const info = readRequest(res, req, [], o.trustProxy === true);
    const methods = known.filter((k) => k.re.test(info.path)).map((k) => k.method.toUpperCase());
    const reply =
      methods.length > 0
        ? {
            ...problem(
              'METHOD_NOT_ALLOWED',
              `${info.method} ${info.path} is not allowed; use ${methods.join(', ')}`,
              info.requestId,
            ),
            headers: { 'content-type': 'application/problem+json', allow: methods.join(', ') },
          }
        : problem('ROUTE_NOT_FOUND', `no endpoint ${info.method} ${info.path}; see /openapi.json`, info.requestId);
    o.logger.info({
      msg: 'request',
      request_id: info.requestId,
      method: info.method,
      path: info.path,
      status: reply.status,
      remote: info.remote,
      code: (reply.body as { code?: string }).code,
    });
    o.onAnswered?.(methodLabel(info.method), 'unmatched', reply.status, 0);
    send(res, state, info.requestId, reply);
  });

  return { stats };
}

function invalid(errors: readonly FieldError[], requestId: string): Reply {
  const detail = errors.map((e) => `${e.field}: ${e.message}`).join('; ');
  return problem('INVALID_ARGUMENT', detail, requestId, errors);
}

/** The body as JSON valid against the route's schema, and the query parsed; or the problem to answer. */
function parseInput(
  spec: RouteSpec,
  info: RequestInfo,
  raw: Buffer | undefined,
  contentType: string,
): Reply | { body: unknown; query: Record<string, unknown> } {
  let body: unknown;
  if (raw !== undefined) {
    if (contentType !== 'application/json' && !contentType.endsWith('+json')) {
      return problem(
        'UNSUPPORTED_MEDIA_TYPE',
        `content-type must be application/json, got ${contentType === '' ? 'none' : contentType}`,
        info.requestId,
      );
    }
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch (err) {
      return problem('INVALID_JSON', `the body is not valid JSON: ${(err as Error).message}`, info.requestId);
    }
    const errors = validate(spec.body!, body);
    if (errors.length > 0) return invalid(errors, info.requestId);
  }
  let query: Record<string, unknown> = {};
  if (spec.query) {
    const parsed = parseQuery(info.query, spec.query);
    if (parsed.errors.length > 0) return invalid(parsed.errors, info.requestId);
    query = parsed.value;
  } else if (info.query !== '') {
    return invalid([{ field: 'query', message: 'this endpoint takes no query parameters' }], info.requestId);
  }
  return { body, query };
}
