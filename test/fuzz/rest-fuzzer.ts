/**
 * The REST fuzzer: requests generated from the server's own OpenAPI document
 * (`GET /openapi.json`) with fast-check, then mutated: types, bounds, Unicode,
 * path ids, methods, content types, raw bytes, query strings, headers; signed
 * webhooks included (the fuzzer signs what it mutates). Every answer must be
 * below 500 and, when an error, a problem body whose code is in the error
 * table with that code's status.
 */
import fc from 'fast-check';
import { signWebhook } from '../../adapters/http/handlers/payment-webhook.js';
import { ErrorCodes } from '../../protocol/index.js';
import { LINE_TEXT, MULTILINE_TEXT } from '../../protocol/rest/text-policy.js';
import type { Actor } from './fuzz-world.js';

type Json = any;

export interface RestCase {
  readonly method: string;
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body: Uint8Array | undefined;
  /** What was mutated, for the report. */
  readonly how: string;
}

export interface RestOutcome {
  readonly status: number;
  readonly code: string | undefined;
  /** Why the answer breaks a rule; undefined when it is fine. */
  readonly wrong: string | undefined;
  readonly text: string;
}

// ─── Values ───

const EVIL_STRINGS = [
  '',
  '\u0000',
  'a\u0000b',
  '\ud800',
  '\udfff',
  'a\udc00\ud800b',
  '\ud83d',
  '😀',
  '\u202e',
  '\ufeff',
  '\uffff',
  '\ufffe',
  '\u0085',
  '\u001b[31m',
  '\r\n',
  '\t',
  'line\nbreak',
  '%00',
  '..',
  '../../etc/passwd',
  "' OR 1=1 --",
  '"; DROP TABLE users; --',
  '${jndi:x}',
  '<script>',
  'é',
  'e\u0301',
  'ज़',
  '\u0000'.repeat(50),
  'x'.repeat(300),
  'x'.repeat(5000),
  '0',
  '-1',
  'null',
  'true',
  '1e309',
] as const;
const EVIL_NUMBERS = [
  -1,
  0,
  -0,
  0.1,
  0.001,
  1.005,
  99.999,
  2 ** 31 - 1,
  2 ** 31,
  2 ** 32,
  2 ** 53,
  2 ** 53 + 2,
  -(2 ** 31) - 1,
  1e21,
  1e308,
  -1e308,
  5e-324,
  360,
  90.0000001,
  -180.5,
] as const;

export const evilString: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...EVIL_STRINGS) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 40 }) },
  // Lone surrogates and controls spliced into ordinary text.
  {
    weight: 2,
    arbitrary: fc
      .tuple(fc.string({ maxLength: 10 }), fc.integer({ min: 0, max: 0xffff }), fc.string({ maxLength: 10 }))
      .map(([a, c, b]) => a + String.fromCharCode(c) + b),
  },
);
const evilNumber: fc.Arbitrary<number> = fc.oneof(
  fc.constantFrom(...EVIL_NUMBERS),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.integer(),
);
const evilValue: fc.Arbitrary<Json> = fc.oneof(
  evilString,
  evilNumber,
  fc.constant(null),
  fc.boolean(),
  fc.constant([]),
  fc.constant({}),
  fc.jsonValue({ maxDepth: 3 }),
  fc.array(evilString, { maxLength: 3 }),
);

// ─── Valid values from a JSON Schema (the subset TypeBox emits) ───

/** An arbitrary of values valid against `s`; `ids` offers real values (ids, coordinates) for fields of those names. */
export function valueOf(s: Json, ids: Readonly<Record<string, readonly unknown[]>>, name = ''): fc.Arbitrary<Json> {
  const pool = ids[name];
  const base = baseValueOf(s, ids, name);
  return pool && pool.length > 0 && s.type !== 'string' && s.type !== 'array'
    ? fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...pool) }, { weight: 1, arbitrary: base })
    : base;
}

