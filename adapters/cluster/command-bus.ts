import {
  NoRespondersError,
  RequestError,
  TimeoutError,
  type NatsConnection,
  type Subscription,
} from '@nats-io/transport-node';
import { isErrorCode, reject, type EngineCommand, type ErrorCode, type Result } from '../../protocol/index.js';

/**
 * Engine commands over NATS request-reply, one subject per partition
 * (docs/scale.md, "Routing"). The partition's owner, and only it, subscribes
 * to `<prefix>.cmd.<partition>`; a gateway sends a command there and waits
 * for the owner's answer. With no owner subscribed NATS answers "no
 * responders" at once; an owner that does not answer in time (paused, dying)
 * is a timeout: both are `NO_PARTITION_OWNER` (503), never a hang.
 *
 * A command that timed out may still have run (the owner answered late), so a
 * retry must be safe: commands that create carry their own ids (an order's id
 * comes from the gateway), and the engine refuses a second transition.
 */

/** The subject of one partition's commands. */
export const commandSubject = (prefix: string, partition: string): string => `${prefix}.cmd.${partition}`;

/** A partition name usable as one NATS subject token: no dots, spaces or wildcards. */
const PARTITION = /^[A-Za-z0-9_-]{1,64}$/;

/** Wire version of request and reply; a receiver refuses any other. */
const VERSION = 1;

interface Request {
  readonly v: typeof VERSION;
  readonly partition: string;
  readonly cmd: EngineCommand;
}

/** The reply: the command's result, and the lease token of the owner that ran it. */
type Reply =
  | { readonly v: typeof VERSION; readonly ok: true; readonly value: unknown; readonly token: number }
  | { readonly v: typeof VERSION; readonly ok: false; readonly code: ErrorCode; readonly detail: string };

/** What a command answers over the bus: the result, and which owner's tenure ran it. */
export type BusResult = Result<unknown> & { readonly token?: number };

const enc = new TextEncoder();
const dec = new TextDecoder();
const message = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/**
 * Runs a command in the owning engine and resolves once its events are durable (the REST rule);
 * told the partition it was sent to and the lease token it is answered under.
 */
export type RunCommand = (cmd: EngineCommand, partition: string, token: number) => Promise<Result<unknown>>;

/**
 * The engine side: answers the commands of the partitions this process owns.
 * `serve` on acquiring a partition's lease (after rebuilding it), `stop` the
 * moment the lease is lost: from then on NATS routes nothing here.
 */
export interface CommandServerOptions {
  readonly prefix: string;
  readonly run: RunCommand;
  /**
   * Whether this process still holds `partition` under `token`, asked as a
   * command arrives and again before its result is answered (for a
   * `LeaseManager`: `(p, t) => leases.leaseOf(p)?.token === t`). An owner that
   * wakes from a pause past its lease may receive a command before its lease
   * timers have told it of the loss: it must not answer for a partition it no
   * longer holds. Without it, only `stop` ends answering.
   */
  readonly holds?: (partition: string, token: number) => boolean;
}

export class CommandServer {
  readonly #nc: NatsConnection;
  readonly #prefix: string;
  readonly #run: RunCommand;
  readonly #holds: ((partition: string, token: number) => boolean) | undefined;
  readonly #subs = new Map<string, { sub: Subscription; token: number }>();

  constructor(nc: NatsConnection, opts: CommandServerOptions) {
    this.#nc = nc;
    this.#prefix = opts.prefix;
    this.#run = opts.run;
    this.#holds = opts.holds;
  }

