import {
  Metadata,
  type sendUnaryData,
  type ServerUnaryCall,
  type ServerWritableStream,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import {
  type Action,
  type DecisionTrace,
  type DispatchPolicy,
  type DispatchSettings,
  type DispatchSettingsPatch,
  type Engine,
  type EngineCommand,
  type EngineEvent,
  type EventStore,
  type IdentityVerifier,
  type OrderId,
  type OrderView,
  type Principal,
  type RestaurantId,
  type RestaurantView,
  type Result,
  type RiderId,
  type RiderView,
  type ShardStat,
  authorize,
  dispatchSettings,
  ok,
  reject,
} from '../../engine/index.js';
import type { EngineCommands } from '../engine-commands.js';
import type { AdminAudit } from './admin-audit.js';
import type { EventFeed, SlowPolicy, Watcher } from './event-feed.js';
import { grpcError } from './grpc-errors.js';

/** What the admin service is built from (adapters/server/server.ts wires it). */
export interface AdminServiceDeps {
  /** What the service reads: the engine, or a gateway's mirror of the partitions. */
  readonly engine: Engine;
  /** Where its actions go: the engine itself by default, the partitions' owners from a gateway. */
  readonly commands?: EngineCommands;
  readonly identity: IdentityVerifier;
  readonly audit: AdminAudit;
  /** The stored event history of an order. */
  readonly store: Pick<EventStore, 'readAggregate'>;
  /** Resolves once every event emitted so far is durable (the write-behind barrier). */
  readonly durable: () => Promise<void>;
  readonly feed: EventFeed;
  /** Events one StreamEvents call may have queued before it skips ahead or is cut off. */
  readonly streamBuffer: number;
  readonly now: () => number;
  readonly log: { error(o: Record<string, unknown>): void };
}

type Msg = Record<string, unknown>;
type Unary = (call: ServerUnaryCall<Msg, Msg>, callback: sendUnaryData<Msg>) => void;

const AGGREGATES = new Set(['', 'order', 'rider', 'restaurant']);

/**
 * The DispatchAdmin service (protocol/admin.proto): each method authenticates
 * the caller (an admin whose token was checked for revocation), translates the
 * request into an engine query or command, and the answer back. Actions wait
 * until their events are durable and are recorded with who made them before
 * the call is answered. Rules live in the engine; this file only translates.
 */
export function adminService(d: AdminServiceDeps): UntypedServiceImplementation {
  const { engine } = d;
  const commands: EngineCommands = d.commands ?? engine;

  const authenticate = async (metadata: Metadata, action: Action): Promise<Result<Principal>> => {
    const raw = metadata.get('authorization')[0];
    if (typeof raw !== 'string' || raw.trim() === '')
      return reject('AUTH_TOKEN_MISSING', 'send an admin ID token as `authorization: Bearer <token>` metadata');
    const m = /^Bearer\s+(\S+)\s*$/i.exec(raw);
    if (!m) return reject('AUTH_TOKEN_INVALID', 'the authorization metadata must read `Bearer <token>`');
    const who = await d.identity.verify(m[1]!, { checkRevoked: true });
    if (!who.ok) return who;
    const allowed = authorize(who.value, action);
    return allowed.ok ? who : allowed;
  };

  /** A read: authenticate, answer. */
  const read =
    (action: Action, fn: (req: Msg) => Promise<Result<Msg>> | Result<Msg>): Unary =>
    (call, callback) => {
      void (async () => {
        const who = await authenticate(call.metadata, action);
        if (!who.ok) {
          callback(grpcError(who.code, who.detail));
          return;
        }
        const out = await fn(call.request);
        if (!out.ok) {
          callback(grpcError(out.code, out.detail));
          return;
        }
        callback(null, out.value);
      })().catch((err: unknown) => fail(callback, err));
    };

  /**
   * An action: authenticate, run its engine command, wait until its events are
   * durable, record it with who made it, answer. A refused action is recorded too.
   */
  const act =
    (
      method: string,
      action: Action,
      command: (req: Msg) => Result<EngineCommand>,
      answer: (req: Msg, value: unknown) => Result<Msg>,
      after?: (req: Msg, value: unknown) => unknown,
    ): Unary =>
    (call, callback) => {
      void (async () => {
        const who = await authenticate(call.metadata, action);
        if (!who.ok) {
          callback(grpcError(who.code, who.detail));
          return;
        }
        const cmd = command(call.request);
        const result = cmd.ok ? await run(commands, cmd.value) : cmd;
        if (result.ok) {
          try {
            await d.durable();
          } catch (err) {
            d.log.error({ msg: `admin ${method}: events not durable`, err: String(err) });
            callback(grpcError('DEPENDENCY_UNAVAILABLE', 'the action ran but its events are not stored yet'));
            return;
          }
        }
        try {
          await d.audit.record({
            who: who.value,
            method,
            request: call.request,
            ok: result.ok,
            ...(result.ok
              ? after
                ? { after: after(call.request, result.value) }
                : {}
              : { code: result.code, detail: result.detail }),
          });
        } catch (err) {
          // The action happened: say so rather than pretend it did not, and leave the gap in the log.
          d.log.error({ msg: `admin ${method} by ${who.value.uid} not recorded`, err: String(err) });
        }
        if (!result.ok) {
          callback(grpcError(result.code, result.detail));
          return;
        }
        const out = answer(call.request, result.value);
        if (!out.ok) {
          callback(grpcError(out.code, out.detail));
          return;
        }
        callback(null, out.value);
      })().catch((err: unknown) => fail(callback, err));
    };

  const fail = (callback: sendUnaryData<Msg>, err: unknown) => {
    d.log.error({ msg: 'admin call failed', err: err instanceof Error ? (err.stack ?? err.message) : String(err) });
    callback(grpcError('INTERNAL', 'the admin call failed; see the server log'));
  };

  const orderAnswer = (id: string): Result<Msg> => {
    const v = engine.getOrder(id as OrderId);
    return v.ok ? ok(orderMsg(v.value, engine.shardOf('order', id) ?? '')) : v;
  };

  return {
    ListRiders: read('admin.inspect', (q) => {
      const area = q['area'] as { center?: { lat: number; lng: number }; radius_m: number } | undefined;
      if (area && !(area.center && area.radius_m > 0))
        return reject('INVALID_ARGUMENT', 'area needs a center and a radius_m above 0');
      const page = engine.listRiders({
        pageSize: num(q['page_size']),
        after: str(q['page_token']),
        ...(str(q['shard']) ? { shard: str(q['shard']) } : {}),
        ...(str(q['state']) ? { state: str(q['state']) } : {}),
        ...(area?.center ? { area: { center: area.center, radiusM: area.radius_m } } : {}),
      });
      return ok({ riders: page.items.map((r) => riderMsg(r, r.shard ?? '')), next_page_token: page.next });
    }),
    GetRider: read('admin.inspect', (q) => {
      const v = engine.getRider(str(q['rider_id']) as RiderId);
      return v.ok ? ok(riderMsg(v.value, engine.shardOf('rider', v.value.id) ?? '')) : v;
    }),
    ListOrders: read('admin.inspect', (q) => {
      const page = engine.listOrders({
        pageSize: num(q['page_size']),
        after: str(q['page_token']),
        ...(str(q['state']) ? { state: str(q['state']) } : {}),
        ...(str(q['restaurant_id']) ? { restaurantId: str(q['restaurant_id']) as RestaurantId } : {}),
        ...(num(q['min_age_s']) > 0 ? { minAgeMs: num(q['min_age_s']) * 1000 } : {}),
        ...(str(q['shard']) ? { shard: str(q['shard']) } : {}),
      });
      return ok({ orders: page.items.map((o) => orderMsg(o, o.shard)), next_page_token: page.next });
    }),
    GetOrder: read('admin.inspect', async (q) => {
      const id = str(q['order_id']);
      if (id === '') return reject('INVALID_ARGUMENT', 'order_id is required');
      const view = engine.getOrder(id as OrderId);
      let history: EngineEvent[];
      try {
        history = await d.store.readAggregate('order', id);
      } catch (err) {
        d.log.error({ msg: 'admin GetOrder: history unreadable', err: String(err) });
        return reject('DEPENDENCY_UNAVAILABLE', 'the order history cannot be read now');
      }
      if (!view.ok && history.length === 0) return view;
      const decisions = engine.orderDecisions(id as OrderId) ?? storedDecisions(history);
      return ok({
        ...(view.ok ? { order: orderMsg(view.value, engine.shardOf('order', id) ?? '') } : {}),
        history: history.map((e) => eventMsg(e, 0)),
        decisions: decisions.map(traceMsg),
      });
    }),
    ShardStats: read('admin.inspect', () => ok({ shards: engine.shardStats().map(shardMsg) })),
    GetDispatchConfig: read('admin.inspect', () => ok(settingsMsg(dispatchSettings(engine.config)))),

    ForceAssign: act(
      'ForceAssign',
      'admin.order.assign',
      (q) =>
        need(q, ['order_id', 'rider_id'], {
          type: 'force_assign',
          orderId: str(q['order_id']) as OrderId,
          riderId: str(q['rider_id']) as RiderId,
        }),
      (q) => orderAnswer(str(q['order_id'])),
    ),
    Reassign: act(
      'Reassign',
      'admin.order.assign',
      (q) =>
        need(q, ['order_id'], {
          type: 'reassign',
          orderId: str(q['order_id']) as OrderId,
          ...(str(q['rider_id']) ? { riderId: str(q['rider_id']) as RiderId } : {}),
        }),
      (q) => orderAnswer(str(q['order_id'])),
    ),
    CancelOrder: act(
      'CancelOrder',
      'admin.order.cancel',
      (q) =>
        need(q, ['order_id', 'reason'], {
          type: 'cancel_order',
          orderId: str(q['order_id']) as OrderId,
          by: 'admin',
          reason: str(q['reason']).slice(0, 500),
        }),
      (q) => orderAnswer(str(q['order_id'])),
    ),
    SetRestaurantStatus: act(
      'SetRestaurantStatus',
      'admin.restaurant.status',
      (q) => {
        const status = str(q['status']);
        if (status !== 'open' && status !== 'busy' && status !== 'closed')
          return reject('INVALID_ARGUMENT', 'status must be open, busy or closed');
        return need(q, ['restaurant_id'], {
          type: 'set_restaurant_status',
          restaurantId: str(q['restaurant_id']) as RestaurantId,
          status,
        });
      },
      (q) => {
        const v = engine.getRestaurant(str(q['restaurant_id']) as RestaurantId);
        return v.ok ? ok(restaurantMsg(v.value)) : v;
      },
    ),
    ReviewRider: act(
      'ReviewRider',
      'admin.rider.review',
      (q) =>
        need(q, ['rider_id'], {
          type: 'review_rider',
          riderId: str(q['rider_id']) as RiderId,
          approve: q['approve'] === true,
          reason: str(q['reason']),
        }),
      (q) => {
        const v = engine.getRider(str(q['rider_id']) as RiderId);
        return v.ok ? ok(riderMsg(v.value, engine.shardOf('rider', v.value.id) ?? '')) : v;
      },
    ),
    DrainShard: act(
      'DrainShard',
      'admin.shard.drain',
      (q) => need(q, ['shard'], { type: 'drain_shard', shard: str(q['shard']), drained: q['drained'] === true }),
      (q) => ok(shardMsg(engine.shardStat(str(q['shard'])))),
      (q) => ({ shard: str(q['shard']), drained: q['drained'] === true }),
    ),
    SetShardPolicy: act(
      'SetShardPolicy',
      'admin.settings.update',
      (q) =>
        need(q, ['shard', 'policy'], {
          type: 'set_shard_policy',
          shard: str(q['shard']),
          policy: str(q['policy']) as DispatchPolicy,
        }),
      (q) => ok(shardMsg(engine.shardStat(str(q['shard'])))),
      (q) => ({ shard: str(q['shard']), policy: str(q['policy']) }),
    ),
    SetDispatchConfig: act(
      'SetDispatchConfig',
      'admin.settings.update',
      (q) => ok({ type: 'set_dispatch_config', settings: settingsPatch(q) }),
      (_q, value) => ok(settingsMsg(value as DispatchSettings)),
      (_q, value) => value,
    ),

    StreamEvents: (call: ServerWritableStream<Msg, Msg>) => {
      void streamEvents(call).catch((err: unknown) => {
        d.log.error({ msg: 'admin StreamEvents failed', err: String(err) });
        call.emit('error', grpcError('INTERNAL', 'the event stream failed; see the server log'));
      });
    },
  };

  async function streamEvents(call: ServerWritableStream<Msg, Msg>): Promise<void> {
    let done = false;
    // Set once the caller is authenticated; `stop` may run before (a call cancelled meanwhile).
    const held: { watcher?: Watcher; timer?: NodeJS.Timeout; drained?: () => void } = {};
    const stop = () => {
      if (done) return;
      done = true;
      if (held.timer) clearTimeout(held.timer);
      if (held.watcher) d.feed.remove(held.watcher);
      held.drained?.();
    };
    call.on('cancelled', stop);
    call.on('close', stop);
    call.on('error', stop);
    const end = (code: Parameters<typeof grpcError>[0], detail: string) => {
      stop();
      call.emit('error', grpcError(code, detail));
    };

    const who = await authenticate(call.metadata, 'admin.events.subscribe');
    if (!who.ok) {
      end(who.code, who.detail);
      return;
    }
    if (done) return;
    const q = call.request;
    const aggregate = str(q['aggregate']);
    if (!AGGREGATES.has(aggregate)) {
      end('INVALID_ARGUMENT', 'aggregate must be order, rider, restaurant or empty');
      return;
    }
    const policy: SlowPolicy = q['on_slow'] === 'CUT_OFF' ? 'cut_off' : 'skip';
    const watcher = d.feed.add(
      {
        aggregate,
        ids: new Set(strings(q['ids'])),
        types: new Set(strings(q['types'])),
        shard: str(q['shard']),
      },
      policy,
      d.streamBuffer,
    );
    // A stream lives no longer than the token that opened it.
    held.watcher = watcher;
    const timer = setTimeout(
      () => end('AUTH_TOKEN_EXPIRED', 'the token that opened this stream has expired; open it again with a fresh one'),
      Math.max(0, who.value.expiresAt - d.now()),
    );
    timer.unref();
    held.timer = timer;
    // Headers now, so a client knows the stream is open before the first event.
    call.sendMetadata(new Metadata());

    while (!done) {
      await watcher.waitForMore();
      if (done) break;
      if (watcher.closed) {
        end('DEPENDENCY_UNAVAILABLE', 'the server is shutting down');
        return;
      }
      if (watcher.overflowed) {
        end('SLOW_CONSUMER', `more than ${watcher.capacity} events waited for this reader; it was cut off`);
        return;
      }
      for (let e = watcher.take(); e !== undefined && !done; e = watcher.take()) {
        const skipped = watcher.skipped;
        watcher.skipped = 0;
        if (!call.write(eventMsg(e, skipped))) {
          await new Promise<void>((resolve) => {
            held.drained = resolve;
            call.once('drain', resolve);
          });
          delete held.drained;
        }
      }
    }
  }
}

/** Runs a command from the admin edge; a queued command cannot happen here (no command is running) but is mapped. */
async function run(commands: EngineCommands, cmd: EngineCommand): Promise<Result<unknown>> {
  const out = await commands.execute(cmd);
  if (out.queued) return reject('COMMAND_QUEUED', `${cmd.type} was queued behind a running command`);
  return out.result;
}

function need(q: Msg, fields: readonly string[], cmd: EngineCommand): Result<EngineCommand> {
  const missing = fields.filter((f) => str(q[f]).trim() === '');
  return missing.length > 0 ? reject('INVALID_ARGUMENT', `${missing.join(', ')} required`) : ok(cmd);
}

const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
const strings = (v: unknown): string[] =>
  Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string' && x !== '') : [];

const SETTING_FIELDS = {
  max_ring: 'maxRing',
  min_candidates: 'minCandidates',
  max_pickup_distance_m: 'maxPickupDistanceM',
  offer_timeout_ms: 'offerTimeoutMs',
  dispatch_retry_ms: 'dispatchRetryMs',
  dispatch_give_up_ms: 'dispatchGiveUpMs',
  position_stale_ms: 'positionStaleMs',
  batch_window_ms: 'batchWindowMs',
} as const;
const SCORING_FIELDS = {
  idle_weight: 'idleWeight',
  idle_cap_s: 'idleCapS',
  acceptance_penalty_s: 'acceptancePenaltyS',
  heading_penalty_s: 'headingPenaltyS',
  lateness_weight: 'latenessWeight',
} as const;

/** The fields set in a SetDispatchConfigRequest (proto3 `optional`: unset ones are absent). */
function settingsPatch(q: Msg): DispatchSettingsPatch {
  const out: Record<string, number> = {};
  const scoring: Record<string, number> = {};
  for (const [wire, name] of Object.entries(SETTING_FIELDS)) if (typeof q[wire] === 'number') out[name] = q[wire];
  for (const [wire, name] of Object.entries(SCORING_FIELDS)) if (typeof q[wire] === 'number') scoring[name] = q[wire];
  return Object.keys(scoring).length > 0 ? { ...out, scoring } : out;
}

function settingsMsg(s: DispatchSettings): Msg {
  const out: Msg = {};
  for (const [wire, name] of Object.entries(SETTING_FIELDS)) out[wire] = s[name];
  const scoring: Msg = {};
  for (const [wire, name] of Object.entries(SCORING_FIELDS)) scoring[wire] = s.scoring[name];
  out['scoring'] = scoring;
  return out;
}

function riderMsg(r: RiderView, shard: string): Msg {
  return {
    id: r.id,
    state: r.state,
    connected: r.connected,
    ...(r.position ? { position: { lat: r.position.lat, lng: r.position.lng } } : {}),
    position_at: r.position?.at ?? 0,
    cell: r.cell ?? '',
    shard,
    order_id: r.orderId ?? '',
    available: r.available,
    stats: r.stats,
    review_status: r.review.status,
    review_reason: r.review.reason,
  };
}

function orderMsg(o: OrderView, shard: string): Msg {
  return {
    id: o.id,
    state: o.state,
    customer_id: o.customerId,
    restaurant_id: o.restaurantId,
    rider_id: o.riderId ?? '',
    pickup: o.pickup,
    drop: o.drop,
    paid: o.paid,
    food_ready: o.foodReady,
    placed_at: o.placedAt,
    promised_at: o.promisedAt,
    offer_rider_id: o.offer?.riderId ?? '',
    offer_expires_at: o.offer?.expiresAt ?? 0,
    payout_paise: o.payout ?? 0,
    offers_made: o.offersMade,
    shard,
  };
}

function restaurantMsg(r: RestaurantView): Msg {
  return {
    id: r.id,
    state: r.state,
    location: r.location,
    prep_minutes: r.prepMinutes,
    capacity: r.capacity,
    open_orders: r.openOrders,
  };
}

function shardMsg(s: ShardStat): Msg {
  return {
    shard: s.shard,
    drained: s.drained,
    policy: s.policy,
    riders: s.riders,
    riders_available: s.ridersAvailable,
    restaurants: s.restaurants,
    orders_live: s.ordersLive,
    orders_searching: s.ordersSearching,
    orders_offered: s.ordersOffered,
    orders_assigned: s.ordersAssigned,
    orders_picked_up: s.ordersPickedUp,
  };
}

function storedDecisions(history: readonly EngineEvent[]): DecisionTrace[] {
  const out: DecisionTrace[] = [];
  for (const e of history)
    if ((e.type === 'order_offered' || e.type === 'order_no_rider') && e.trace !== undefined) out.push(e.trace);
  return out;
}

function traceMsg(tr: DecisionTrace): Msg {
  return {
    why: tr.why,
    chosen: tr.chosen ?? '',
    ring: tr.ring,
    considered: tr.considered,
    skipped_stale: tr.skipped.stale,
    skipped_passed_before: tr.skipped.passedBefore,
    skipped_too_far: tr.skipped.tooFar,
    skipped_unavailable: tr.skipped.unavailable,
    candidates: tr.candidates.map((c) => ({
      rider_id: c.riderId,
      distance_m: c.distanceM,
      eta_s: c.etaS,
      idle_bonus_s: c.idleBonusS,
      acceptance_penalty_s: c.acceptancePenaltyS,
      heading_penalty_s: c.headingPenaltyS,
      score: c.score,
    })),
  };
}

function eventMsg(e: EngineEvent, skipped: number): Msg {
  return { type: e.type, aggregate: e.aggregate, id: e.id, seq: e.seq, at: e.at, json: JSON.stringify(e), skipped };
}
