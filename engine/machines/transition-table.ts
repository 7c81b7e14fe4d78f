import type { AnyStateMachine, AnyStateNode } from 'xstate';

/**
 * A machine's transitions as a table: for a state and an event type, its
 * candidate transitions in XState's order (the state's own, then each
 * ancestor's), each with its guard, its `assign`s and the snapshot it leads to.
 * A step evaluates the guards, applies the assigns to the context and copies
 * the target's snapshot with the new context: what `machine.transition` does
 * for such a machine, without the Sets, microsteps and intermediate snapshots
 * that made it most of the engine's garbage (docs/benchmarks.md, "The engine's
 * tail"). An initial snapshot is made the same way ({@link TransitionTable.initial}).
 *
 * Only what the table can do exactly goes through it. A machine with entry or
 * exit actions, invocations, delays, history, parallel states, wildcard events,
 * an output or a final state below the root is not compiled at all
 * ({@link compileTable} returns undefined); a transition whose guard or actions
 * are anything but plain functions and `assign`s, a snapshot that is not
 * active, or a target that has eventless transitions goes to XState. The
 * target's snapshot is learned from XState the first time a transition fires,
 * and the table's context is checked against XState's then; a transition
 * whose context differs stays with XState for good.
 */
export class TransitionTable {
  readonly #machine: AnyStateMachine;
  readonly #slow: (snapshot: Snapshot, event: Event) => Snapshot;
  readonly #slowInitial: (input: unknown) => Snapshot;
  readonly #assignArgs: { self: unknown; system: unknown };
  /** Plans by state key, then event type; null = this pair goes to XState. */
  readonly #plans = new Map<string, Map<string, Candidate[] | null>>();
  /** Eventless transitions by state node id, for initial snapshots; null = XState's. */
  readonly #eventless = new Map<string, Eventless[] | null>();
  /** Initial snapshots by the eventless transitions taken from the initial state (their indexes, joined). */
  readonly #initials = new Map<string, Snapshot | null>();
  /** The initial state: the root's initial child, and its initial child, down to a leaf. */
  readonly #initialLeaf: AnyStateNode;

  constructor(
    machine: AnyStateMachine,
    slow: (snapshot: Snapshot, event: Event) => Snapshot,
    slowInitial: (input: unknown) => Snapshot,
    scope: { self: unknown; system: unknown },
  ) {
    this.#machine = machine;
    this.#slow = slow;
    this.#slowInitial = slowInitial;
    this.#assignArgs = { self: scope.self, system: scope.system };
    this.#initialLeaf = initialLeaf(machine.root);
  }

  /**
   * The initial snapshot for `input`, as XState's `getInitialSnapshot`: the
   * context from the machine's `context` (a function of the input, or the one
   * object), then the eventless transitions its guards take, one after another
   * (the order machine's `placed` goes on to wait for payment or the
   * restaurant). Each chain of them is learned from XState once, as a step is.
   */
  initial(input: unknown): Snapshot {
    try {
      return this.#initial(input);
    } catch {
      // A context or an assign that cannot run here (one that spawns): XState's.
      return this.#slowInitial(input);
    }
  }