function baseValueOf(s: Json, ids: Readonly<Record<string, readonly unknown[]>>, name: string): fc.Arbitrary<Json> {
  if (s.anyOf) return fc.oneof(...(s.anyOf as Json[]).map((x) => valueOf(x, ids, name)));
  if (s.const !== undefined) return fc.constant(s.const);
  switch (s.type) {
    case 'object': {
      const props = Object.entries((s.properties ?? {}) as Record<string, Json>);
      const required = new Set<string>(s.required ?? []);
      const rec: Record<string, fc.Arbitrary<Json>> = {};
      for (const [k, v] of props) rec[k] = valueOf(v, ids, k);
      if (props.length === 0) return fc.constant({});
      return fc.record(rec, { requiredKeys: props.map(([k]) => k).filter((k) => required.has(k)) });
    }
    case 'array': {
      const max = Math.min(s.maxItems ?? 4, 4);
      return fc.array(valueOf(s.items ?? {}, ids, name), { minLength: Math.min(s.minItems ?? 0, max), maxLength: max });
    }
    case 'string':
      return stringOf(s, ids[name] as readonly string[] | undefined);
    case 'integer':
      return fc.integer({ min: s.minimum ?? -1_000_000, max: s.maximum ?? 1_000_000 });
    case 'number': {
      const min = s.minimum ?? s.exclusiveMinimum ?? -1e6;
      const max = s.maximum ?? s.exclusiveMaximum ?? 1e6;
      // Amounts take two decimals: round, then keep inside the bounds.
      return fc
        .double({
          min,
          max,
          noNaN: true,
          minExcluded: s.exclusiveMinimum !== undefined,
          maxExcluded: s.exclusiveMaximum !== undefined,
        })
        .map((x) => {
          const r = Math.round(x * 100) / 100;
          return r >= min && r <= max && r !== s.exclusiveMinimum && r !== s.exclusiveMaximum ? r : x;
        });
    }
    case 'boolean':
      return fc.boolean();
    default:
      return fc.jsonValue({ maxDepth: 2 });
  }
}

function stringOf(s: Json, pool: readonly string[] | undefined): fc.Arbitrary<string> {
  const min = s.minLength ?? 0;
  const max = Math.min(s.maxLength ?? 60, 60);
  let base: fc.Arbitrary<string>;
  if (s.format === 'date-time') {
    base = fc
      .date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2100-01-01T00:00:00Z'), noInvalidDate: true })
      .map((d) => d.toISOString());
  } else if (s.format === 'email') base = fc.emailAddress().filter((e) => e.length <= (s.maxLength ?? 254));
  else if (s.format === 'uri') base = fc.webUrl().filter((u) => u.length <= (s.maxLength ?? 2000));
  else if (s.pattern === LINE_TEXT || s.pattern === MULTILINE_TEXT) {
    const re = new RegExp(s.pattern as string);
    base = fc
      .string({ unit: 'grapheme', minLength: min, maxLength: max })
      .filter((x) => re.test(x) && x.length >= min && x.length <= (s.maxLength ?? Infinity));
  } else if (s.pattern) {
    base = fc
      .stringMatching(new RegExp(s.pattern as string))
      .filter((x) => x.length >= min && x.length <= (s.maxLength ?? Infinity));
  } else base = fc.string({ minLength: min, maxLength: max });
  // Mostly real ids, so valid requests get past the lookups to the writes.
  return pool && pool.length > 0
    ? fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...pool) }, { weight: 1, arbitrary: base })
    : base;
}

// ─── Mutations ───

type Path = (string | number)[];

function pathsOf(v: Json, at: Path = [], out: Path[] = []): Path[] {
  out.push(at);
  if (Array.isArray(v)) v.forEach((x, i) => pathsOf(x, [...at, i], out));
  else if (v !== null && typeof v === 'object') for (const [k, x] of Object.entries(v)) pathsOf(x, [...at, k], out);
  return out;
}

function setAt(v: Json, p: Path, value: Json | typeof DELETE): Json {
  if (p.length === 0) return value === DELETE ? undefined : value;
  const copy = Array.isArray(v) ? [...v] : { ...v };
  const [k, ...rest] = p;
  if (rest.length === 0 && value === DELETE) {
    if (Array.isArray(copy)) copy.splice(k as number, 1);
    // eslint-disable-next-line @typescript-eslint/no-dynamic-delete -- removing the field at the path is the mutation
    else delete copy[k as string];
  } else copy[k as never] = setAt(copy[k as never], rest, value) as never;
  return copy;
}
const DELETE = Symbol('delete');

