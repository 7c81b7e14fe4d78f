import { type EngineCommand, type EngineEvent, type Result, reject } from '../protocol/index.js';
import { runCommand } from './commands/run.js';
import type { EngineCore } from './core.js';

/** Called with every event, in order, once the command that emitted it has finished. */
export type EngineListener = (event: EngineEvent) => void;

/**
 * The command of a batch a read mirror delivers (`Engine.absorb`): the
 * partition's owner ran the real command in another process, and its relay
 * carries the events and state rows, not the command.
 */
export interface RelayedCommand {
  readonly type: 'relayed';
}
export const RELAYED: RelayedCommand = Object.freeze({ type: 'relayed' });

/**
 * One command's events, together; position updates that emitted events appear
 * as `update_rider_position`, what a read mirror absorbed as {@link RelayedCommand}.
 */
export interface CommandBatch {
  readonly command: EngineCommand | RelayedCommand;
  readonly events: readonly EngineEvent[];
}
export type BatchListener = (batch: CommandBatch) => void;

/** A command that ran: its result and the events it produced, in order. */
export interface Executed<T> {
  readonly queued: false;
  readonly result: Result<T>;
  readonly events: readonly EngineEvent[];
}
/** A command issued while another ran: it waits in the mailbox and runs right after. */
export interface Queued {
  readonly queued: true;
}
const QUEUED: Queued = Object.freeze({ queued: true });
const NO_EVENTS: readonly EngineEvent[] = Object.freeze([]);

/**
 * Runs the engine's commands one at a time and delivers each command's events
 * together once it has finished. A command issued meanwhile (by a listener, a
 * deadline that fires during delivery) waits here and runs next, never inside
 * the running one. Listeners that throw are logged and skipped.
 */
export class Mailbox {
  readonly #core: EngineCore;
  readonly #listeners: BatchListener[] = [];
  readonly #queue: EngineCommand[] = [];
  /** Position updates that emitted events while a command's events were being delivered. */
  readonly #late: CommandBatch[] = [];
  #running = false;
  /** The events of the command that ran last (read right after it, before anything else runs). */
  #lastEvents: readonly EngineEvent[] = NO_EVENTS;

  constructor(core: EngineCore) {
    this.#core = core;
  }

  /** Runs `cmd` now and answers its result and events; while another command runs, queues it. */
  execute(cmd: EngineCommand): Executed<unknown> | Queued {
    if (this.#running) {
      this.#queue.push(cmd);
      return QUEUED;
    }
    const result = this.#run(cmd, true);
    const out: Executed<unknown> = { queued: false, result, events: this.#lastEvents };
    this.#drain();
    return out;
  }

  /** {@link execute} for the typed wrappers: the result alone, or undefined when queued (no answer object made). */
  call(cmd: EngineCommand): Result<unknown> | undefined {
    if (this.#running) {
      this.#queue.push(cmd);
      return undefined;
    }
    const result = this.#run(cmd, true);
    this.#drain();
    return result;
  }

  subscribe(listener: BatchListener): () => void {
    const entry: BatchListener = (b) => listener(b);
    this.#listeners.push(entry);
    return () => {
      const i = this.#listeners.indexOf(entry);
      if (i >= 0) this.#listeners.splice(i, 1);
    };
  }

  /**
   * Delivers events that no command of this mailbox emitted: the position hot
   * path's (an arrival) or what a read mirror absorbed. At once, or after the
   * batch being delivered when it came from a listener.
   */
  deliverBatch(batch: CommandBatch): void {
    if (this.#running) {
      this.#late.push(batch);
      return;
    }
    this.#running = true;
    try {
      this.#deliver(batch);
      // Without this, a batch a listener raised would wait for the next command (a mirror runs none).
      while (this.#late.length > 0) this.#deliver(this.#late.shift()!);
    } finally {
      this.#running = false;
    }
    this.#drain();
  }

  #run(cmd: EngineCommand, rethrow: boolean): Result<unknown> {
    const core = this.#core;
    this.#running = true;
    let result: Result<unknown>;
    let failure: unknown;
    try {
      result = runCommand(core, cmd);
    } catch (err) {
      failure = err;
      core.logger?.error(`command ${cmd.type} failed`, err);
      result = reject('INTERNAL', `command ${cmd.type} failed`);
    }
    // Most commands that are refused emit nothing: keep the buffer, allocate nothing.
    const events = core.buffer.length > 0 ? core.buffer : NO_EVENTS;
    if (events !== NO_EVENTS) core.buffer = [];
    this.#lastEvents = events;
    try {
      // What a failed command changed before it threw is delivered too: listeners must see every change.
      if (events.length > 0) this.#deliver({ command: cmd, events });
      while (this.#late.length > 0) this.#deliver(this.#late.shift()!);
    } finally {
      this.#running = false;
    }
    // A deadline or a queued command has no caller to hear the throw: it was logged.
    // eslint-disable-next-line @typescript-eslint/only-throw-error -- rethrows what the command threw, unchanged
    if (failure !== undefined && rethrow && cmd.type !== 'fire_deadline') throw failure;
    return result;
  }

  #drain(): void {
    while (this.#queue.length > 0 && !this.#running) this.#run(this.#queue.shift()!, false);
  }

  #deliver(batch: CommandBatch): void {
    for (const l of [...this.#listeners]) {
      try {
        l(batch);
      } catch (err) {
        this.#core.logger?.error(`event listener failed on ${batch.command.type}`, err);
      }
    }
  }
}
