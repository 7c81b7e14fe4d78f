import { cellToLatLng, cellToParent, getResolution, isValidCell, latLngToCell, polygonToCells } from 'h3-js';
import type { H3Cell } from '../protocol/index.js';

/** A partition's name: lower-case letters, digits, `_` and `-` (it becomes a NATS KV key and a subject token). */
export type PartitionId = string & { readonly __partitionId: never };

/** The plain JSON a deployment writes: one coarse resolution, each partition's cells, an optional default. */
export interface PartitionMapConfig {
  readonly resolution: number;
  readonly partitions: Readonly<Record<string, readonly string[]>>;
  /** The partition of a place outside every listed cell; without one such a place has no partition. */
  readonly default?: string;
}

/** A map that failed validation; `problems` lists every fault found, not only the first. */
export class PartitionMapError extends Error {
  override readonly name = 'PartitionMapError';
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    super(`invalid partition map: ${problems.join('; ')}`);
    this.problems = problems;
  }
}

const NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/;

/**
 * The city cut into partitions: named sets of H3 cells at one coarse
 * resolution, no cell in two partitions. Built only by {@link parsePartitionMap}
 * (or the split helpers), so an instance is always valid. Immutable.
 */
export class PartitionMap {
  readonly resolution: number;
  readonly ids: readonly PartitionId[];
  readonly defaultPartition: PartitionId | null;
  readonly #owner: ReadonlyMap<string, PartitionId>;
  readonly #cells: ReadonlyMap<PartitionId, readonly H3Cell[]>;

  private constructor(resolution: number, cells: Map<PartitionId, H3Cell[]>, dflt: PartitionId | null) {
    this.resolution = resolution;
    this.#cells = cells;
    this.ids = Object.freeze([...cells.keys()]);
    this.defaultPartition = dflt;
    const owner = new Map<string, PartitionId>();
    for (const [id, list] of cells) for (const c of list) owner.set(c, id);
    this.#owner = owner;
    Object.freeze(this);
  }

  /** As {@link parsePartitionMap}. */
  static parse(input: unknown): PartitionMap {
    const v = validate(input);
    return new PartitionMap(v.resolution, v.cells, v.dflt);
  }

  /**
   * The partition of a cell at the map's resolution or finer (a finer cell
   * counts by its parent); the default partition, or null, when no partition
   * lists it. A coarser cell may straddle partitions, so it is refused.
   */
  partitionOf(cell: string): PartitionId | null {
    if (!isValidCell(cell)) throw new RangeError(`partitionOf: ${JSON.stringify(cell)} is not an H3 cell`);
    const res = getResolution(cell);
    if (res < this.resolution) {
      throw new RangeError(`partitionOf: cell ${cell} (res ${res}) is coarser than the map (res ${this.resolution})`);
    }
    const key = res === this.resolution ? cell : cellToParent(cell, this.resolution);
    return this.#owner.get(key) ?? this.defaultPartition;
  }

  /** The partition of a point; as {@link partitionOf}. */
  partitionOfPoint(lat: number, lng: number): PartitionId | null {
    return this.#owner.get(latLngToCell(lat, lng, this.resolution)) ?? this.defaultPartition;
  }

  /** The cells listed for `id` (empty for an unknown id). */
  cellsOf(id: PartitionId): readonly H3Cell[] {
    return this.#cells.get(id) ?? [];
  }

  has(id: string): id is PartitionId {
    return this.#cells.has(id as PartitionId);
  }