/** A valid value, or one with a field replaced, removed or added. */
function mutateValue(valid: fc.Arbitrary<Json>): fc.Arbitrary<{ value: Json; how: string }> {
  return valid.chain((v) => {
    const paths = pathsOf(v);
    return fc.oneof(
      { weight: 5, arbitrary: fc.constant({ value: v, how: 'valid' }) },
      {
        weight: 6,
        arbitrary: fc
          .tuple(fc.nat(paths.length - 1), evilValue)
          .map(([i, x]) => ({ value: setAt(v, paths[i]!, x), how: `set /${paths[i]!.join('/')}` })),
      },
      {
        weight: 2,
        arbitrary: fc
          .nat(paths.length - 1)
          .map((i) => ({ value: setAt(v, paths[i]!, DELETE), how: `drop /${paths[i]!.join('/')}` })),
      },
      {
        weight: 1,
        arbitrary: fc.tuple(fc.nat(paths.length - 1), evilString, evilValue).map(([i, k, x]) => {
          const target = paths[i]!;
          return { value: setAt(v, [...target, k], x), how: `add /${target.join('/')}/${JSON.stringify(k)}` };
        }),
      },
      { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 4 }).map((x) => ({ value: x, how: 'replace body' })) },
    );
  });
}

const RAW_SEGMENTS = [
  '%00',
  'a%00b',
  '%ED%A0%80',
  '%E0%A4%A',
  '%FF',
  '%2e%2e',
  'x'.repeat(65),
  '%20',
  '%C3%A9',
  '%0A',
  '%25',
  'a;b',
  'a%2Fb',
  '-',
  '_',
  '',
];

function segmentOf(pool: readonly string[]): fc.Arbitrary<string> {
  const encoded = evilString.map((s) => {
    try {
      return encodeURIComponent(s);
    } catch {
      return '%ED%A0%80';
    }
  });
  return fc.oneof(
    { weight: 3, arbitrary: pool.length > 0 ? fc.constantFrom(...pool) : fc.uuid() },
    { weight: 2, arbitrary: fc.uuid() },
    { weight: 2, arbitrary: fc.constantFrom(...RAW_SEGMENTS) },
    { weight: 2, arbitrary: encoded },
  );
}

/** Bytes of a body: the JSON, or a byte-level mutation of it. */
function bytesOf(json: string): fc.Arbitrary<{ bytes: Uint8Array; how: string }> {
  const b = Buffer.from(json, 'utf8');
  return fc.oneof(
    { weight: 8, arbitrary: fc.constant({ bytes: new Uint8Array(b), how: '' }) },
    {
      weight: 1,
      arbitrary: fc.nat(b.length).map((n) => ({ bytes: new Uint8Array(b.subarray(0, n)), how: ' truncated' })),
    },
    {
      weight: 1,
      arbitrary: fc.tuple(fc.nat(Math.max(0, b.length - 1)), fc.integer({ min: 0, max: 255 })).map(([i, x]) => {
        const c = Buffer.from(b);
        if (c.length > 0) c[i] = x;
        return { bytes: new Uint8Array(c), how: ` byte ${i}=${x}` };
      }),
    },
    {
      weight: 1,
      arbitrary: fc
        .constantFrom(
          '\ufeff' + json,
          '['.repeat(20_000) + ']'.repeat(20_000),
          `{"a":${'['.repeat(10_000)}${']'.repeat(10_000)}}`,
          'null',
          '""',
          '0',
          '[]',
        )
        .map((s) => ({ bytes: new Uint8Array(Buffer.from(s)), how: ' raw' })),
    },
  );
}

const CONTENT_TYPES = [
  'text/plain',
  '',
  'application/json; charset=utf-16',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/problem+json',
  'APPLICATION/JSON',
  'application/json;;',
  'application/vnd.api+json',
];
const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS'];

export interface RestFuzzTarget {
  readonly openapi: Json;
  readonly actors: readonly Actor[];
  readonly ids: Readonly<Record<string, readonly unknown[]>>;
  readonly webhookSecret: string;
}

/** An arbitrary of requests: one of the document's operations, valid or mutated. */
export function restCases(target: RestFuzzTarget): fc.Arbitrary<RestCase> {
  const ops: fc.Arbitrary<RestCase>[] = [];
  for (const [path, item] of Object.entries(target.openapi.paths as Record<string, Record<string, Json>>)) {
    for (const [method, op] of Object.entries(item)) ops.push(operationCases(target, path, method.toUpperCase(), op));
  }
  return fc.oneof(...ops);
}

