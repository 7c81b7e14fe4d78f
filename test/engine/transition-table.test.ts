import fc from 'fast-check';
import t from 'tap';
import type { AnyStateMachine, AnyStateNode, StateValue } from 'xstate';
import { orderMachine } from '../../engine/machines/order-machine.js';
import { restaurantMachine } from '../../engine/machines/restaurant-machine.js';
import { riderMachine } from '../../engine/machines/rider-machine.js';
import { createStepper, stateKey } from '../../engine/machines/step.js';
import { compileTable } from '../../engine/machines/transition-table.js';

/**
 * The transition table against XState itself: any sequence of events, from the
 * initial snapshot and through a restore (`resolve` of the persisted value and
 * context) half way, gives the same answers from a stepper with the table and
 * from one that steps everything through XState.
 */

/**
 * An event from a step's draws, read against the current snapshot so that most
 * events are ones its state handles and their ids are often the ones its guards
 * look for (else an order would seldom be picked up and a rider would almost
 * never reach a stacked job): the type from the state's own events five times
 * in eight, from its ancestors' or from all the machine's otherwise; the id
 * from the context's ids two times in three; every field any event carries
 * filled in.
 */
function eventFor(machine: AnyStateMachine, s: Snap, d: Draw): { type: string } {
  const leaf = s._nodes.find((n) => n.type === 'atomic' || n.type === 'final');
  const own = [...(leaf?.transitions.keys() ?? [])];
  const inherited = s._nodes.filter((n) => n !== leaf).flatMap((n) => [...n.transitions.keys()]);
  const pick = d.type % 8;
  const types =
    pick === 0
      ? [...machine.events]
      : pick === 1 && inherited.length > 0
        ? inherited
        : own.length > 0
          ? own
          : [...machine.events];
  const ctx = (s.context ?? {}) as {
    orderId?: string | null;
    riderId?: string | null;
    stack?: string[];
    stackOffer?: { orderId: string } | null;
  };
  const known = [ctx.orderId, ctx.riderId, ctx.stack?.[0], ctx.stack?.[1], ctx.stackOffer?.orderId].filter(
    (id): id is string => typeof id === 'string',
  );
  const ids = d.id % 3 !== 0 && known.length > 0 ? known : ['o1', 'o2', 'r1', 'r2'];
  const id = ids[d.id % ids.length]!;
  const time = (d.n % 4) * 1000;
  return {
    type: types[d.type % types.length]!,
    orderId: id,
    riderId: id,
    offerId: d.flag ? 'f1' : 'f2',
    pickedUp: d.flag,
    by: (['customer', 'restaurant', 'admin', 'system'] as const)[d.n % 4],
    graceUntil: d.flag ? 0 : 5000,
    expiresAt: time,
    payout: time,
    at: time,
    giveUpAt: time,
    retryAt: time,
    dispatchAt: time,
    restaurantAcceptBy: time,
  } as { type: string };
}

interface Draw {
  type: number;
  id: number;
  n: number;
  flag: boolean;
}

const draw: fc.Arbitrary<Draw> = fc.record({ type: fc.nat(), id: fc.nat(), n: fc.nat(), flag: fc.boolean() });

const times = fc.integer({ min: 0, max: 3 }).map((n) => n * 1000);

interface Case {
  name: string;
  machine: AnyStateMachine;
  input: fc.Arbitrary<unknown>;
}

const cases: Case[] = [
  {
    name: 'order',
    machine: orderMachine,
    input: fc.record({ paid: fc.boolean(), paymentExpiresAt: times, restaurantAcceptBy: times }),
  },
  { name: 'rider', machine: riderMachine, input: fc.constant(undefined) },
  { name: 'restaurant', machine: restaurantMachine, input: fc.constant(undefined) },
];

/** Which transition XState takes from `s` for `event`: the leaf's id, the event type and the candidate's place; undefined for none. */
function fired(machine: AnyStateMachine, s: Snap, event: { type: string }): string | undefined {
  if (s.status !== 'active') return undefined;
  const leaf = s._nodes.find((n) => n.type === 'atomic');
  let i = 0;
  for (let n: AnyStateNode | undefined = leaf; n !== undefined; n = n.parent) {
    for (const tr of n.transitions.get(event.type) ?? []) {
      const g = typeof tr.guard === 'string' ? machine.implementations.guards[tr.guard] : tr.guard;
      if (g === undefined || (g as (a: object) => boolean)({ context: s.context, event }))
        return `${leaf!.id} ${event.type} #${i}`;
      i++;
    }
  }
  return undefined;
}

type Snap = {
  value: StateValue;
  context: unknown;
  status: string;
  output: unknown;
  tags: Set<string>;
  _nodes: AnyStateNode[];
};

/** What a snapshot says, in plain data. */
function view(s: Snap | undefined) {
  if (s === undefined) return undefined;
  return {
    value: s.value,
    context: s.context,
    status: s.status,
    output: s.output,
    tags: [...s.tags],
    nodes: s._nodes.map((n) => n.id),
  };
}

