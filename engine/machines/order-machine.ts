import { assign, setup } from 'xstate';
import type { CancelledBy, RiderId } from '../../protocol/index.js';

/**
 * What the order machine remembers: who holds it, the live offer, riders who
 * already passed on it, and every deadline as an absolute epoch-ms time (0 =
 * not armed). XState does not restore `after` delays from a snapshot, so the
 * engine arms these through its Clock and re-arms them on restore.
 */
export interface OrderContext {
  paid: boolean;
  foodReady: boolean;
  riderId: RiderId | null;
  offerId: string | null;
  offerExpiresAt: number;
  /**
   * The rider's pay for this job in integer paise, set by the offer and kept
   * through delivery; null with no offer or job (and in snapshots older than it).
   */
  payout: number | null;
  offers: number;
  passed: RiderId[];
  paymentExpiresAt: number;
  restaurantAcceptBy: number;
  dispatchAt: number;
  retryAt: number;
  giveUpAt: number;
  pickedUpAt: number;
}

export interface OrderInput {
  paid: boolean;
  /** Set when unpaid. */
  paymentExpiresAt: number;
  /** Set when paid at placement: the restaurant's clock starts at once. */
  restaurantAcceptBy: number;
}

export type OrderMachineEvent =
  | { type: 'PAYMENT_CONFIRMED'; restaurantAcceptBy: number }
  | { type: 'PAYMENT_FAILED' }
  | { type: 'PAYMENT_EXPIRED' }
  | { type: 'RESTAURANT_ACCEPT'; dispatchAt: number }
  | { type: 'RESTAURANT_REJECT' }
  | { type: 'RESTAURANT_TIMEOUT' }
  | { type: 'FOOD_READY' }
  | { type: 'DISPATCH_DUE'; giveUpAt: number }
  | { type: 'NO_CANDIDATE'; retryAt: number }
  | { type: 'OFFER'; riderId: RiderId; offerId: string; expiresAt: number; payout: number }
  | { type: 'DECLINE'; riderId: RiderId }
  | { type: 'OFFER_EXPIRED' }
  | { type: 'ACCEPT'; riderId: RiderId }
  | { type: 'UNASSIGN'; giveUpAt: number }
  | { type: 'PICKED_UP'; riderId: RiderId; at: number }
  | { type: 'DELIVERED'; riderId: RiderId }
  | { type: 'GIVE_UP' }
  | { type: 'CANCEL'; by: CancelledBy }
  | { type: 'EXPIRE' };

/**
 * Order lifecycle: placed → awaiting_payment → awaiting_restaurant → preparing
 * → dispatching (searching | offered) → assigned → picked_up → delivered, with
 * cancellation from every live state (who may cancel narrows as the order
 * advances) and a hard expiry so no order lives forever.
 */
