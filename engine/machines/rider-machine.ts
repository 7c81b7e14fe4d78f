import { assign, setup } from 'xstate';
import type { OrderId } from '../../protocol/index.js';

/**
 * What the rider machine remembers. Position, cell and stats live outside it,
 * on the rider record: they change on the hot path, which never runs a
 * transition. `graceUntil` is an absolute deadline (0 = connected), re-armed by
 * the engine on restore.
 */
export interface RiderContext {
  /** The lead binding: the rider's offer, or its first job (the one its state follows). */
  orderId: OrderId | null;
  offerId: string | null;
  graceUntil: number;
  /**
   * Stacking (engine/dispatch/stacking.ts): jobs accepted on top of the lead
   * job, in the order they were added, and a live offer of one more. Both
   * stay empty for a rider of capacity 1.
   */
  stack: OrderId[];
  stackOffer: { orderId: OrderId; offerId: string } | null;
}

export type RiderMachineEvent =
  | { type: 'GO_ONLINE' }
  | { type: 'GO_OFFLINE' }
  | { type: 'BREAK' }
  | { type: 'RESUME' }
  | { type: 'OFFER'; orderId: OrderId; offerId: string }
  | { type: 'OFFER_ENDED'; orderId: OrderId }
  | { type: 'ACCEPT'; orderId: OrderId }
  | { type: 'ARRIVED_PICKUP'; orderId: OrderId }
  | { type: 'PICKED_UP'; orderId: OrderId }
  | { type: 'DELIVERED'; orderId: OrderId }
  | { type: 'RELEASE'; orderId: OrderId }
  | { type: 'DISCONNECT'; graceUntil: number }
  | { type: 'RECONNECT' }
  | { type: 'GRACE_EXPIRED' }
  | { type: 'STACK_OFFER'; orderId: OrderId; offerId: string }
  | { type: 'STACK_OFFER_ENDED'; orderId: OrderId }
  | { type: 'STACK_ACCEPT'; orderId: OrderId }
  /** A stacked job ended (delivered or released) while the lead goes on. */
  | { type: 'STACK_DONE'; orderId: OrderId }
  /**
   * The lead job ended (delivered or released) with stacked jobs left: the
   * first becomes the lead, the rider heading to its pickup or its drop.
   */
  | { type: 'PROMOTE'; orderId: OrderId; pickedUp: boolean }
  /** The lead job ended with no stacked job left but a live stack offer: that offer is the rider's offer now. */
  | { type: 'PROMOTE_OFFER'; orderId: OrderId };

/**
 * The transitions of stacked jobs, the same in every state that holds a job (a new stack offer
 * is taken only before the pickup): targets are those states' siblings.
 */
const STACKED_JOBS = {
  STACK_OFFER_ENDED: { guard: 'ownStackOffer', actions: 'stackOfferEnded' },
  STACK_ACCEPT: { guard: 'ownStackOffer', actions: 'stackAccept' },
  STACK_DONE: { guard: 'stackedJob', actions: 'stackDone' },
  PROMOTE: [
    { guard: 'promoteCarrying', target: 'delivering', actions: 'promote' },
    { guard: 'promotable', target: 'to_pickup', actions: 'promote' },
  ],
  PROMOTE_OFFER: { guard: 'promotableOffer', target: 'offered', actions: 'promoteOffer' },
} as const;

/**
 * Rider lifecycle: offline → online (idle | offered | to_pickup | at_pickup |
 * delivering) → offline, with a break state and a disconnect grace period.
 * Every job event names its order and is refused for any other order.
 */
