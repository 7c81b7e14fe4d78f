import { fileURLToPath } from 'node:url';
import { type GrpcObject, loadPackageDefinition, type ServiceClientConstructor } from '@grpc/grpc-js';
import { type PackageDefinition, loadSync } from '@grpc/proto-loader';

/** The admin service's contract, shipped in protocol/. */
export const ADMIN_PROTO = fileURLToPath(new URL('../../protocol/admin.proto', import.meta.url));

/** The fully qualified service name, as reflection lists it. */
export const ADMIN_SERVICE = 'dispatch.admin.v1.DispatchAdmin';

/**
 * How messages look in JS on both sides: field names as in the .proto
 * (snake_case), 64-bit integers as numbers (epoch ms fit), enums as their names,
 * unset scalars as their defaults.
 */
export const LOADER_OPTIONS = { keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true } as const;

let cached: PackageDefinition | undefined;

/** The admin package definition (loaded once per process). */
export function adminPackage(): PackageDefinition {
  cached ??= loadSync(ADMIN_PROTO, LOADER_OPTIONS);
  return cached;
}

/** The generated client class of the admin service. */
export function adminClientClass(): ServiceClientConstructor {
  const root = loadPackageDefinition(adminPackage());
  const v1 = ((root['dispatch'] as GrpcObject)['admin'] as GrpcObject)['v1'] as GrpcObject;
  return v1['DispatchAdmin'] as ServiceClientConstructor;
}