  #initial(input: unknown): Snapshot {
    const event = { type: 'xstate.init', input };
    const config: unknown = this.#machine.config.context;
    let context: Context =
      typeof config === 'function'
        ? Object.assign({}, (config as AssignFn)({ spawn, input, self: this.#assignArgs.self }, undefined))
        : ((config as Context | undefined) ?? {});
    let leaf = this.#initialLeaf;
    let path = '';
    for (let taken = 0; ; taken++) {
      const plan = this.#eventlessOf(leaf);
      if (plan === null || taken > 16) return this.#slowInitial(input);
      let next: Eventless | undefined;
      for (let i = 0; i < plan.length && next === undefined; i++) {
        const c = plan[i]!;
        if (c.guard === undefined || c.guard({ context, event }, undefined)) {
          next = c;
          path += path === '' ? String(i) : `.${i}`;
        }
      }
      if (next === undefined) break;
      context = this.#assign(next.assigns, context, event);
      leaf = next.leaf;
    }
    const template = this.#initials.get(path);
    if (template === undefined) {
      const xs = this.#slowInitial(input);
      this.#initials.set(path, sameJson(xs.context, context) ? xs : null);
      return xs;
    }
    if (template === null) return this.#slowInitial(input);
    return { ...template, context };
  }

  /** The next snapshot; the same snapshot when no transition is enabled, as XState returns it. */
  step(snapshot: Snapshot, event: Event, key: string): Snapshot {
    if (snapshot.status !== 'active') return this.#slow(snapshot, event);
    const plan = this.#plan(snapshot, event.type, key);
    if (plan === null) return this.#slow(snapshot, event);
    const context = snapshot.context;
    for (let i = 0; i < plan.length; i++) {
      const c = plan[i]!;
      if (c.guard !== undefined && !c.guard({ context, event }, undefined)) continue;
      if (c.template === undefined) return this.#learn(c, snapshot, event);
      if (c.template === null) return this.#slow(snapshot, event);
      if (c.unchanged) return snapshot;
      return { ...c.template, context: this.#assign(c.assigns, context, event) };
    }
    return snapshot;
  }

  #assign(assigns: readonly Assign[], context: Context, event: Event): Context {
    for (let i = 0; i < assigns.length; i++) {
      const a = assigns[i]!;
      // XState's resolveAssign: every property reads the context as it was before this assign.
      const args = { context, event, spawn, self: this.#assignArgs.self, system: this.#assignArgs.system };
      if (a.keys === undefined) {
        context = Object.assign({}, context, (a.assignment as AssignFn)(args, undefined));
        continue;
      }
      const next: Context = Object.assign({}, context);
      const props = a.assignment as Record<string, unknown>;
      for (let k = 0; k < a.keys.length; k++) {
        const key = a.keys[k]!;
        const p = props[key];
        next[key] = typeof p === 'function' ? (p as AssignFn)(args, undefined) : p;
      }
      context = next;
    }
    return context;
  }

  /** The first firing: XState's answer is returned, and kept as the template if the table agrees with it. */
  #learn(c: Candidate, snapshot: Snapshot, event: Event): Snapshot {
    const next = this.#slow(snapshot, event);
    let agrees = false;
    try {
      agrees = next !== snapshot && sameJson(this.#assign(c.assigns, snapshot.context, event), next.context);
    } catch {
      // An assign that cannot run here (one that spawns): the transition stays with XState.
    }
    if (next === snapshot && c.assigns.length === 0) {
      c.unchanged = true;
      c.template = snapshot;
    } else {
      c.template = agrees ? next : null;
    }
    return next;
  }

  /**
   * The eventless transitions out of `leaf`, its own then each ancestor's: XState takes the first
   * enabled one in that order (selectEventlessTransitions), as it does a state's event transitions.
   */
  #eventlessOf(leaf: AnyStateNode): Eventless[] | null {
    let plan = this.#eventless.get(leaf.id);
    if (plan !== undefined) return plan;
    plan = [];
    for (let node: AnyStateNode | undefined = leaf; node !== undefined && plan !== null; node = node.parent) {
      for (const t of node.always ?? []) {
        const guard = this.#guard(t.guard);
        const assigns = this.#assigns(t.actions);
        const target = t.target?.[0];
        if (guard === null || assigns === null || target === undefined || (t.target ?? []).length > 1) {
          plan = null;
          break;
        }
        plan.push({ guard, assigns, leaf: initialLeaf(target) });
      }
    }
    this.#eventless.set(leaf.id, plan);
    return plan;
  }

  #plan(snapshot: Snapshot, type: string, key: string): Candidate[] | null {
    let byType = this.#plans.get(key);
    if (byType === undefined) this.#plans.set(key, (byType = new Map<string, Candidate[] | null>()));
    let plan = byType.get(type);
    if (plan === undefined) byType.set(type, (plan = this.#compilePlan(snapshot, type)));
    return plan;
  }

  #compilePlan(snapshot: Snapshot, type: string): Candidate[] | null {
    const leaf = snapshot._nodes.find((n) => n.type === 'atomic' || n.type === 'final');
    if (leaf === undefined) return null;
    const plan: Candidate[] = [];
    for (let node: AnyStateNode | undefined = leaf; node !== undefined; node = node.parent) {
      for (const t of node.transitions.get(type) ?? []) {
        const guard = this.#guard(t.guard);
        const assigns = this.#assigns(t.actions);
        if (guard === null || assigns === null) return null;
        if ((t.target ?? []).length > 1) return null;
        const target = t.target?.[0];
        if (target !== undefined && entersEventless(target)) return null;
        plan.push({ guard, assigns, template: undefined, unchanged: false });
      }
    }
    return plan;
  }

  #guard(guard: unknown): GuardFn | undefined | null {
    if (guard === undefined) return undefined;
    const resolved = typeof guard === 'string' ? this.#machine.implementations.guards[guard] : guard;
    // Built-in guards (and, or, not, stateIn) carry a `check` and read the snapshot: XState's.
    return typeof resolved === 'function' && !('check' in resolved) ? (resolved as GuardFn) : null;
  }

  #assigns(actions: readonly unknown[]): Assign[] | null {
    const out: Assign[] = [];
    for (const action of actions) {
      const resolved = typeof action === 'string' ? this.#machine.implementations.actions[action] : action;
      if (typeof resolved !== 'function' || (resolved as { type?: unknown }).type !== 'xstate.assign') return null;
      const assignment = (resolved as { assignment?: unknown }).assignment;
      if (typeof assignment === 'function') out.push({ assignment, keys: undefined });
      else if (typeof assignment === 'object' && assignment !== null)
        out.push({ assignment, keys: Object.keys(assignment) });
      else return null;
    }
    return out;
  }
}