export const riderMachine = setup({
  types: {} as { context: RiderContext; events: RiderMachineEvent },
  actions: {
    clearJob: assign({ orderId: null, offerId: null, stack: [], stackOffer: null }),
    stackOffer: assign({
      stackOffer: ({ event }) =>
        event.type === 'STACK_OFFER' ? { orderId: event.orderId, offerId: event.offerId } : null,
    }),
    stackOfferEnded: assign({ stackOffer: null }),
    stackAccept: assign({
      stack: ({ context, event }) => [...context.stack, (event as { orderId: OrderId }).orderId],
      stackOffer: null,
    }),
    stackDone: assign({
      stack: ({ context, event }) => context.stack.filter((id) => id !== (event as { orderId: OrderId }).orderId),
    }),
    promoteOffer: assign({
      orderId: ({ context }) => context.stackOffer!.orderId,
      offerId: ({ context }) => context.stackOffer!.offerId,
      stack: [],
      stackOffer: null,
    }),
    promote: assign({
      orderId: ({ context }) => context.stack[0]!,
      offerId: null,
      stack: ({ context }) => context.stack.slice(1),
    }),
  },
  guards: {
    connected: ({ context }) => context.graceUntil === 0,
    ownJob: ({ context, event }) => 'orderId' in event && event.orderId === context.orderId,
    /** A stack offer needs a connected rider with none live; capacity and the route are the engine's checks. */
    canStack: ({ context }) => context.graceUntil === 0 && context.stackOffer === null,
    ownStackOffer: ({ context, event }) => 'orderId' in event && event.orderId === context.stackOffer?.orderId,
    stackedJob: ({ context, event }) => 'orderId' in event && context.stack.includes(event.orderId),
    promotable: ({ context, event }) => 'orderId' in event && event.orderId === context.stack[0],
    promotableOffer: ({ context, event }) =>
      'orderId' in event && context.stack.length === 0 && event.orderId === context.stackOffer?.orderId,
    promoteCarrying: ({ context, event }) =>
      event.type === 'PROMOTE' && event.orderId === context.stack[0] && event.pickedUp,
  },
}).createMachine({
  id: 'rider',
  initial: 'offline',
  context: { orderId: null, offerId: null, graceUntil: 0, stack: [], stackOffer: null },
  states: {
    offline: {
      on: { GO_ONLINE: { target: 'online.idle', actions: assign({ graceUntil: 0 }) } },
    },
    on_break: {
      on: {
        RESUME: 'online.idle',
        GO_OFFLINE: 'offline',
        DISCONNECT: { actions: assign({ graceUntil: ({ event }) => event.graceUntil }) },
        RECONNECT: { guard: ({ context }) => context.graceUntil !== 0, actions: assign({ graceUntil: 0 }) },
        GRACE_EXPIRED: { target: 'offline', actions: assign({ graceUntil: 0 }) },
      },
    },
    online: {
      initial: 'idle',
      on: {
        DISCONNECT: { actions: assign({ graceUntil: ({ event }) => event.graceUntil }) },
        RECONNECT: { guard: ({ context }) => context.graceUntil !== 0, actions: assign({ graceUntil: 0 }) },
        GRACE_EXPIRED: { target: 'offline', actions: ['clearJob', assign({ graceUntil: 0 })] },
      },
      states: {
        idle: {
          on: {
            GO_OFFLINE: '#rider.offline',
            BREAK: '#rider.on_break',
            OFFER: {
              guard: 'connected',
              target: 'offered',
              actions: assign({ orderId: ({ event }) => event.orderId, offerId: ({ event }) => event.offerId }),
            },
          },
        },
        offered: {
          on: {
            ACCEPT: { guard: 'ownJob', target: 'to_pickup' },
            OFFER_ENDED: { guard: 'ownJob', target: 'idle', actions: 'clearJob' },
            RELEASE: { guard: 'ownJob', target: 'idle', actions: 'clearJob' },
            GO_OFFLINE: { target: '#rider.offline', actions: 'clearJob' },
          },
        },
        to_pickup: {
          on: {
            STACK_OFFER: { guard: 'canStack', actions: 'stackOffer' },
            ...STACKED_JOBS,
            ARRIVED_PICKUP: { guard: 'ownJob', target: 'at_pickup' },
            PICKED_UP: { guard: 'ownJob', target: 'delivering' },
            RELEASE: { guard: 'ownJob', target: 'idle', actions: 'clearJob' },
            GO_OFFLINE: { target: '#rider.offline', actions: 'clearJob' },
          },
        },
        at_pickup: {
          on: {
            STACK_OFFER: { guard: 'canStack', actions: 'stackOffer' },
            ...STACKED_JOBS,
            PICKED_UP: { guard: 'ownJob', target: 'delivering' },
            RELEASE: { guard: 'ownJob', target: 'idle', actions: 'clearJob' },
            GO_OFFLINE: { target: '#rider.offline', actions: 'clearJob' },
          },
        },
        delivering: {
          on: {
            ...STACKED_JOBS,
            DELIVERED: { guard: 'ownJob', target: 'idle', actions: 'clearJob' },
            RELEASE: { guard: 'ownJob', target: 'idle', actions: 'clearJob' },
          },
        },
      },
    },
  },
});

export type RiderState =
  | 'offline'
  | 'on_break'
  | 'online.idle'
  | 'online.offered'
  | 'online.to_pickup'
  | 'online.at_pickup'
  | 'online.delivering';
