import { cellToChildren, cellToLatLng, gridDisk, latLngToCell } from 'h3-js';
import t from 'tap';
import {
  PartitionMapError,
  parsePartitionMap,
  splitBoundingBox,
  splitCells,
  type PartitionId,
} from '../../engine/index.js';
import { CENTRE, near } from './world.js';

/** The partition map: parsing with every fault named, lookups by cell and point, the split helpers. */

const RES = 5;
const centre = latLngToCell(CENTRE.lat, CENTRE.lng, RES);
const disk = gridDisk(centre, 1); // the centre and its six neighbours
const [c0, c1, c2, c3, c4, c5, c6] = disk as [string, string, string, string, string, string, string];

const problemsOf = (input: unknown): readonly string[] => {
  try {
    parsePartitionMap(input);
  } catch (err) {
    if (err instanceof PartitionMapError) return err.problems;
    throw err;
  }
  return [];
};

t.test('a valid map: lookups by cell, by finer cell and by point', async (t) => {
  const map = parsePartitionMap({ resolution: RES, partitions: { east: [c0, c1, c2], west: [c3, c4] } });
  t.same(map.ids, ['east', 'west']);
  t.equal(map.resolution, RES);
  t.equal(map.partitionOf(c1), 'east');
  t.equal(map.partitionOf(c4), 'west');
  t.equal(map.partitionOf(c6), null, 'a cell of no partition, with no default, has none');
  const fine = cellToChildren(c3, 9)[0]!;
  t.equal(map.partitionOf(fine), 'west', 'a finer cell counts by its parent');
  t.equal(map.partitionOfPoint(CENTRE.lat, CENTRE.lng), map.partitionOf(centre));
  t.equal(map.partitionOfPoint(-33.86, 151.2), null, 'Sydney is in no partition');
  t.same(map.cellsOf('west' as PartitionId), [c3, c4]);
  t.same(map.cellsOf('nowhere' as PartitionId), []);
  t.ok(map.has('east'));
  t.notOk(map.has('north'));
  t.throws(() => map.partitionOf('nonsense'), RangeError, 'not a cell');
  t.throws(() => map.partitionOf(latLngToCell(CENTRE.lat, CENTRE.lng, 3)), RangeError, 'coarser than the map');
  t.ok(Object.isFrozen(map), 'immutable');
});

t.test('a default partition takes what no partition lists', async (t) => {
  const map = parsePartitionMap({ resolution: RES, partitions: { a: [c0], b: [c1] }, default: 'b' });
  t.equal(map.partitionOf(c5), 'b');
  t.equal(map.partitionOfPoint(-33.86, 151.2), 'b');
  t.equal(map.defaultPartition, 'b');
});

t.test('toJSON round-trips through JSON text', async (t) => {
  const map = parsePartitionMap({ resolution: RES, partitions: { a: [c0, c1], b: [c2] }, default: 'a' });
  const again = parsePartitionMap(JSON.parse(JSON.stringify(map)));
  t.same(again.toJSON(), map.toJSON());
  t.same(parsePartitionMap(map.toJSON()).ids, ['a', 'b']);
});