/**
 * The table for `machine`, or undefined when the machine uses something the
 * table does not reproduce (see {@link TransitionTable}).
 */
export function compileTable(
  machine: AnyStateMachine,
  slow: (snapshot: Snapshot, event: Event) => Snapshot,
  slowInitial: (input: unknown) => Snapshot,
  scope: { self: unknown; system: unknown },
): TransitionTable | undefined {
  if (machine.root.output !== undefined) return undefined;
  const nodes: AnyStateNode[] = [machine.root];
  for (let i = 0; i < nodes.length; i++) {
    const n = nodes[i]!;
    if (n.type === 'parallel' || n.type === 'history') return undefined;
    if (n.type === 'final' && n.parent !== machine.root) return undefined;
    if (n.entry.length > 0 || n.exit.length > 0 || n.invoke.length > 0 || n.after.length > 0) return undefined;
    for (const type of n.transitions.keys()) if (type.includes('*')) return undefined;
    nodes.push(...Object.values(n.states));
  }
  return new TransitionTable(machine, slow, slowInitial, scope);
}

/** `node` if it is a leaf, else its initial child's leaf. */
function initialLeaf(node: AnyStateNode): AnyStateNode {
  let n = node;
  while (n.type === 'compound') n = n.states[n.config.initial as string]!;
  return n;
}

function sameJson(a: unknown, b: unknown): boolean {
  try {
    return JSON.stringify(a) === JSON.stringify(b);
  } catch {
    return false;
  }
}

/** Whether entering `target` (with its initial descendants and ancestors) reaches a node with eventless transitions. */
function entersEventless(target: AnyStateNode): boolean {
  for (let n: AnyStateNode | undefined = target; n !== undefined; n = n.parent) if (n.always?.length) return true;
  for (let n = target; n.type === 'compound';) {
    const child = n.states[(n.config.initial as string | undefined) ?? ''];
    if (child === undefined) return true;
    if (child.always?.length) return true;
    n = child;
  }
  return false;
}

function spawn(): never {
  throw new Error('spawn is not available in a compiled transition');
}

type Context = Record<string, unknown>;
type Event = { type: string };
type Snapshot = { status: string; context: Context; _nodes: AnyStateNode[] };
type GuardFn = (args: { context: Context; event: Event }, params: undefined) => boolean;
type AssignFn = (args: object, params: undefined) => unknown;

interface Assign {
  readonly assignment: unknown;
  /** The assigned properties of an object assignment; undefined for a function assignment. */
  readonly keys: string[] | undefined;
}

interface Eventless {
  readonly guard: GuardFn | undefined;
  readonly assigns: readonly Assign[];
  /** The state it leads to (its target's initial leaf). */
  readonly leaf: AnyStateNode;
}

interface Candidate {
  readonly guard: GuardFn | undefined;
  readonly assigns: readonly Assign[];
  /** XState's snapshot after this transition, copied with each new context; undefined until it first fires, null = XState's. */
  template: Snapshot | null | undefined;
  /** The transition leaves the snapshot as it is (no target change, no assign). */
  unchanged: boolean;
}