export const orderMachine = setup({
  types: {} as { context: OrderContext; events: OrderMachineEvent; input: OrderInput },
  actions: {
    // The rider who held the offer or the job has passed on it: never offer it to them again.
    endOffer: assign({
      passed: ({ context }) => (context.riderId ? [...context.passed, context.riderId] : context.passed),
      riderId: null,
      offerId: null,
      offerExpiresAt: 0,
      payout: null,
    }),
  },
  guards: {
    paid: ({ context }) => context.paid,
    holder: ({ context, event }) => 'riderId' in event && event.riderId === context.riderId,
    anyParty: () => true,
    notCustomer: ({ event }) => event.type === 'CANCEL' && event.by !== 'customer',
    staffOnly: ({ event }) => event.type === 'CANCEL' && (event.by === 'admin' || event.by === 'system'),
  },
}).createMachine({
  id: 'order',
  initial: 'placed',
  context: ({ input }) => ({
    paid: input.paid,
    foodReady: false,
    riderId: null,
    offerId: null,
    offerExpiresAt: 0,
    payout: null,
    offers: 0,
    passed: [],
    paymentExpiresAt: input.paymentExpiresAt,
    restaurantAcceptBy: input.restaurantAcceptBy,
    dispatchAt: 0,
    retryAt: 0,
    giveUpAt: 0,
    pickedUpAt: 0,
  }),
  on: {
    EXPIRE: '.cancelled',
  },
  states: {
    placed: {
      always: [{ guard: 'paid', target: 'awaiting_restaurant' }, { target: 'awaiting_payment' }],
    },
    awaiting_payment: {
      on: {
        PAYMENT_CONFIRMED: {
          target: 'awaiting_restaurant',
          actions: assign({ paid: true, restaurantAcceptBy: ({ event }) => event.restaurantAcceptBy }),
        },
        PAYMENT_FAILED: 'cancelled',
        PAYMENT_EXPIRED: 'cancelled',
        CANCEL: { guard: 'anyParty', target: 'cancelled' },
      },
    },
    awaiting_restaurant: {
      on: {
        RESTAURANT_ACCEPT: {
          target: 'preparing',
          actions: assign({ restaurantAcceptBy: 0, dispatchAt: ({ event }) => event.dispatchAt }),
        },
        RESTAURANT_REJECT: 'cancelled',
        RESTAURANT_TIMEOUT: 'cancelled',
        CANCEL: { guard: 'anyParty', target: 'cancelled' },
      },
    },
    preparing: {
      on: {
        FOOD_READY: { actions: assign({ foodReady: true }) },
        DISPATCH_DUE: {
          target: 'dispatching',
          actions: assign({ dispatchAt: 0, giveUpAt: ({ event }) => event.giveUpAt }),
        },
        CANCEL: { guard: 'notCustomer', target: 'cancelled' },
      },
    },
    dispatching: {
      initial: 'searching',
      on: {
        FOOD_READY: { actions: assign({ foodReady: true }) },
        CANCEL: { guard: 'notCustomer', target: 'cancelled' },
      },
      states: {
        searching: {
          on: {
            NO_CANDIDATE: { actions: assign({ retryAt: ({ event }) => event.retryAt }) },
            OFFER: {
              target: 'offered',
              actions: assign({
                riderId: ({ event }) => event.riderId,
                offerId: ({ event }) => event.offerId,
                offerExpiresAt: ({ event }) => event.expiresAt,
                payout: ({ event }) => event.payout,
                offers: ({ context }) => context.offers + 1,
                retryAt: 0,
              }),
            },
            GIVE_UP: '#order.cancelled',
          },
        },
        offered: {
          on: {
            ACCEPT: { guard: 'holder', target: '#order.assigned', actions: assign({ offerExpiresAt: 0, giveUpAt: 0 }) },
            DECLINE: { guard: 'holder', target: 'searching', actions: 'endOffer' },
            OFFER_EXPIRED: { target: 'searching', actions: 'endOffer' },
          },
        },
      },
    },
    assigned: {
      on: {
        FOOD_READY: { actions: assign({ foodReady: true }) },
        PICKED_UP: {
          guard: 'holder',
          target: 'picked_up',
          actions: assign({ foodReady: true, pickedUpAt: ({ event }) => event.at }),
        },
        // The rider went offline before pickup: search again, with a fresh give-up time (accepting
        // cleared the old one), never offering it to that rider.
        UNASSIGN: { target: 'dispatching', actions: ['endOffer', assign({ giveUpAt: ({ event }) => event.giveUpAt })] },
        CANCEL: { guard: 'notCustomer', target: 'cancelled' },
      },
    },
    picked_up: {
      on: {
        DELIVERED: { guard: 'holder', target: 'delivered' },
        // The food is with the rider: only operators (or the engine, when the rider is lost) end it.
        CANCEL: { guard: 'staffOnly', target: 'cancelled' },
      },
    },
    delivered: { type: 'final' },
    cancelled: { type: 'final' },
  },
});

export type OrderState =
  | 'placed'
  | 'awaiting_payment'
  | 'awaiting_restaurant'
  | 'preparing'
  | 'dispatching.searching'
  | 'dispatching.offered'
  | 'assigned'
  | 'picked_up'
  | 'delivered'
  | 'cancelled';

export const TERMINAL_ORDER_STATES: ReadonlySet<string> = new Set(['delivered', 'cancelled']);

/**
 * Whether an order counts against its restaurant's capacity: from placement
 * until the food leaves the kitchen (picked up) or the order ends.
 */
export function holdsKitchen(state: string): boolean {
  return state !== 'picked_up' && !TERMINAL_ORDER_STATES.has(state);
}