t.test('invalid maps are refused, each fault named', async (t) => {
  t.match(problemsOf(null), [/must be an object/]);
  t.match(problemsOf({ resolution: RES, partitions: {} }), [/at least one partition/]);
  t.match(problemsOf({ resolution: 16, partitions: { a: [c0] } }), [/resolution must be an integer in 0..15/]);
  t.match(problemsOf({ resolution: RES, partitions: { a: [] } }), [/partition a is empty/]);
  t.match(problemsOf({ resolution: RES, partitions: { a: 'x' } }), [/cells must be an array/]);
  t.match(problemsOf({ resolution: RES, partitions: { a: [c0, 'zz'] } }), [/"zz" is not an H3 cell/]);
  t.match(problemsOf({ resolution: RES, partitions: { a: [c0, 42] } }), [/42 is not an H3 cell/]);
  const coarse = latLngToCell(CENTRE.lat, CENTRE.lng, 4);
  t.match(problemsOf({ resolution: RES, partitions: { a: [c0], b: [coarse] } }), [
    new RegExp(`cell ${coarse} is at resolution 4, the map's is 5`),
  ]);
  t.match(problemsOf({ resolution: RES, partitions: { a: [c0, c1], b: [c1] } }), [
    new RegExp(`cell ${c1} is in both a and b`),
  ]);
  t.match(problemsOf({ resolution: RES, partitions: { a: [c0, c0] } }), [/lists cell .* twice/]);
  t.match(problemsOf({ resolution: RES, partitions: { 'North.Zone': [c0] } }), [/partition name "North.Zone"/]);
  t.match(problemsOf({ resolution: RES, partitions: { a: [c0] }, default: 'z' }), [/default "z" names no partition/]);
  t.match(problemsOf({ resolution: RES, partitions: { a: [c0] }, shards: 3 }), [/unknown field\(s\): shards/]);
  const many = problemsOf({ resolution: RES, partitions: { a: [], b: [c0, 'x'], c: [c0] } });
  t.equal(many.length, 3, 'every fault at once, not only the first');
  t.throws(() => parsePartitionMap({ resolution: RES, partitions: { a: [] } }), {
    name: 'PartitionMapError',
    message: /invalid partition map: partition a is empty/,
  });
});

t.test('splitCells: N non-empty strips covering every cell once, deterministically', async (t) => {
  const cells = gridDisk(centre, 4); // 61 cells
  const map = splitCells(cells, 4);
  t.same(map.ids, ['p0', 'p1', 'p2', 'p3']);
  const sizes = map.ids.map((id) => map.cellsOf(id).length);
  t.equal(
    sizes.reduce((a, b) => a + b, 0),
    cells.length,
    'every cell in one partition',
  );
  t.ok(Math.max(...sizes) - Math.min(...sizes) <= 1, `near-equal sizes ${sizes.join(',')}`);
  for (const c of cells) t.not(map.partitionOf(c), null);
  t.same(splitCells([...cells].reverse(), 4).toJSON(), map.toJSON(), 'input order does not matter');
  // Strips from west to east: the partitions' mean longitudes rise, the extreme cells sit at the ends.
  const meanLng = map.ids.map((id) => {
    const lngs = map.cellsOf(id).map((c) => cellToLatLng(c)[1]);
    return lngs.reduce((a, b) => a + b, 0) / lngs.length;
  });
  t.same(
    [...meanLng].sort((a, b) => a - b),
    meanLng,
    'west to east',
  );
  const byLng = [...cells].sort((a, b) => cellToLatLng(a)[1] - cellToLatLng(b)[1]);
  t.equal(map.partitionOf(byLng[0]!), 'p0');
  t.equal(map.partitionOf(byLng.at(-1)!), 'p3');
  t.throws(() => splitCells([c0, c1], 3), /2 cell\(s\) cannot make 3/);
  t.throws(() => splitCells([c0], 0), /positive integer/);
});

t.test('splitBoundingBox: a city box into partitions; a box smaller than a cell still works', async (t) => {
  const sw = near(15_000, 225);
  const ne = near(15_000, 45);
  const box = { south: sw.lat, west: sw.lng, north: ne.lat, east: ne.lng };
  const map = splitBoundingBox(box, RES, 3, 'blr-');
  t.same(map.ids, ['blr-0', 'blr-1', 'blr-2']);
  t.equal(map.resolution, RES);
  t.not(map.partitionOfPoint(CENTRE.lat, CENTRE.lng), null, 'the centre is covered');
  t.not(map.partitionOfPoint(box.south, box.west), null, 'a corner is covered');
  const tiny = { south: CENTRE.lat, west: CENTRE.lng, north: CENTRE.lat + 0.001, east: CENTRE.lng + 0.001 };
  const one = splitBoundingBox(tiny, 4, 1);
  t.equal(one.partitionOfPoint(CENTRE.lat, CENTRE.lng), 'p0');
  t.throws(() => splitBoundingBox({ ...box, north: box.south }, RES, 2), /south < north/);
});
