/**
 * Reading requests and writing responses on uWebSockets.js, with its rules
 * kept in one place: headers are copied before the handler returns (the
 * request object dies then), `onAborted` is registered before any await, a
 * response is written once, inside `cork`, and never after the client left.
 */
import { randomUUID } from 'node:crypto';
import type { HttpRequest, HttpResponse } from 'uWebSockets.js';
import { ErrorCodes, type ErrorCode } from '../../protocol/index.js';

/** What a handler sees of a request: plain data, no uWS objects. */
export interface RequestInfo {
  readonly method: string;
  readonly path: string;
  readonly query: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly params: Readonly<Record<string, string>>;
  readonly requestId: string;
  readonly remote: string;
}

export interface Reply {
  readonly status: number;
  readonly body: unknown;
  readonly headers?: Readonly<Record<string, string>>;
}

/** A problem detail field: `errors: [{ field, message }]`. */
export interface FieldError {
  readonly field: string;
  readonly message: string;
}

/** Set by the route's `onAborted`, registered first thing. */
export interface AbortState {
  aborted: boolean;
  onAbort?: (() => void) | undefined;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

const STATUS_TEXT: Readonly<Record<number, string>> = {
  200: 'OK',
  201: 'Created',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  426: 'Upgrade Required',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  503: 'Service Unavailable',
};

/** Headers every answer carries: it is an API, never a page to frame, sniff or cache. */
const SECURITY_HEADERS: readonly [string, string][] = [
  ['x-content-type-options', 'nosniff'],
  ['x-frame-options', 'DENY'],
  ['referrer-policy', 'no-referrer'],
  ['content-security-policy', "default-src 'none'; frame-ancestors 'none'"],
  ['cache-control', 'no-store'],
  ['strict-transport-security', 'max-age=31536000'],
];

/** A path parameter; malformed percent-encoding is kept as sent (it then names no object) rather than thrown. */
function decodeParam(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

/** Copies what the handler needs from the request; must run before the handler returns. */
export function readRequest(
  res: HttpResponse,
  req: HttpRequest,
  paramNames: readonly string[],
  trustProxy: boolean,
): RequestInfo {
  const headers: Record<string, string> = {};
  req.forEach((k, v) => {
    headers[k] = v;
  });
  const params: Record<string, string> = {};
  paramNames.forEach((name, i) => {
    params[name] = decodeParam(req.getParameter(i) ?? '');
  });
  const given = headers['x-request-id'];
  const forwarded = trustProxy ? headers['x-forwarded-for']?.split(',')[0]?.trim() : undefined;
  return {
    method: req.getMethod().toUpperCase(),
    path: req.getUrl(),
    query: req.getQuery() ?? '',
    headers,
    params,
    requestId: given !== undefined && REQUEST_ID.test(given) ? given : randomUUID(),
    remote: forwarded || Buffer.from(res.getRemoteAddressAsText()).toString(),
  };
}

/**
 * Collects the body up to `limit` bytes. Resolves `too-large` as soon as the
 * limit is passed (the rest is not buffered) and `aborted` when the client
 * went away.
 */
export function readBody(
  res: HttpResponse,
  limit: number,
  state: AbortState,
): Promise<Buffer | 'too-large' | 'aborted'> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    res.onData((chunk, isLast) => {
      if (done) return;
      size += chunk.byteLength;
      if (size > limit) {
        done = true;
        resolve('too-large');
        return;
      }
      // uWS reuses the chunk's memory after this callback: copy it.
      chunks.push(Buffer.from(new Uint8Array(chunk.slice(0))));
      if (isLast) {
        done = true;
        resolve(Buffer.concat(chunks, size));
      }
    });
    // An abort ends the wait too.
    state.onAbort = () => {
      if (!done) {
        done = true;
        resolve('aborted');
      }
    };
  });
}

/** The RFC 9457 body of a coded error. */
export function problem(code: ErrorCode, detail: string, requestId: string, errors?: readonly FieldError[]): Reply {
  const spec = ErrorCodes[code];
  return {
    status: spec.http,
    body: {
      type: `https://dispatch-engine.dev/errors/${code.toLowerCase().replace(/_/g, '-')}`,
      title: spec.title,
      status: spec.http,
      code,
      detail,
      request_id: requestId,
      ...(errors && errors.length > 0 ? { errors } : {}),
    },
    headers: { 'content-type': 'application/problem+json' },
  };
}

/** Writes a reply unless the client went away. */
export function send(res: HttpResponse, state: AbortState, requestId: string, reply: Reply): void {
  if (state.aborted) return;
  const body = JSON.stringify(reply.body);
  res.cork(() => {
    res.writeStatus(`${reply.status} ${STATUS_TEXT[reply.status] ?? ''}`.trim());
    res.writeHeader('content-type', reply.headers?.['content-type'] ?? 'application/json; charset=utf-8');
    res.writeHeader('x-request-id', requestId);
    for (const [k, v] of SECURITY_HEADERS) res.writeHeader(k, v);
    for (const [k, v] of Object.entries(reply.headers ?? {})) {
      if (k !== 'content-type') res.writeHeader(k, v);
    }
    res.end(body);
  });
}
