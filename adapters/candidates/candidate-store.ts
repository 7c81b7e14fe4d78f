/**
 * A place outside the engine that stores available riders' positions and
 * finds the nearest ones: what a team would pick instead of the engine's
 * in-memory H3 index (Redis GEO, PostGIS). The benchmark's baselines plug one
 * in through the engine's external candidates mode; nothing else uses it.
 *
 * Writes are fire-and-forget and batched the way an ingest path would batch
 * them; `flush` waits for what was written so far. Every implementation passes
 * the same contract suite (test/adapters/candidates/).
 */
export interface CandidateStore {
  /** `redis-geo` or `postgis`: the name the benchmark reports it under. */
  readonly name: string;
  /** Sets an available rider's position (insert or update). */
  put(riderId: string, lat: number, lng: number): void;
  /** The rider is no longer available. */
  remove(riderId: string): void;
  /** Up to `k` riders within `radiusM` of the point, nearest first. */
  nearest(lat: number, lng: number, radiusM: number, k: number): Promise<string[]>;
  /** Resolves when every put and remove made so far has been applied. */
  flush(): Promise<void>;
  /** Write errors seen so far (a baseline that silently drops writes would flatter itself). */
  readonly writeErrors: number;
  close(): Promise<void>;
}