  /** The config this map was parsed from (parsing it again gives an equal map). */
  toJSON(): PartitionMapConfig {
    const partitions: Record<string, readonly string[]> = {};
    for (const [id, cells] of this.#cells) partitions[id] = cells;
    return this.defaultPartition === null
      ? { resolution: this.resolution, partitions }
      : { resolution: this.resolution, partitions, default: this.defaultPartition };
  }
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Parses and validates a partition map from plain JSON (already `JSON.parse`d).
 * Refuses, with every problem listed: a resolution outside 0..15, no
 * partitions, a bad name, an empty partition, a string that is not an H3 cell,
 * a cell at another resolution than the map's, a cell listed twice or in two
 * partitions, and a default that names no partition.
 */
export const parsePartitionMap = (input: unknown): PartitionMap => PartitionMap.parse(input);

function validate(input: unknown): { resolution: number; cells: Map<PartitionId, H3Cell[]>; dflt: PartitionId | null } {
  const problems: string[] = [];
  if (!isRecord(input)) throw new PartitionMapError(['the map must be an object {resolution, partitions, default?}']);
  const res = input['resolution'];
  const resolution = typeof res === 'number' && Number.isInteger(res) && res >= 0 && res <= 15 ? res : -1;
  if (resolution < 0) problems.push(`resolution must be an integer in 0..15, got ${JSON.stringify(res)}`);
  const parts = input['partitions'];
  if (!isRecord(parts) || Object.keys(parts).length === 0) {
    problems.push('partitions must be an object with at least one partition');
    throw new PartitionMapError(problems);
  }
  const cells = new Map<PartitionId, H3Cell[]>();
  const seen = new Map<string, string>();
  for (const [name, list] of Object.entries(parts)) {
    if (!NAME.test(name)) problems.push(`partition name ${JSON.stringify(name)} must match ${NAME.source}`);
    if (!Array.isArray(list)) {
      problems.push(`partition ${name}: cells must be an array of H3 cell strings`);
      continue;
    }
    if (list.length === 0) problems.push(`partition ${name} is empty`);
    const mine: H3Cell[] = [];
    for (const c of list as unknown[]) {
      if (typeof c !== 'string' || !isValidCell(c)) {
        problems.push(`partition ${name}: ${JSON.stringify(c)} is not an H3 cell`);
        continue;
      }
      const r = getResolution(c);
      if (resolution >= 0 && r !== resolution) {
        problems.push(`partition ${name}: cell ${c} is at resolution ${r}, the map's is ${resolution}`);
        continue;
      }
      const other = seen.get(c);
      if (other !== undefined) {
        problems.push(
          other === name ? `partition ${name} lists cell ${c} twice` : `cell ${c} is in both ${other} and ${name}`,
        );
        continue;
      }
      seen.set(c, name);
      mine.push(c as H3Cell);
    }
    cells.set(name as PartitionId, mine);
  }
  const d = input['default'];
  if (d !== undefined && (typeof d !== 'string' || !cells.has(d as PartitionId))) {
    problems.push(`default ${JSON.stringify(d)} names no partition of the map`);
  }
  const unknown = Object.keys(input).filter((k) => k !== 'resolution' && k !== 'partitions' && k !== 'default');
  if (unknown.length > 0) problems.push(`unknown field(s): ${unknown.join(', ')}`);
  if (problems.length > 0) throw new PartitionMapError(problems);
  return { resolution, cells, dflt: typeof d === 'string' ? (d as PartitionId) : null };
}

/** A rectangle in degrees. */
export interface BoundingBox {
  readonly south: number;
  readonly west: number;
  readonly north: number;
  readonly east: number;
}

/**
 * Splits `cells` (all at one resolution) into `count` partitions of nearly
 * equal size, named `${prefix}0`..: the cells are ordered west to east by
 * their centres (north to south on a tie) and cut into runs, so each
 * partition is a north-south strip of the city. For tests and the local
 * cluster; a real deployment draws its map by market.
 */
export function splitCells(cells: readonly string[], count: number, prefix = 'p'): PartitionMap {
  if (!Number.isInteger(count) || count < 1) throw new RangeError(`splitCells: count must be a positive integer`);
  if (cells.length < count) {
    throw new RangeError(`splitCells: ${cells.length} cell(s) cannot make ${count} non-empty partitions`);
  }
  const keyed = [...new Set(cells)].map((c) => ({ c, ll: cellToLatLng(c) }));
  keyed.sort((a, b) => a.ll[1] - b.ll[1] || b.ll[0] - a.ll[0] || (a.c < b.c ? -1 : 1));
  const partitions: Record<string, string[]> = {};
  for (let i = 0; i < count; i++) {
    const from = Math.floor((i * keyed.length) / count);
    const to = Math.floor(((i + 1) * keyed.length) / count);
    partitions[`${prefix}${i}`] = keyed.slice(from, to).map((k) => k.c);
  }
  const resolution = keyed[0] ? getResolution(keyed[0].c) : 0;
  return parsePartitionMap({ resolution, partitions });
}

/**
 * Every cell at `resolution` whose centre lies in `box`, plus the cells of
 * its corners and centre (so a box smaller than a cell still yields one),
 * split as {@link splitCells} does.
 */
export function splitBoundingBox(box: BoundingBox, resolution: number, count: number, prefix = 'p'): PartitionMap {
  const { south, west, north, east } = box;
  if (!(south < north && west < east))
    throw new RangeError('splitBoundingBox: the box needs south < north, west < east');
  const ring: [number, number][] = [
    [south, west],
    [south, east],
    [north, east],
    [north, west],
  ];
  const cells = new Set(polygonToCells(ring, resolution));
  for (const [lat, lng] of [...ring, [(south + north) / 2, (west + east) / 2] as const]) {
    cells.add(latLngToCell(lat, lng, resolution));
  }
  return splitCells([...cells], count, prefix);
}