for (const c of cases) {
  t.test(`the ${c.name} machine: the table answers as XState does`, async (t) => {
    t.ok(
      compileTable(
        c.machine,
        () => ({}) as never,
        () => ({}) as never,
        { self: null, system: null },
      ),
      'the machine compiles to a table',
    );
    const table = createStepper(c.machine);
    const reference = createStepper(c.machine, { table: false });

    // Every call into XState made by the table's stepper is counted: it may learn each transition
    // and each initial state once, and steps a snapshot that is no longer active through XState.
    const transition = c.machine.transition.bind(c.machine);
    const getInitialSnapshot = c.machine.getInitialSnapshot.bind(c.machine);
    let counting = false;
    let slowCalls = 0;
    let slowInitials = 0;
    c.machine.transition = ((...args: Parameters<typeof transition>) => {
      if (counting && (args[0] as Snap).status === 'active') slowCalls++;
      return transition(...args);
    }) as typeof c.machine.transition;
    c.machine.getInitialSnapshot = ((...args: Parameters<typeof getInitialSnapshot>) => {
      if (counting) slowInitials++;
      return getInitialSnapshot(...args);
    }) as typeof c.machine.getInitialSnapshot;
    t.teardown(() => {
      c.machine.transition = transition;
      c.machine.getInitialSnapshot = getInitialSnapshot;
    });
    const start = (input: unknown): [Snap, Snap] => {
      counting = true;
      const a = table.initial(input) as Snap;
      counting = false;
      const b = reference.initial(input) as Snap;
      initialStates.add(stateKey(b.value));
      if (JSON.stringify(view(a)) !== JSON.stringify(view(b)))
        throw new Error(
          `initial ${JSON.stringify(input)}: ${JSON.stringify(view(a))} against ${JSON.stringify(view(b))}`,
        );
      return [a, b];
    };
    const initialStates = new Set<string>();

    let steps = 0;
    const seen = new Set<string>();
    fc.assert(
      fc.property(
        c.input,
        fc.array(draw, { minLength: 20, maxLength: 150 }),
        fc.nat(150),
        (input, draws, restoreAt) => {
          let [a, b] = start(input);
          for (let i = 0; i < draws.length; i++) {
            // An order or rider that has ended starts again, so that a sequence goes on exploring.
            if (b.status !== 'active' && draws[i]!.flag) {
              [a, b] = start(input);
            }
            if (i === restoreAt) {
              a = table.resolve(a.value, a.context) as Snap;
              b = reference.resolve(b.value, b.context) as Snap;
            }
            const event = eventFor(c.machine, b, draws[i]!);
            const f = fired(c.machine, b, event);
            if (f !== undefined) seen.add(f);
            counting = true;
            const na = table.step(a as never, event) as Snap | undefined;
            counting = false;
            const nb = reference.step(b as never, event) as Snap | undefined;
            steps++;
            const got = JSON.stringify(view(na));
            const want = JSON.stringify(view(nb));
            if (got !== want)
              throw new Error(`${stateKey(a.value)} + ${JSON.stringify(event)}: ${got} against ${want}`);
            if (na !== undefined) a = na;
            if (nb !== undefined) b = nb;
          }
          return true;
        },
      ),
      { numRuns: 1500, seed: 19 },
    );

    // The transitions there are: each candidate of each state and event type. A few cannot fire
    // (the transient 'placed', the final states), and a few of the rider's stacked jobs are rare.
    let candidates = 0;
    const nodes = [c.machine.root];
    for (const n of nodes) {
      nodes.push(...Object.values(n.states));
      if (n.type !== 'atomic' && n.type !== 'final') continue;
      for (let p: typeof n | undefined = n; p !== undefined; p = p.parent)
        for (const ts of p.transitions.values()) candidates += ts.length;
    }
    t.ok(
      seen.size >= 0.9 * candidates,
      `the sequences fired ${seen.size} of the ${candidates} transitions, in ${steps} steps`,
    );
    // Each transition went through XState once, when it first fired, and never again.
    t.equal(slowInitials, initialStates.size, `the table made all initial snapshots but ${slowInitials} itself`);
    t.equal(slowCalls, seen.size, `the table stepped all but ${slowCalls} of ${steps} steps itself`);
  });
}

t.test('a machine the table cannot reproduce steps through XState', async (t) => {
  const { setup } = await import('xstate');
  const withEntry = setup({}).createMachine({
    initial: 'a',
    states: { a: { on: { GO: 'b' } }, b: { entry: () => {} } },
  });
  t.equal(
    compileTable(
      withEntry,
      () => ({}) as never,
      () => ({}) as never,
      { self: null, system: null },
    ),
    undefined,
    'entry actions: not compiled',
  );
  const stepper = createStepper(withEntry);
  const next = stepper.step(stepper.initial(), { type: 'GO' });
  t.equal(next && stateKey(next.value), 'b');
});

t.test("an initial state's eventless transitions: a parent's is taken when its child's guards fail", async (t) => {
  const { setup } = await import('xstate');
  type Flags = { a: boolean; b: boolean };
  const machine = setup({ types: { context: {} as Flags, input: {} as Flags } }).createMachine({
    context: ({ input }) => ({ ...input }),
    initial: 'outer',
    states: {
      outer: {
        initial: 'inner',
        always: [{ guard: ({ context }) => context.b, target: 'byParent' }],
        states: { inner: { always: [{ guard: ({ context }) => context.a, target: 'byChild' }] }, byChild: {} },
      },
      byParent: {},
    },
  });
  const table = createStepper(machine);
  const reference = createStepper(machine, { table: false });
  for (const input of [
    { a: false, b: true },
    { a: false, b: false },
    { a: true, b: true },
    { a: true, b: false },
    { a: false, b: true },
  ]) {
    t.same(view(table.initial(input)), view(reference.initial(input)), JSON.stringify(input));
  }
});
