import { JetStreamApiCodes, JetStreamApiError, jetstream } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { DependencyUnavailableError } from '../dependency-error.js';

/** How to reach NATS; parsed at the composition root. */
export interface NatsEndpoint {
  /** `host:port`, or several comma-separated. */
  readonly servers: string;
  /** Connection name shown by the server's monitoring (`connz`). */
  readonly name?: string;
  /** How long the first connection may take, ms (default 2000). */
  readonly connectTimeoutMs?: number;
}

const message = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/**
 * Connects to NATS, or fails at once with `DEPENDENCY_UNAVAILABLE` naming the
 * servers (never a hang: the first attempt is bounded, and the client does not
 * wait for a server that never answered). Once connected the client
 * reconnects forever in the background; calls made meanwhile time out.
 */
export async function connectNats(endpoint: NatsEndpoint): Promise<NatsConnection> {
  try {
    return await connect({
      servers: endpoint.servers.split(',').map((s) => s.trim()),
      timeout: endpoint.connectTimeoutMs ?? 2_000,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      ...(endpoint.name === undefined ? {} : { name: endpoint.name }),
    });
  } catch (err) {
    throw new DependencyUnavailableError(`NATS at ${endpoint.servers} cannot be reached: ${message(err)}`, {
      cause: err,
    });
  }
}

/** A lease bucket: a JetStream KV whose entries the server removes `ttlMs` after their last write. */
export interface LeaseBucket {
  readonly name: string;
  readonly ttlMs: number;
  readonly kv: KV;
  /** Deletes the bucket and every lease in it (tests; never in production: see docs/scale.md). */
  destroy(): Promise<void>;
}

/**
 * Opens (creating when missing) the KV bucket that holds partition leases:
 * history 1 and a bucket TTL (the stream's `max_age`), so a lease not renewed
 * within `ttlMs` is removed by the NATS server on its own clock. An existing
 * bucket with another TTL is refused: every holder must agree on the TTL.
 * `requestTimeoutMs` bounds every KV call (default 2000).
 */
export async function openLeaseBucket(
  nc: NatsConnection,
  opts: { readonly bucket: string; readonly ttlMs: number; readonly requestTimeoutMs?: number },
): Promise<LeaseBucket> {
  if (!(Number.isInteger(opts.ttlMs) && opts.ttlMs >= 100)) {
    throw new RangeError(`lease bucket ${opts.bucket}: ttlMs must be an integer >= 100, got ${opts.ttlMs}`);
  }
  const js = jetstream(nc, { timeout: opts.requestTimeoutMs ?? 2_000 });
  let kv: KV;
  try {
    kv = await new Kvm(js).create(opts.bucket, { history: 1, ttl: opts.ttlMs });
  } catch (err) {
    const off =
      (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.JetStreamNotEnabledForAccount) ||
      (err instanceof Error && err.name === 'JetStreamNotEnabled');
    const hint = off ? ' (leases need JetStream: start nats-server with -js)' : '';
    throw new DependencyUnavailableError(`NATS lease bucket ${opts.bucket} cannot be opened: ${message(err)}${hint}`, {
      cause: err,
    });
  }
  const status = await kv.status();
  if (status.ttl !== opts.ttlMs) {
    throw new Error(
      `NATS lease bucket ${opts.bucket} exists with a TTL of ${status.ttl} ms, not ${opts.ttlMs} ms: ` +
        'every holder must use the bucket TTL (or use another bucket name)',
    );
  }
  return {
    name: opts.bucket,
    ttlMs: opts.ttlMs,
    kv,
    destroy: async () => {
      await kv.destroy();
    },
  };
}
