/**
 * A real grpc-js client of the admin service for tests: each unary method as
 * a promise (rejecting with the grpc-js error, whose `code`, `details` and
 * `metadata` the tests check), and StreamEvents as the raw call.
 */
import { credentials, Metadata, type ServiceError, type ClientReadableStream } from '@grpc/grpc-js';
import { adminClientClass } from '../../adapters/admin/admin-proto.js';
import { errorCodeOf } from '../../adapters/admin/grpc-errors.js';

export const UNARY_METHODS = [
  'ListRiders',
  'GetRider',
  'ListOrders',
  'GetOrder',
  'ShardStats',
  'GetDispatchConfig',
  'ForceAssign',
  'Reassign',
  'CancelOrder',
  'SetRestaurantStatus',
  'ReviewRider',
  'DrainShard',
  'SetShardPolicy',
  'SetDispatchConfig',
] as const;
export type UnaryMethod = (typeof UNARY_METHODS)[number];

type Msg = Record<string, any>;

export interface AdminClient {
  call(method: UnaryMethod, request?: Msg, token?: string): Promise<Msg>;
  stream(request: Msg, token?: string): ClientReadableStream<Msg>;
  close(): void;
}

export function adminClient(port: number): AdminClient {
  const Client = adminClientClass();
  const client = new Client(`127.0.0.1:${port}`, credentials.createInsecure());
  const meta = (token: string | undefined) => {
    const m = new Metadata();
    if (token !== undefined) m.set('authorization', `Bearer ${token}`);
    return m;
  };
  const fn = (name: string) => (client as unknown as Record<string, (...a: unknown[]) => unknown>)[name]!.bind(client);
  return {
    call: (method, request = {}, token) =>
      new Promise((resolve, reject) => {
        fn(method)(request, meta(token), { deadline: Date.now() + 15_000 }, (err: ServiceError | null, res: Msg) =>
          err ? reject(err) : resolve(res),
        );
      }),
    stream: (request, token) => fn('StreamEvents')(request, meta(token)) as ClientReadableStream<Msg>,
    close: () => client.close(),
  };
}

/** The gRPC status and error-table code of a refused call. */
export async function refusal(
  p: Promise<unknown>,
): Promise<{ code: number; errorCode: string | undefined; details: string }> {
  try {
    await p;
  } catch (err) {
    const e = err as ServiceError;
    return { code: e.code, errorCode: errorCodeOf(e), details: e.details };
  }
  throw new Error('the call was not refused');
}
