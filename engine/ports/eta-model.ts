import type { VehicleType } from '../../protocol/index.js';

/**
 * The travel-time port: how long a rider takes between two points. Dispatch's
 * pickup ETA, the batch's lateness, the customer's tracking answer and the
 * promise made at placement all ask it, so they never disagree. The engine's
 * default is {@link StraightLineEta}; a road-network router can replace it
 * (it must answer synchronously, from its own cache, inside a command).
 */
export interface EtaModel {
  /**
   * Seconds from (fromLat, fromLng) to (toLat, toLng) for a rider on `vehicle`
   * (null: not known), leaving at `at` (epoch ms). Coordinates are plain
   * numbers so that a search scoring thousands of riders allocates nothing.
   */
  travelS(
    fromLat: number,
    fromLng: number,
    toLat: number,
    toLng: number,
    vehicle: VehicleType | null,
    at: number,
  ): number;

  /**
   * Optional: a floor under `travelS ÷ straight-line metres` (the engine's `fastDistanceM`) for any
   * vehicle leaving at `at`, so a search can pass over a rider whose ETA cannot beat the riders it
   * already holds without asking for it. Leave it out (or answer 0) when no such floor is known.
   */
  minSecondsPerMetre?(at: number): number;
}
