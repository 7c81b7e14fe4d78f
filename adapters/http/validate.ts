/**
 * Request validation from the REST schemas (protocol/rest/schemas.ts),
 * compiled once, after the text policy (protocol/rest/text-policy.ts) has
 * looked at every string and key, declared or not. Failures name each bad
 * field as a JSON pointer-ish path (`items/0/quantity`) with a message a
 * developer can act on.
 */
import { FormatRegistry, type TSchema } from '@sinclair/typebox';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import { ValueErrorType } from '@sinclair/typebox/errors';
import { findBadText, policyMessage } from '../../protocol/rest/text-policy.js';
import type { FieldError } from './http-io.js';

const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;
FormatRegistry.Set('date-time', (v) => DATE_TIME.test(v) && !Number.isNaN(Date.parse(v)));
FormatRegistry.Set('email', (v) => /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(v));
FormatRegistry.Set('uri', (v) => {
  try {
    const u = new URL(v);
    return u.protocol === 'https:' || u.protocol === 'http:';
  } catch {
    return false;
  }
});

const compiled = new WeakMap<TSchema, TypeCheck<TSchema>>();

function checkerOf(schema: TSchema): TypeCheck<TSchema> {
  let c = compiled.get(schema);
  if (c === undefined) {
    c = TypeCompiler.Compile(schema);
    compiled.set(schema, c);
  }
  return c;
}

/** The errors of `value` against `schema`; empty when it conforms. At most 20, one per field. */
export function validate(schema: TSchema, value: unknown): FieldError[] {
  // Text no field may hold is refused first, wherever it is (open objects too).
  const bad = findBadText(value);
  if (bad) return [bad];
  const c = checkerOf(schema);
  if (c.Check(value)) return [];
  const out: FieldError[] = [];
  const seen = new Set<string>();
  for (const e of c.Errors(value)) {
    const field = e.path.replace(/^\//, '') || '(body)';
    // A union reports each branch's complaint; the first per field is the useful one.
    if (seen.has(field)) continue;
    seen.add(field);
    let message = e.message;
    if (e.type === ValueErrorType.ObjectAdditionalProperties || message === 'Unexpected property')
      message = 'unknown field';
    else if (e.type === ValueErrorType.Union) message = unionMessage(e.schema);
    else if (e.type === ValueErrorType.StringPattern) {
      message = policyMessage((e.schema as { pattern?: unknown }).pattern, e.value) ?? message;
    }
    out.push({ field, message });
    if (out.length >= 20) break;
  }
  return out;
}

function unionMessage(schema: TSchema): string {
  const literals = ((schema as { anyOf?: TSchema[] }).anyOf ?? [])
    .map((s) => (s as { const?: unknown }).const)
    .filter((v) => v !== undefined);
  if (literals.length > 0) return `must be one of ${literals.map((v) => JSON.stringify(v)).join(', ')}`;
  const tags = ((schema as { anyOf?: TSchema[] }).anyOf ?? [])
    .map((s) => (s as { properties?: { type?: { const?: unknown } } }).properties?.type?.const)
    .filter((v) => v !== undefined);
  if (tags.length > 0)
    return `must be an object whose type is one of ${tags.map((v) => JSON.stringify(v)).join(', ')}, with that type's fields`;
  return 'does not match any allowed shape';
}

/**
 * A query string → an object for the query schema: numbers and booleans
 * where the schema wants them, so `?limit=10` validates as an integer.
 */
export function parseQuery(query: string, schema: TSchema): { value: Record<string, unknown>; errors: FieldError[] } {
  const props = (schema as { properties?: Record<string, { type?: string }> }).properties ?? {};
  const value: Record<string, unknown> = {};
  const errors: FieldError[] = [];
  for (const [k, raw] of new URLSearchParams(query)) {
    if (Object.hasOwn(value, k)) {
      errors.push({ field: k, message: 'given more than once' });
      continue;
    }
    const type = props[k]?.type;
    if (type === 'integer' || type === 'number') {
      const n = raw.trim() === '' ? NaN : Number(raw);
      value[k] = Number.isNaN(n) ? raw : n;
    } else if (type === 'boolean') value[k] = raw === 'true' ? true : raw === 'false' ? false : raw;
    else value[k] = raw;
  }
  return { value, errors: [...errors, ...validate(schema, value)] };
}