  /** Starts answering `partition`'s commands under lease `token`. */
  serve(partition: string, token: number): void {
    if (!PARTITION.test(partition)) throw new RangeError(`bad partition name ${JSON.stringify(partition)}`);
    const had = this.#subs.get(partition);
    if (had !== undefined) {
      had.token = token;
      return;
    }
    const entry = { sub: null as unknown as Subscription, token };
    entry.sub = this.#nc.subscribe(commandSubject(this.#prefix, partition), {
      callback: (err, msg) => {
        if (err !== null) return;
        // Held no more (its lease timers have not run yet): stay silent, so that the partition's
        // new owner, subscribed too, answers; with none, the router's timeout is the 503.
        if (this.#holds !== undefined && !this.#holds(partition, entry.token)) return;
        void this.#answer(partition, entry, msg.data).then((reply) => msg.respond(enc.encode(JSON.stringify(reply))));
      },
    });
    this.#subs.set(partition, entry);
  }

  /** Stops answering `partition` at once (its lease was lost or released). */
  stop(partition: string): void {
    const entry = this.#subs.get(partition);
    if (entry === undefined) return;
    this.#subs.delete(partition);
    entry.sub.unsubscribe();
  }

  /** The partitions answered now. */
  serving(): string[] {
    return [...this.#subs.keys()];
  }

  /** Stops answering every partition. */
  close(): void {
    for (const p of [...this.#subs.keys()]) this.stop(p);
  }

  async #answer(partition: string, entry: { token: number }, data: Uint8Array): Promise<Reply> {
    const req = parseRequest(data);
    if (typeof req === 'string') return { v: VERSION, ok: false, code: 'INVALID_ARGUMENT', detail: req };
    if (req.partition !== partition) {
      return {
        v: VERSION,
        ok: false,
        code: 'INVALID_ARGUMENT',
        detail: `sent to ${partition}, names ${req.partition}`,
      };
    }
    // A lease lost while the command waited: the new owner answers the retry.
    if (this.#subs.get(partition) !== entry) {
      return { v: VERSION, ok: false, code: 'NO_PARTITION_OWNER', detail: `partition ${partition} moved` };
    }
    try {
      const r = await this.#run(req.cmd, partition, entry.token);
      // The lease lapsed while the command ran: its events may be refused by the new owner's fence
      // or may have been taken over, so it is not acknowledged either way; a retry is safe.
      if (this.#holds !== undefined && !this.#holds(partition, entry.token)) {
        return {
          v: VERSION,
          ok: false,
          code: 'NO_PARTITION_OWNER',
          detail: `the lease of partition ${partition} lapsed while the command ran: it may have run; send it again`,
        };
      }
      return r.ok
        ? { v: VERSION, ok: true, value: r.value ?? null, token: entry.token }
        : { v: VERSION, ok: false, code: r.code, detail: r.detail };
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      return {
        v: VERSION,
        ok: false,
        code: isErrorCode(code) ? code : 'INTERNAL',
        detail: message(err).slice(0, 500),
      };
    }
  }
}

/** Why a request is not a command: a string, else the request. */
function parseRequest(data: Uint8Array): Request | string {
  let v: unknown;
  try {
    v = JSON.parse(dec.decode(data));
  } catch {
    return 'not JSON';
  }
  if (typeof v !== 'object' || v === null) return 'not an object';
  const r = v as Partial<Request>;
  if (r.v !== VERSION) return `unknown version ${JSON.stringify(r.v)}`;
  if (typeof r.partition !== 'string') return 'no partition';
  if (typeof r.cmd !== 'object' || r.cmd === null || typeof (r.cmd as { type?: unknown }).type !== 'string') {
    return 'no command';
  }
  return r as Request;
}

/**
 * The gateway side: sends a command to its partition's owner and answers its
 * result, or `NO_PARTITION_OWNER` when none answers within `timeoutMs`.
 */
export class CommandRouter {
  readonly #nc: NatsConnection;
  readonly #prefix: string;
  readonly #timeoutMs: number;

  constructor(nc: NatsConnection, opts: { readonly prefix: string; readonly timeoutMs?: number }) {
    this.#nc = nc;
    this.#prefix = opts.prefix;
    this.#timeoutMs = opts.timeoutMs ?? 2_000;
  }

  async send(partition: string, cmd: EngineCommand): Promise<BusResult> {
    if (!PARTITION.test(partition))
      return reject('INVALID_ARGUMENT', `bad partition name ${JSON.stringify(partition)}`);
    const body: Request = { v: VERSION, partition, cmd };
    let data: Uint8Array;
    try {
      const msg = await this.#nc.request(commandSubject(this.#prefix, partition), enc.encode(JSON.stringify(body)), {
        timeout: this.#timeoutMs,
      });
      data = msg.data;
    } catch (err) {
      return reject('NO_PARTITION_OWNER', noOwnerDetail(partition, err, this.#timeoutMs));
    }
    let reply: Reply;
    try {
      reply = JSON.parse(dec.decode(data)) as Reply;
    } catch {
      return reject('INTERNAL', `partition ${partition}: the owner's answer is not JSON`);
    }
    if (reply.v !== VERSION) return reject('INTERNAL', `partition ${partition}: reply version ${String(reply.v)}`);
    if (!reply.ok) return reject(reply.code, reply.detail);
    return { ok: true, value: reply.value, token: reply.token };
  }
}

function noOwnerDetail(partition: string, err: unknown, timeoutMs: number): string {
  const cause = err instanceof RequestError ? err.cause : err;
  if (err instanceof RequestError && err.isNoResponders()) return `no engine owns partition ${partition} now`;
  if (cause instanceof NoRespondersError) return `no engine owns partition ${partition} now`;
  if (cause instanceof TimeoutError || err instanceof TimeoutError) {
    return `the owner of partition ${partition} did not answer within ${timeoutMs} ms`;
  }
  return `partition ${partition}: ${message(err)}`;
}
