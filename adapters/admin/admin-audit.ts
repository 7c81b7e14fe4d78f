import type { Engine } from '../../engine/index.js';
import type { DispatchPolicy, Principal } from '../../protocol/index.js';
import type { SqlDatabase } from '../postgres/sql-database.js';

/** One admin action as recorded. */
export interface AdminAction {
  readonly who: Pick<Principal, 'uid' | 'email'>;
  readonly method: string;
  readonly request: unknown;
  readonly ok: boolean;
  readonly code?: string;
  readonly detail?: string;
  readonly after?: unknown;
}

/** The latest settings and drains operators left, replayed into a fresh engine at start. */
export interface StandingActions {
  readonly settings: Record<string, unknown> | undefined;
  readonly drained: readonly string[];
  /** Each shard's latest SetShardPolicy (`default`: handed back to the engine's policy). */
  readonly policies: readonly { readonly shard: string; readonly policy: string }[];
}

/**
 * The record of operators' actions (table admin_actions, sql/0007): who did
 * what, when, and how it went. Written before the call is answered, so an
 * action the operator was told about is on record.
 */
export class AdminAudit {
  readonly #db: SqlDatabase;

  constructor(db: SqlDatabase) {
    this.#db = db;
  }

  async record(a: AdminAction): Promise<void> {
    await this.#db.query(
      `INSERT INTO admin_actions (admin_uid, admin_email, method, request, ok, code, detail, after)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
      [
        a.who.uid,
        a.who.email,
        a.method,
        JSON.stringify(a.request ?? null),
        a.ok,
        a.code ?? null,
        a.detail ?? null,
        a.after === undefined ? null : JSON.stringify(a.after),
      ],
    );
  }

  /** The most recent actions, newest first (the console and tests read them). */
  async recent(limit = 50): Promise<(AdminAction & { at: string })[]> {
    const { rows } = await this.#db.query<{
      at: Date | string;
      admin_uid: string;
      admin_email: string;
      method: string;
      request: unknown;
      ok: boolean;
      code: string | null;
      detail: string | null;
      after: unknown;
    }>(`SELECT * FROM admin_actions ORDER BY id DESC LIMIT $1`, [limit]);
    return rows.map((r) => ({
      at: new Date(r.at).toISOString(),
      who: { uid: r.admin_uid, email: r.admin_email },
      method: r.method,
      request: r.request,
      ok: r.ok,
      ...(r.code === null ? {} : { code: r.code }),
      ...(r.detail === null ? {} : { detail: r.detail }),
      ...(r.after === null ? {} : { after: r.after }),
    }));
  }

  /**
   * What still stands from past actions: the dispatch settings of the latest
   * successful SetDispatchConfig, the shards whose latest DrainShard drained them,
   * and each shard's latest policy of its own (SetShardPolicy other than default).
   */
  async standing(): Promise<StandingActions> {
    const s = await this.#db.query<{ after: Record<string, unknown> }>(
      `SELECT after FROM admin_actions WHERE method = 'SetDispatchConfig' AND ok ORDER BY id DESC LIMIT 1`,
    );
    const d = await this.#db.query<{ after: { shard: string; drained: boolean } }>(
      `SELECT DISTINCT ON (after->>'shard') after FROM admin_actions
       WHERE method = 'DrainShard' AND ok ORDER BY after->>'shard', id DESC`,
    );
    const p = await this.#db.query<{ after: { shard: string; policy: string } }>(
      `SELECT DISTINCT ON (after->>'shard') after FROM admin_actions
       WHERE method = 'SetShardPolicy' AND ok ORDER BY after->>'shard', id DESC`,
    );
    return {
      settings: s.rows[0]?.after,
      drained: d.rows.filter((r) => r.after.drained).map((r) => r.after.shard),
      policies: p.rows.map((r) => r.after),
    };
  }
}

/**
 * Operators' settings, drains and shard policies outlive a restart and a failover: the latest of
 * each, from the record of admin actions, applied to an engine (the server's at start, each
 * partition's when an engine process takes it over) or a gateway's mirror (at start and each
 * minute). A shard drained here but no longer in the record is undrained: the same call brings an
 * engine that was told before up to date.
 */
export function applyStanding(
  engine: Engine,
  standing: StandingActions,
  log: { info(o: Record<string, unknown>): void; warn(o: Record<string, unknown>): void },
): void {
  if (standing.settings) {
    const out = engine.execute({ type: 'set_dispatch_config', settings: standing.settings });
    if (!out.queued && !out.result.ok)
      log.warn({ msg: 'stored dispatch settings refused; defaults kept', detail: out.result.detail });
  }
  const drained = new Set(standing.drained);
  for (const s of engine.shardStats())
    if (s.drained && !drained.has(s.shard)) engine.execute({ type: 'drain_shard', shard: s.shard, drained: false });
  for (const shard of drained) engine.execute({ type: 'drain_shard', shard, drained: true });
  for (const { shard, policy } of standing.policies)
    engine.execute({ type: 'set_shard_policy', shard, policy: policy as DispatchPolicy | 'default' });
  if (standing.settings || standing.drained.length > 0 || standing.policies.some((p) => p.policy !== 'default'))
    log.info({
      msg: 'operator settings restored',
      settings: standing.settings ?? null,
      drained: standing.drained,
      policies: standing.policies.filter((p) => p.policy !== 'default'),
    });
}
