import fc from 'fast-check';
import { cellToBoundary, getPentagons, latLngToCell } from 'h3-js';
import t from 'tap';
import { CellShape } from '../../engine/cell-shape.js';
import { fastDistanceM, offsetM } from '../../engine/index.js';
import type { H3Cell } from '../../protocol/index.js';

/**
 * A cell's shape lets the position hot path skip `latLngToCell`: whatever it says is inside must be in
 * the cell by H3, at every resolution an index may use and anywhere on the globe; and it must say so
 * for nearly all of the cell, or the hot path gains nothing.
 */

/** How far the cell's corners are from its centre, metres. */
const circumradius = (s: CellShape) =>
  Math.max(...cellToBoundary(s.cell).map(([lat, lng]) => fastDistanceM(s.lat, s.lng, lat, lng)));

t.test('what the shape holds is in the cell, by H3', async (t) => {
  fc.assert(
    fc.property(
      // Integers scaled down: fast-check's doubles crowd at the ends of their range.
      fc.integer({ min: -85_000_000, max: 85_000_000 }),
      fc.integer({ min: -180_000_000, max: 180_000_000 }),
      fc.integer({ min: 5, max: 12 }),
      fc.array(fc.tuple(fc.integer({ min: 0, max: 359_999 }), fc.integer({ min: 0, max: 1_300 })), {
        minLength: 50,
        maxLength: 50,
      }),
      (lat, lng, res, points) => {
        const cell = latLngToCell(lat / 1e6, lng / 1e6, res) as H3Cell;
        const shape = new CellShape(cell);
        const r = circumradius(shape);
        for (const [bearing, f] of points) {
          const p = offsetM(shape.lat, shape.lng, bearing / 1_000, (f / 1_000) * r);
          if (shape.contains(p.lat, p.lng) && latLngToCell(p.lat, p.lng, res) !== cell)
            throw new Error(`${p.lat},${p.lng} is not in ${cell} (res ${res}) but the shape holds it`);
        }
      },
    ),
    { numRuns: 400 },
  );
  t.pass('no point outside a cell was held by its shape');
});

t.test(
  'near the edge, next to a corner, and across the antimeridian the shape never holds a point H3 puts elsewhere',
  async (t) => {
    let asked = 0;
    let held = 0;
    const wrong: string[] = [];
    for (const [lat, lng] of [
      [12.9716, 77.5946],
      [59.9, 10.75],
      [-33.9, 18.4],
      [64.1, -21.9],
      [0.1, 179.999],
      [-16.5, -179.999],
    ] as const) {
      for (const res of [7, 9, 11]) {
        const shape = new CellShape(latLngToCell(lat, lng, res) as H3Cell);
        // Points on the corners and edge midpoints, from just outside to just inside.
        const corners = cellToBoundary(shape.cell);
        for (let i = 0; i < corners.length; i++) {
          const [aLat, aLng] = corners[i]!;
          const [bLat, bLng] = corners[(i + 1) % corners.length]!;
          const targets: [number, number][] = [
            [aLat, aLng],
            [(aLat + bLat) / 2, (aLng + bLng) / 2],
          ];
          for (const [pLat, pLng] of targets) {
            for (const k of [1.001, 1, 0.999, 0.995, 0.99, 0.985, 0.98, 0.9]) {
              const qLat = shape.lat + (pLat - shape.lat) * k;
              const qLng = shape.lng + (pLng - shape.lng) * k;
              asked++;
              if (!shape.contains(qLat, qLng)) continue;
              held++;
              if (latLngToCell(qLat, qLng, res) !== shape.cell) wrong.push(`${qLat},${qLng} at res ${res}`);
            }
          }
        }
      }
    }
    t.same(wrong, [], 'no point held outside its cell');
    t.ok(held > asked / 4, `${held} of ${asked} points held`);
  },
);

t.test('a stretched cell: its disc reaches only as far as the nearest edge', async (t) => {
  // Corners 426 to 490 m from the centre; a disc from the nearest corner's apothem held this point,
  // which H3 puts in the next cell.
  const shape = new CellShape('88eb027663fffff' as H3Cell);
  const p = { lat: -61.552911874474475, lng: -160.07116069163152 };
  t.not(latLngToCell(p.lat, p.lng, 8), shape.cell);
  t.equal(shape.contains(p.lat, p.lng), false);
  t.ok(shape.discR < 356, `disc ${shape.discR.toFixed(1)} m`);
});

t.test('the twelve pentagons: their shapes hold only their own points', async (t) => {
  let held = 0;
  const wrong: string[] = [];
  for (const res of [7, 9]) {
    for (const p of getPentagons(res)) {
      const shape = new CellShape(p as H3Cell);
      const r = circumradius(shape);
      for (let b = 0; b < 360; b += 7)
        for (const f of [0.3, 0.6, 0.8, 0.9, 0.95, 1]) {
          const q = offsetM(shape.lat, shape.lng, b, f * r);
          if (!shape.contains(q.lat, q.lng)) continue;
          held++;
          if (latLngToCell(q.lat, q.lng, res) !== p) wrong.push(`${q.lat},${q.lng} in pentagon ${p}`);
        }
    }
  }
  t.same(wrong, []);
  t.ok(held > 1_000, `${held} points held`);
});

t.test('the shape answers nearly every point of an index cell, beyond the disc inside it', async (t) => {
  for (const [lat, lng] of [
    [12.9716, 77.5946],
    [51.5, -0.12],
    [-23.55, -46.63],
  ] as const) {
    const res = 9;
    const shape = new CellShape(latLngToCell(lat, lng, res) as H3Cell);
    const r = circumradius(shape);
    let inCell = 0;
    let held = 0;
    let inDisc = 0;
    for (let b = 0; b < 360; b += 1)
      for (let f = 0.005; f < 1.05; f += 0.01) {
        const q = offsetM(shape.lat, shape.lng, b, f * r);
        if (latLngToCell(q.lat, q.lng, res) !== shape.cell) continue;
        inCell++;
        if (shape.contains(q.lat, q.lng)) held++;
        if (fastDistanceM(q.lat, q.lng, shape.lat, shape.lng) < shape.discR) inDisc++;
      }
    // Sampled by rings, so the rim weighs more than by area: the disc alone misses its corners.
    t.ok(held / inCell > 0.97, `the shape holds ${((100 * held) / inCell).toFixed(1)}% of the cell's points`);
    t.ok(inDisc / inCell < 0.95, `the disc alone holds ${((100 * inDisc) / inCell).toFixed(1)}%`);
  }
});

t.test('a cell too wide for a flat outline keeps to a disc, and a far wider one asks H3 every time', async (t) => {
  const wide = new CellShape(latLngToCell(60, 10, 5) as H3Cell);
  const r = circumradius(wide);
  t.ok(r > 5_000 && r < 30_000, `${r.toFixed(0)} m to its corners`);
  const beyond = offsetM(wide.lat, wide.lng, 0, wide.discR * 1.05);
  t.equal(wide.contains(wide.lat, wide.lng), true, 'the centre is inside');
  t.equal(wide.contains(beyond.lat, beyond.lng), false, 'outside the disc it asks H3');
  const wider = new CellShape(latLngToCell(60, 10, 3) as H3Cell);
  t.ok(circumradius(wider) > 30_000);
  t.equal(wider.contains(wider.lat, wider.lng), false, 'even its centre is left to H3');
});
