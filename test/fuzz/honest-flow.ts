/**
 * An honest order flow that runs while the fuzzers do: a customer orders
 * (cash), the restaurant confirms with no preparation time, a rider on the
 * rider protocol (the TS client) takes the offer, picks up and delivers, and
 * the customer reads the order back as delivered. Each round must finish
 * within `roundMs`; `run()` repeats rounds until `stop()` and counts them.
 */
import { Frame, RIDER_PATH, RiderClient, RiderStatusCode, type ServerFrame } from '../../protocol/index.js';
import { api } from '../support/rest-server.js';
import { nodeSocket } from '../support/ws-harness.js';

export interface HonestFlowOptions {
  readonly url: string;
  readonly customer: string;
  readonly restaurant: string;
  readonly rider: string;
  readonly shop: { readonly id: string; readonly items: Readonly<Record<string, string>> };
  readonly roundMs?: number;
  /** Pause between rounds (default 200 ms): a steady flow, not a load test. */
  readonly pauseMs?: number;
}

export class HonestFlow {
  completed = 0;
  readonly failures: string[] = [];
  /** Every order the flow placed: no fuzzing user may hear of them. */
  readonly orders = new Set<string>();
  readonly #o: HonestFlowOptions;
  #client: RiderClient | undefined;
  #positions: ReturnType<typeof setInterval> | undefined;
  #waiters = new Set<{ pred: (f: ServerFrame) => boolean; done: (f: ServerFrame) => void }>();
  #mine = new Set<string>();
  #running: Promise<void> | undefined;
  #stopping = false;

  constructor(o: HonestFlowOptions) {
    this.#o = o;
  }

  #next(pred: (f: ServerFrame) => boolean, what: string): Promise<ServerFrame> {
    return new Promise((resolve, reject) => {
      const w = {
        pred,
        done: (f: ServerFrame) => {
          clearTimeout(timer);
          resolve(f);
        },
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(w);
        reject(new Error(`honest rider: no ${what}`));
      }, this.#o.roundMs ?? 30_000);
      this.#waiters.add(w);
    });
  }

  async #rider(): Promise<RiderClient> {
    if (this.#client) return this.#client;
    const client = new RiderClient({
      url: `${this.#o.url.replace(/^http/, 'ws')}${RIDER_PATH}`,
      getToken: () => this.#o.rider,
      socket: nodeSocket,
      backoff: { initialMs: 50, maxMs: 1000 },
      onFrame: (f) => {
        // Offers of orders that are not the flow's (a fuzzer's order near the shop) are declined.
        if (f.type === Frame.OFFER && !this.#mine.has(f.orderId)) client.decline(f.orderId);
        for (const w of this.#waiters)
          if (w.pred(f)) {
            this.#waiters.delete(w);
            w.done(f);
          }
      },
    });
    this.#client = client;
    const welcome = this.#next((f) => f.type === Frame.WELCOME, 'welcome');
    client.start();
    await welcome;
    const here = () =>
      client.sendPosition({ lat: 19.076, lng: 72.8777, accuracy: 5, heading: NaN, speed: 0, at: Date.now() });
    client.setStatus(RiderStatusCode.ONLINE);
    here();
    // Matching wants a fresh position: keep reporting one.
    this.#positions = setInterval(here, 2_000);
    return client;
  }

  /** One order from placing to delivered; resolves with its id, throws with what went wrong. */
  async once(): Promise<string> {
    const { url, shop } = this.#o;
    const rider = await this.#rider();
    const placed = await api(url, 'POST', '/orders', {
      token: this.#o.customer,
      body: {
        restaurant_id: shop.id,
        items: [{ menu_item_id: shop.items['Butter Chicken']!, quantity: 1 }],
        payment_method: { type: 'CASH' },
        delivery_address: { street: '123 Main St', city: 'Mumbai', latitude: 19.086, longitude: 72.8877 },
      },
    });
    if (placed.status !== 201) throw new Error(`honest order: ${placed.status} ${JSON.stringify(placed.body)}`);
    const id = placed.body.id as string;
    this.#mine.add(id);
    this.orders.add(id);
    const offered = this.#next((f) => f.type === Frame.OFFER && f.orderId === id, `offer of ${id}`);
    const confirmed = await api(url, 'PUT', `/orders/${id}/status`, {
      token: this.#o.restaurant,
      body: { status: 'confirmed', estimated_preparation_time: 0 },
    });
    if (confirmed.status !== 200)
      throw new Error(`honest confirm: ${confirmed.status} ${JSON.stringify(confirmed.body)}`);
    await offered;
    const assigned = this.#next((f) => f.type === Frame.ASSIGNED && f.orderId === id, `assignment of ${id}`);
    rider.accept(id);
    await assigned;
    const picked = this.#next(
      (f) => f.type === Frame.ORDER_UPDATE && f.orderId === id && f.status === 'picked_up',
      `pickup of ${id}`,
    );
    rider.pickedUp(id);
    await picked;
    const done = this.#next(
      (f) => f.type === Frame.ORDER_UPDATE && f.orderId === id && f.status === 'delivered',
      `delivery of ${id}`,
    );
    rider.delivered(id);
    await done;
    const read = await api(url, 'GET', `/orders/${id}`, { token: this.#o.customer });
    if (read.status !== 200 || read.body.status !== 'delivered')
      throw new Error(`honest read: ${read.status} ${JSON.stringify(read.body)}`);
    this.#mine.delete(id);
    this.completed++;
    return id;
  }

  /** Rounds back to back until `stop()`. */
  run(): void {
    this.#running = (async () => {
      while (!this.#stopping) {
        try {
          await this.once();
        } catch (err) {
          this.failures.push(String((err as Error).message ?? err));
          if (this.failures.length > 20) return;
        }
        await new Promise((r) => setTimeout(r, this.#o.pauseMs ?? 200));
      }
    })();
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    await this.#running;
    clearInterval(this.#positions);
    this.#client?.stop();
  }
}
