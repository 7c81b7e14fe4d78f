/**
 * Dependency checks for /health, /readyz and the `dispatch_dependency_up`
 * metric. Every `intervalMs` each probe runs (bounded by a timeout); /readyz
 * answers from the last round, so an orchestrator probing often costs no
 * query, and readiness comes back on its own once a round finds every
 * dependency again. /health runs a round itself and says what each probe
 * does.
 */

export type Probe = () => Promise<boolean>;

export interface HealthOptions {
  /** Dependency name → probe; a probe that throws or times out counts as down. */
  readonly probes: Readonly<Record<string, Probe>>;
  /** What each probe checks, in words, for /health. */
  readonly describe: Readonly<Record<string, string>>;
  readonly intervalMs: number;
  readonly timeoutMs?: number;
  /** Told after every round. */
  readonly onRound?: (services: Readonly<Record<string, boolean>>, ready: Readiness) => void;
}

export interface Readiness {
  readonly ready: boolean;
  /** Why not, in words (empty when ready). */
  readonly reasons: readonly string[];
}

export class HealthMonitor {
  readonly #o: HealthOptions;
  #last: Record<string, boolean> = {};
  #checkedAt = 0;
  #timer: NodeJS.Timeout | undefined;
  #round: Promise<Record<string, boolean>> | undefined;
  /** Set while storage is being read back and the engine rebuilt, and while write-behind holds refused events. */
  #recovering: () => string | undefined = () => 'starting';
  #stopping = false;

  constructor(o: HealthOptions) {
    this.#o = o;
  }

  /** `why` answers a reason while the server is recovering, undefined once it serves normally. */
  recovering(why: () => string | undefined): void {
    this.#recovering = why;
  }

  /** From now on not ready: the process is shutting down (orchestrators stop sending it traffic). */
  stopping(): void {
    this.#stopping = true;
  }

  start(): this {
    const tick = () => {
      void this.check().finally(() => {
        if (this.#timer !== undefined) this.#timer = setTimeout(tick, this.#o.intervalMs).unref();
      });
    };
    this.#timer = setTimeout(tick, 0).unref();
    return this;
  }

  stop(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Runs every probe now (joining a round in flight); resolves with each dependency's state. */
  check(): Promise<Record<string, boolean>> {
    this.#round ??= this.#check().finally(() => {
      this.#round = undefined;
    });
    return this.#round;
  }

  async #check(): Promise<Record<string, boolean>> {
    const names = Object.keys(this.#o.probes);
    const ms = this.#o.timeoutMs ?? 1_000;
    const states = await Promise.all(
      names.map((n) =>
        Promise.race([
          this.#o.probes[n]!().then(
            (up) => up,
            () => false,
          ),
          new Promise<boolean>((r) => setTimeout(() => r(false), ms).unref()),
        ]),
      ),
    );
    this.#last = Object.fromEntries(names.map((n, i) => [n, states[i]!]));
    this.#checkedAt = Date.now();
    this.#o.onRound?.(this.#last, this.readiness());
    return this.#last;
  }

  /** From the last round: ready when nothing is recovering and every dependency answered. */
  readiness(): Readiness {
    const reasons: string[] = [];
    if (this.#stopping) reasons.push('shutting down');
    const why = this.#recovering();
    if (why !== undefined) reasons.push(`recovering: ${why}`);
    if (this.#checkedAt === 0) reasons.push('dependencies not checked yet');
    for (const [name, up] of Object.entries(this.#last)) if (!up) reasons.push(`${name} is down`);
    return { ready: reasons.length === 0, reasons };
  }

  /** The last round's states and when it ran (0: never). */
  get last(): { readonly services: Readonly<Record<string, boolean>>; readonly checkedAt: number } {
    return { services: this.#last, checkedAt: this.#checkedAt };
  }

  get describe(): Readonly<Record<string, string>> {
    return this.#o.describe;
  }
}