function operationCases(target: RestFuzzTarget, path: string, method: string, op: Json): fc.Arbitrary<RestCase> {
  const params = (op.parameters ?? []) as Json[];
  const pathNames = params.filter((p) => p.in === 'path').map((p) => p.name as string);
  const query = params.filter((p) => p.in === 'query');
  const bodySchema = op.requestBody?.content?.['application/json']?.schema;
  const webhook = path === '/payments/webhook';

  const segments = fc.tuple(...pathNames.map((n) => segmentOf((target.ids[n] ?? []) as readonly string[])));
  const queryArb: fc.Arbitrary<{ q: string; how: string }> =
    query.length > 0
      ? mutateValue(
          valueOf(
            {
              type: 'object',
              properties: Object.fromEntries(query.map((p) => [p.name, p.schema])),
              required: query.filter((p) => p.required).map((p) => p.name),
            },
            target.ids,
          ),
        ).map(({ value, how }) => {
          if (value === null || typeof value !== 'object' || Array.isArray(value))
            return { q: `?${encodeURIComponent(String(JSON.stringify(value)))}`, how: `query ${how}` };
          const sp = new URLSearchParams();
          for (const [k, v] of Object.entries(value)) sp.append(k, typeof v === 'string' ? v : JSON.stringify(v));
          return { q: sp.size > 0 ? `?${sp.toString()}` : '', how: `query ${how}` };
        })
      : fc.oneof(
          { weight: 9, arbitrary: fc.constant({ q: '', how: '' }) },
          {
            weight: 1,
            arbitrary: fc.constantFrom('?a=1', '?%zz', '?x=%00', '?=&&=').map((q) => ({ q, how: 'query' })),
          },
        );
  const bodyArb: fc.Arbitrary<{ bytes: Uint8Array | undefined; how: string }> = bodySchema
    ? mutateValue(valueOf(bodySchema, target.ids)).chain(({ value, how }) =>
        bytesOf(JSON.stringify(value) ?? '').map((b) => ({ bytes: b.bytes, how: `body ${how}${b.how}` })),
      )
    : fc.oneof(
        { weight: 9, arbitrary: fc.constant({ bytes: undefined, how: '' }) },
        { weight: 1, arbitrary: fc.constant({ bytes: new Uint8Array(Buffer.from('{"x":1}')), how: 'body on a GET' }) },
      );

  return fc
    .record({
      segs: segments,
      query: queryArb,
      body: bodyArb,
      method: fc.oneof(
        { weight: 9, arbitrary: fc.constant(method) },
        { weight: 1, arbitrary: fc.constantFrom(...METHODS) },
      ),
      contentType: fc.oneof(
        { weight: 9, arbitrary: fc.constant('application/json') },
        { weight: 1, arbitrary: fc.constantFrom(...CONTENT_TYPES) },
      ),
      actor: fc.constantFrom(...target.actors),
      auth: fc.oneof(
        { weight: 12, arbitrary: fc.constant('token') },
        { weight: 1, arbitrary: fc.constantFrom('Bearer x.y.z', 'Bearer ', 'Basic abc', 'bearer') },
      ),
      signed: fc.oneof({ weight: 9, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
      idem: fc.option(fc.oneof(fc.uuid(), fc.constantFrom('', ' ', 'x'.repeat(256), 'é', 'a b')), { freq: 3 }),
      prefix: fc.constantFrom('', '/v1'),
    })
    .map((r) => {
      let p = path;
      pathNames.forEach((n, i) => (p = p.replace(`{${n}}`, r.segs[i]!)));
      const headers: Record<string, string> = {};
      if (r.actor.token !== undefined)
        headers['authorization'] = r.auth === 'token' ? `Bearer ${r.actor.token}` : r.auth;
      if (r.body.bytes !== undefined && r.contentType !== '') headers['content-type'] = r.contentType;
      if (webhook && r.body.bytes !== undefined) {
        headers['x-razorpay-signature'] = r.signed ? signWebhook(target.webhookSecret, r.body.bytes) : 'f'.repeat(64);
        headers['x-razorpay-event-id'] = `evt_${r.segs.length}${r.body.bytes.length}_${r.body.bytes[3] ?? 0}`;
      }
      if (r.idem !== null) headers['idempotency-key'] = r.idem;
      const how = [
        r.method !== method ? `method ${r.method}` : '',
        r.query.how,
        r.body.how,
        r.contentType !== 'application/json' ? `type ${JSON.stringify(r.contentType)}` : '',
        r.auth !== 'token' ? 'bad auth' : '',
        webhook && !r.signed ? 'unsigned' : '',
      ]
        .filter(Boolean)
        .join(', ');
      return {
        method: r.method,
        path: `${r.prefix}${p}${r.query.q}`,
        headers,
        body: r.method === 'GET' || r.method === 'HEAD' ? undefined : r.body.bytes,
        how: how || 'valid',
      };
    });
}

/** Sends one case and judges the answer. A transport error (no answer at all) is wrong too. */
export async function sendRestCase(url: string, c: RestCase): Promise<RestOutcome> {
  let res: Response;
  try {
    res = await fetch(`${url}${c.path}`, { method: c.method, headers: c.headers, ...(c.body ? { body: c.body } : {}) });
  } catch (err) {
    const cause = (err as { cause?: { message?: string } }).cause?.message ?? '';
    // The client refused to send it (an invalid URL or header): not the server's answer.
    if (err instanceof TypeError && !/other side closed|ECONNRESET|socket/i.test(`${err.message} ${cause}`)) {
      return { status: 0, code: undefined, wrong: undefined, text: `not sent: ${err.message}` };
    }
    return { status: -1, code: undefined, wrong: `no answer: ${(err as Error).message} ${cause}`, text: '' };
  }
  const text = await res.text();
  let body: Json;
  try {
    body = text === '' ? null : JSON.parse(text);
  } catch {
    body = undefined;
  }
  const code = typeof body?.code === 'string' ? body.code : undefined;
  let wrong: string | undefined;
  if (res.status >= 500) wrong = `status ${res.status}`;
  else if (res.status >= 400 && c.method !== 'HEAD') {
    if (code === undefined || !Object.hasOwn(ErrorCodes, code))
      wrong = `error without a code of the table: ${text.slice(0, 200)}`;
    else if (ErrorCodes[code as keyof typeof ErrorCodes].http !== res.status)
      wrong = `${code} answered with ${res.status}`;
    else if (!String(res.headers.get('content-type')).includes('application/problem+json'))
      wrong = 'error not application/problem+json';
  }
  return { status: res.status, code, wrong, text: text.slice(0, 300) };
}

/** A request as the report prints it. */
export function describeCase(c: RestCase): string {
  const body =
    c.body === undefined
      ? ''
      : ` body=${JSON.stringify(Buffer.from(c.body).toString('utf8').slice(0, 200))}${c.body.length > 200 ? `…(${c.body.length} B)` : ''}`;
  return `${c.method} ${c.path.slice(0, 200)} [${c.how}]${body}`;
}

export interface FuzzTally {
  sent: number;
  /** Answers by status (0: the client could not send it). */
  readonly byStatus: Record<string, number>;
  readonly byCode: Record<string, number>;
  /** Requests whose answer broke a rule, with what was sent and got. */
  readonly failures: string[];
}

export const newTally = (): FuzzTally => ({ sent: 0, byStatus: {}, byCode: {}, failures: [] });

/**
 * Sends `count` generated requests (`concurrency` in flight), batch by batch
 * so a long run does not hold them all; `log` hears every request and answer.
 */
export async function fuzzRest(
  url: string,
  target: RestFuzzTarget,
  o: { count: number; seed: number; concurrency?: number; log?: (line: string) => void; tally?: FuzzTally },
): Promise<FuzzTally> {
  const tally = o.tally ?? newTally();
  const arb = restCases(target);
  const BATCH = 200;
  for (let done = 0, batch = 0; done < o.count; batch++) {
    const cases = fc.sample(arb, { seed: o.seed + batch, numRuns: Math.min(BATCH, o.count - done) });
    done += cases.length;
    let next = 0;
    const worker = async () => {
      while (next < cases.length) {
        const c = cases[next++]!;
        const r = await sendRestCase(url, c);
        tally.sent++;
        tally.byStatus[r.status] = (tally.byStatus[r.status] ?? 0) + 1;
        if (r.code) tally.byCode[r.code] = (tally.byCode[r.code] ?? 0) + 1;
        o.log?.(`${describeCase(c)} -> ${r.status} ${r.code ?? ''}`);
        if (r.wrong) tally.failures.push(`${describeCase(c)} -> ${r.wrong}: ${r.text}`);
      }
    };
    await Promise.all(Array.from({ length: o.concurrency ?? 8 }, worker));
  }
  return tally;
}
