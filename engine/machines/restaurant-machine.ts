import { setup } from 'xstate';

/** Restaurant lifecycle: open ⇄ busy (not taking new orders) ⇄ closed. */
export const restaurantMachine = setup({
  types: {} as {
    events: { type: 'OPEN' } | { type: 'BUSY' } | { type: 'CLOSE' };
  },
}).createMachine({
  id: 'restaurant',
  initial: 'open',
  states: {
    open: { on: { BUSY: 'busy', CLOSE: 'closed' } },
    busy: { on: { OPEN: 'open', CLOSE: 'closed' } },
    closed: { on: { OPEN: 'open', BUSY: 'busy' } },
  },
});

export type RestaurantState = 'open' | 'busy' | 'closed';
