import type { Principal } from '../../protocol/index.js';
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
  /** Shards with a policy of their own, from each one's latest SetShardPolicy. */
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
      policies: p.rows.filter((r) => r.after.policy !== 'default').map((r) => r.after),
    };
  }
}
