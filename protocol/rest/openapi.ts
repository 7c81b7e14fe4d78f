/**
 * The OpenAPI 3.1 document of the REST API, generated from the route table
 * and its TypeBox schemas (JSON Schema 2020-12 is what OpenAPI 3.1 speaks).
 */
import { ErrorCodes, type ErrorCode } from '../errors.js';
import { ROUTES, type RouteSpec } from './routes.js';
import { Id, Problem, type TSchema } from './schemas.js';

const COMMON_AUTH_ERRORS: readonly ErrorCode[] = [
  'AUTH_TOKEN_MISSING',
  'AUTH_TOKEN_INVALID',
  'AUTH_ROLE_FORBIDDEN',
  'RATE_LIMITED',
  'DEPENDENCY_UNAVAILABLE',
];

// TypeBox keeps its own markers on symbols; JSON.stringify drops them, which is what a document needs.
const plain = (s: TSchema): unknown => JSON.parse(JSON.stringify(s));

function queryParameters(schema: TSchema): unknown[] {
  const props = (schema as { properties?: Record<string, TSchema> }).properties ?? {};
  const required = new Set((schema as { required?: string[] }).required ?? []);
  return Object.entries(props).map(([name, s]) => ({
    name,
    in: 'query',
    required: required.has(name),
    schema: plain(s),
  }));
}

function pathParameters(path: string): unknown[] {
  return [...path.matchAll(/\{([a-z_]+)\}/g)].map((m) => ({
    name: m[1],
    in: 'path',
    required: true,
    schema: plain(Id),
  }));
}

function operation(r: RouteSpec): Record<string, unknown> {
  const codes = [...r.errors, ...(r.auth ? COMMON_AUTH_ERRORS : [])];
  const byStatus = new Map<number, ErrorCode[]>();
  for (const c of codes) {
    const status = ErrorCodes[c].http;
    byStatus.set(status, [...(byStatus.get(status) ?? []), c]);
  }
  const responses: Record<string, unknown> = {
    [String(r.status)]: { description: 'Success', content: { 'application/json': { schema: plain(r.response) } } },
  };
  for (const [status, cs] of [...byStatus].sort((a, b) => a[0] - b[0])) {
    responses[String(status)] = {
      description: cs.map((c) => `${c}: ${ErrorCodes[c].title}`).join('; '),
      content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
    };
  }
  const parameters = [...pathParameters(r.path), ...(r.query ? queryParameters(r.query) : [])];
  if (r.idempotent) {
    parameters.push({
      name: 'Idempotency-Key',
      in: 'header',
      required: false,
      schema: { type: 'string', maxLength: 255 },
      description: 'A retried request with the same key returns the first result instead of acting twice',
    });
  }
  return {
    operationId: r.id,
    summary: r.summary,
    ...(r.auth ? {} : { security: [] }),
    ...(parameters.length > 0 ? { parameters } : {}),
    ...(r.body ? { requestBody: { required: true, content: { 'application/json': { schema: plain(r.body) } } } } : {}),
    responses,
  };
}

/** Builds the document; `version` is the server's. */
export function buildOpenApi(version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of ROUTES as readonly RouteSpec[]) {
    (paths[r.path] ??= {})[r.method] = operation(r);
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Dispatch engine REST API',
      version,
      description:
        'The seed delivery API (orders, payments, users, restaurants, delivery persons) in front of the dispatch engine. Errors are RFC 9457 problem details whose `code` is from the error table.',
    },
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    servers: [{ url: '/' }],
    security: [{ firebase: [] }],
    components: {
      securitySchemes: { firebase: { type: 'http', scheme: 'bearer', bearerFormat: 'Firebase ID token (JWT)' } },
      schemas: { Problem: plain(Problem) },
    },
    paths,
  };
}
