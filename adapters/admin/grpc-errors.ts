import { Metadata, status, type StatusObject } from '@grpc/grpc-js';
import { type ErrorCode, ErrorCodes, isErrorCode } from '../../protocol/index.js';

/** The trailer that carries the error table's code of a refused call. */
export const ERROR_CODE_KEY = 'error-code';

/**
 * The admin edge's mapping of the one error table to gRPC: the table's `grpc`
 * status name becomes the status code, the details read `CODE: detail`, and
 * the code itself travels in the `error-code` trailer for tools that branch on it.
 */
export function grpcError(code: ErrorCode, detail: string): Partial<StatusObject> {
  const metadata = new Metadata();
  metadata.set(ERROR_CODE_KEY, code);
  return { code: status[ErrorCodes[code].grpc], details: `${code}: ${detail}`, metadata };
}

/** The table's code a refused call carried (from its trailer), or undefined. */
export function errorCodeOf(err: { metadata?: Metadata } | undefined): ErrorCode | undefined {
  const v = err?.metadata?.get(ERROR_CODE_KEY)[0];
  return isErrorCode(v) ? v : undefined;
}
