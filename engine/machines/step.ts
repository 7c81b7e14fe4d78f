import { createActor, type AnyStateMachine, type EventFrom, type SnapshotFrom, type StateValue } from 'xstate';
import { compileTable } from './transition-table.js';

/**
 * A pure step function over an XState machine: next snapshot for an event, or
 * `undefined` when the state does not handle it (a coded rejection upstream).
 *
 * XState's `transition()` builds a throwaway actor on every call (about 28 µs
 * here); `machine.transition` with one inert scope made up front does the same
 * work in about 6 µs. Machines here use only `assign` and guards, so nothing
 * but the context update is executed; effects are decided by the engine. Such
 * a machine steps through its transition table (transition-table.ts),
 * which gives XState's answer without most of its garbage; `{ table: false }`
 * steps every event through XState (the reference the table is tested against).
 */
export interface Stepper<M extends AnyStateMachine> {
  readonly machine: M;
  initial(input?: unknown): SnapshotFrom<M>;
  step(snapshot: SnapshotFrom<M>, event: EventFrom<M>): SnapshotFrom<M> | undefined;
  /** Rebuilds a snapshot from its persisted `{ value, context }`. */
  resolve(value: StateValue, context: unknown): SnapshotFrom<M>;
}

export function createStepper<M extends AnyStateMachine>(machine: M, options: { table?: boolean } = {}): Stepper<M> {
  const self = createActor(machine);
  const scope = {
    self,
    id: '',
    sessionId: '',
    logger: () => {},
    defer: () => {},
    system: (self as unknown as { system: unknown }).system,
    stopChild: () => {},
    emit: () => {},
    actionExecutor: () => {},
  } as never;
  const slow = (snapshot: object, event: object) =>
    machine.transition(snapshot as never, event as never, scope) as never;
  const slowInitial = (input: unknown) => machine.getInitialSnapshot(scope, input) as never;
  const table = options.table === false ? undefined : compileTable(machine, slow, slowInitial, scope);
  return {
    machine,
    initial: (input?: unknown) => (table ? table.initial(input) : slowInitial(input)) as SnapshotFrom<M>,
    step(snapshot, event) {
      const next: SnapshotFrom<M> = table
        ? (table.step(snapshot as never, event, stateKey((snapshot as { value: StateValue }).value)) as never)
        : slow(snapshot as object, event);
      return next === snapshot ? undefined : next;
    },
    resolve: (value, context) => machine.resolveState({ value, context } as never) as SnapshotFrom<M>,
  };
}

/** Dotted state keys by outer then inner key; a machine has a handful of states. */
const dotted = new Map<string, Map<string, string>>();

/** `{ dispatching: 'offered' }` → `'dispatching.offered'`; machines here are never parallel. */
export function stateKey(value: StateValue): string {
  if (typeof value === 'string') return value;
  // The first key without Object.entries' arrays, and each dotted key made once: this runs on every step.
  for (const k in value) {
    const v = value[k];
    if (v === undefined) return k;
    const inner = stateKey(v);
    let byInner = dotted.get(k);
    if (byInner === undefined) dotted.set(k, (byInner = new Map<string, string>()));
    let key = byInner.get(inner);
    if (key === undefined) byInner.set(inner, (key = `${k}.${inner}`));
    return key;
  }
  throw new Error('empty state value');
}
