import t from 'tap';
import { grpcError } from '../../adapters/admin/grpc-errors.js';
import { ErrorCodes, isErrorCode, reject, type ErrorCode } from '../../protocol/index.js';

/** The one error-code table itself: every entry well formed, and the codes other modules rely on. */

const GRPC = new Set([
  'INVALID_ARGUMENT',
  'NOT_FOUND',
  'ALREADY_EXISTS',
  'PERMISSION_DENIED',
  'UNAUTHENTICATED',
  'FAILED_PRECONDITION',
  'ABORTED',
  'RESOURCE_EXHAUSTED',
  'UNAVAILABLE',
  'INTERNAL',
]);

t.test('every code: an HTTP error status, a gRPC status name, a title', async (t) => {
  for (const [code, spec] of Object.entries(ErrorCodes)) {
    t.match(code, /^[A-Z][A-Z0-9_]+$/, `${code} is UPPER_SNAKE`);
    t.ok(spec.http >= 400 && spec.http <= 599, `${code}: HTTP ${spec.http} is an error status`);
    t.ok(GRPC.has(spec.grpc), `${code}: gRPC ${spec.grpc}`);
    t.ok(spec.title.length > 0 && spec.title.length < 120, `${code}: a short title`);
    t.ok(isErrorCode(code));
  }
  t.notOk(isErrorCode('NO_SUCH_CODE'));
  t.notOk(isErrorCode('toString'), 'inherited names are not codes');
});

t.test('FENCED: a stale partition owner is told to go elsewhere (503, UNAVAILABLE)', async (t) => {
  const code: ErrorCode = 'FENCED';
  t.equal(ErrorCodes[code].http, 503, 'a retry reaches the new owner');
  t.equal(ErrorCodes[code].grpc, 'UNAVAILABLE');
  t.same(reject(code, 'partition p: token 5 is below 9'), {
    ok: false,
    code: 'FENCED',
    detail: 'partition p: token 5 is below 9',
  });
  const g = grpcError(code, 'token 5 is below 9');
  t.equal(g.code, 14, 'gRPC UNAVAILABLE');
  t.equal(g.details, 'FENCED: token 5 is below 9');
  t.same(g.metadata?.get('error-code'), ['FENCED']);
});
