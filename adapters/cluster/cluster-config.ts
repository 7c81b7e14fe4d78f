import { readFileSync } from 'node:fs';
import { type PartitionMap, PartitionMapError, parsePartitionMap } from '../../engine/index.js';

/** The roles `npm start -- --role <role>` runs (docs/scale.md). */
export const ROLES = ['all', 'engine', 'gateway'] as const;
export type Role = (typeof ROLES)[number];

/** The `--role` of a command line: `all` when absent; a clear error for anything else. */
export function parseRole(argv: readonly string[]): Role {
  const i = argv.findIndex((a) => a === '--role' || a.startsWith('--role='));
  if (i < 0) return 'all';
  const value = argv[i]!.includes('=') ? argv[i]!.slice('--role='.length) : argv[i + 1];
  if (!ROLES.includes(value as Role)) {
    throw new ClusterConfigError([`--role must be one of ${ROLES.join(', ')}, got ${JSON.stringify(value ?? '')}`]);
  }
  return value as Role;
}

export class ClusterConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(problems.join('\n'));
  }
}

/** What an engine process or a gateway of a cluster needs beside the server's own configuration. */
export interface ClusterConfig {
  /** `NATS_URL`: `host:port`, or several comma-separated (default 127.0.0.1:4222). */
  readonly natsUrl: string;
  /** `CLUSTER_PREFIX`: the first token of the command and event subjects (default `dispatch`). */
  readonly prefix: string;
  /** `LEASE_BUCKET`: the JetStream KV bucket of the partition leases (default `dispatch-leases`). */
  readonly leaseBucket: string;
  /** `LEASE_TTL_MS`: a lease lapses this long after its last renewal (default 3000). */
  readonly leaseTtlMs: number;
  /** `PARTITION_MAP`: the JSON file of the partition map (engine/partition-map.ts). */
  readonly map: PartitionMap;
  readonly mapFile: string;
  /** `ENGINE_PARTITIONS`: the partitions this process may own, comma-separated (default all). */
  readonly partitions: readonly string[] | undefined;
}

const TOKEN = /^[A-Za-z0-9_-]{1,64}$/;

/** Reads the cluster's variables; every problem is listed at once. */
export function parseClusterConfig(env: Readonly<Record<string, string | undefined>>): ClusterConfig {
  const problems: string[] = [];
  const natsUrl = env.NATS_URL || '127.0.0.1:4222';
  const prefix = env.CLUSTER_PREFIX || 'dispatch';
  if (!TOKEN.test(prefix))
    problems.push(`CLUSTER_PREFIX must be letters, digits, _ or -, got ${JSON.stringify(prefix)}`);
  const leaseBucket = env.LEASE_BUCKET || 'dispatch-leases';
  if (!TOKEN.test(leaseBucket))
    problems.push(`LEASE_BUCKET must be letters, digits, _ or -, got ${JSON.stringify(leaseBucket)}`);
  const rawTtl = env.LEASE_TTL_MS || '3000';
  const leaseTtlMs = Number(rawTtl);
  if (!(Number.isInteger(leaseTtlMs) && leaseTtlMs >= 500 && leaseTtlMs <= 60_000))
    problems.push(`LEASE_TTL_MS must be an integer in 500..60000, got ${JSON.stringify(rawTtl)}`);
  const mapFile = env.PARTITION_MAP ?? '';
  let map: PartitionMap | undefined;
  if (mapFile === '') {
    problems.push('PARTITION_MAP is required for an engine process or a gateway: the JSON file of the partition map');
  } else {
    try {
      map = parsePartitionMap(JSON.parse(readFileSync(mapFile, 'utf8')));
    } catch (err) {
      const why = err instanceof PartitionMapError ? err.problems.join('; ') : (err as Error).message;
      problems.push(`PARTITION_MAP ${mapFile}: ${why}`);
    }
  }
  const partitions = env.ENGINE_PARTITIONS
    ? env.ENGINE_PARTITIONS.split(',')
        .map((p) => p.trim())
        .filter(Boolean)
    : undefined;
  for (const p of partitions ?? [])
    if (map && !map.ids.includes(p as never))
      problems.push(`ENGINE_PARTITIONS names ${p}, which the map does not have`);
  if (problems.length > 0 || map === undefined) throw new ClusterConfigError(problems);
  return { natsUrl, prefix, leaseBucket, leaseTtlMs, map, mapFile, partitions };
}

/** A cluster's processes share Postgres and Redis: the embedded mode is refused, saying why. */
export function requireSharedStorage(config: { readonly persistence: { readonly mode: string } }, why: string): void {
  if (config.persistence.mode !== 'server')
    throw new Error(`${why}: set DATABASE_URL and REDIS_URL (the embedded mode is for one process, \`npm start\`)`);
}
