/**
 * The one text policy of the REST API (and of signed webhooks): what text the
 * server takes, decided once at the edge so nothing the database cannot store
 * (a NUL, a lone surrogate) or a screen cannot show reaches a handler.
 *
 * - Every string, and every object key, anywhere in a body, a query or a path
 *   id must be valid Unicode (no lone UTF-16 surrogate) with no control
 *   character (C0, DEL, C1) except tab, line feed and carriage return.
 * - A declared text field is single-line (`LINE_TEXT`): no tab or line break
 *   either. Fields made for prose (instructions, descriptions, reasons) take
 *   `MULTILINE_TEXT`, which allows them.
 *
 * The patterns are JSON Schema `pattern`s (ECMA-262, no flags needed), so the
 * OpenAPI document tells clients the same rule the gateway enforces.
 */

const PAIR = '[\\ud800-\\udbff][\\udc00-\\udfff]';
/** One line of text: no control characters, no lone surrogates. */
export const LINE_TEXT = `^(?:[^\\u0000-\\u001f\\u007f-\\u009f\\ud800-\\udfff]|${PAIR})*$`;
/** Prose: like `LINE_TEXT`, plus tab, line feed and carriage return. */
const PROSE_CHAR = '[^\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f\\u007f-\\u009f\\ud800-\\udfff]';
export const MULTILINE_TEXT = `^(?:${PROSE_CHAR}|${PAIR})*$`;

const ANY_TEXT = new RegExp(MULTILINE_TEXT);
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** What is wrong with `s` under the policy for any string, or undefined when it is fine. */
export function textProblem(s: string): string | undefined {
  if (ANY_TEXT.test(s)) return undefined;
  if (s.includes('\u0000')) return 'must not contain NUL (\\u0000)';
  if (LONE_SURROGATE.test(s)) return 'must be valid Unicode (a lone surrogate was sent)';
  return 'must not contain control characters';
}

/** The message for a declared field whose pattern is one of the policy's. */
export function policyMessage(pattern: unknown, value: unknown): string | undefined {
  if (pattern !== LINE_TEXT && pattern !== MULTILINE_TEXT) return undefined;
  const why = typeof value === 'string' ? textProblem(value) : undefined;
  return why ?? 'must be a single line of text (no tab or line break)';
}

/** A bad string found by `findBadText`: where (JSON-pointer-ish, as validation names fields) and why. */
export interface BadText {
  readonly field: string;
  readonly message: string;
}

/**
 * The first string or key anywhere in `value` that breaks the policy. Walks
 * what JSON.parse can make, with a stack of its own rather than recursion: a
 * body of nested arrays as deep as the body limit allows must not overflow.
 */
export function findBadText(value: unknown): BadText | undefined {
  const stack: [unknown, string][] = [[value, '']];
  const name = (at: string) => (at === '' ? '(body)' : at);
  const join = (at: string, k: string | number) => (at === '' ? String(k) : `${at}/${k}`);
  while (stack.length > 0) {
    const [v, at] = stack.pop()!;
    if (typeof v === 'string') {
      const why = textProblem(v);
      if (why !== undefined) return { field: name(at), message: why };
    } else if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push([v[i], join(at, i)]);
    } else if (v !== null && typeof v === 'object') {
      const entries = Object.entries(v);
      for (const [k] of entries) {
        const why = textProblem(k);
        if (why !== undefined) return { field: name(at), message: `a field name ${why}` };
      }
      for (let i = entries.length - 1; i >= 0; i--) stack.push([entries[i]![1], join(at, entries[i]![0])]);
    }
  }
  return undefined;
}
