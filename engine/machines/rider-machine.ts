import { assign, setup } from 'xstate';
import type { OrderId } from '../../protocol/index.js';

/**
 * What the rider machine remembers. Position, cell and stats live outside it,
 * on the rider record: they change on the hot path, which never runs a
 * transition. `graceUntil` is an absolute deadline (0 = connected), re-armed by
 * the engine on restore.
 */
export interface RiderContext {
  orderId: OrderId | null;
  offerId: string | null;
  graceUntil: number;
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
  | { type: 'GRACE_EXPIRED' };

/**
 * Rider lifecycle: offline → online (idle | offered | to_pickup | at_pickup |
 * delivering) → offline, with a break state and a disconnect grace period.
 * Every job event names its order and is refused for any other order.
 */
export const riderMachine = setup({
  types: {} as { context: RiderContext; events: RiderMachineEvent },
  actions: {
    clearJob: assign({ orderId: null, offerId: null }),
  },
  guards: {
    connected: ({ context }) => context.graceUntil === 0,
    ownJob: ({ context, event }) => 'orderId' in event && event.orderId === context.orderId,
  },
}).createMachine({
  id: 'rider',
  initial: 'offline',
  context: { orderId: null, offerId: null, graceUntil: 0 },
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
            ARRIVED_PICKUP: { guard: 'ownJob', target: 'at_pickup' },
            PICKED_UP: { guard: 'ownJob', target: 'delivering' },
            RELEASE: { guard: 'ownJob', target: 'idle', actions: 'clearJob' },
            GO_OFFLINE: { target: '#rider.offline', actions: 'clearJob' },
          },
        },
        at_pickup: {
          on: {
            PICKED_UP: { guard: 'ownJob', target: 'delivering' },
            RELEASE: { guard: 'ownJob', target: 'idle', actions: 'clearJob' },
            GO_OFFLINE: { target: '#rider.offline', actions: 'clearJob' },
          },
        },
        delivering: {
          on: {
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
