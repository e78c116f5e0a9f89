import { it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  DSPRITES_BASES,
  DSPRITES_COUNT,
  DSPRITES_FACTORS,
  DSPRITES_FACTOR_SIZES,
  dspritesDataset,
  dspritesGroundTruth,
  factorsOf,
  factorValuesOf,
  indexOf,
  render,
  renderBatch,
  renderFactors,
  sampleIndices,
} from '../src/data/dsprites.js';
import { Rng } from '../src/rng.js';
import { allRows, readRows, residentBytes } from '../src/data/split.js';

const S = 64;
const at = (img: Float32Array, r: number, c: number) => img[r * S + c];
const area = (img: Float32Array) => img.reduce((a, v) => a + v, 0);
/** The image of factor classes [shape, scale, orientation, posX, posY]. */
const img = (f: number[]) => render(indexOf(f));

it('dsprites factors: names, sizes, values and bases as the original', () => {
  assert.deepEqual(
    DSPRITES_FACTORS.map((f) => f.name),
    ['shape', 'scale', 'orientation', 'posX', 'posY'],
  );
  assert.deepEqual(DSPRITES_FACTOR_SIZES, [3, 6, 40, 32, 32]);
  assert.deepEqual(DSPRITES_BASES, [245760, 40960, 1024, 32, 1]);
  assert.equal(DSPRITES_COUNT, 737280);
  const [shape, scale, orient, px, py] = DSPRITES_FACTORS.map((f) => f.values);
  assert.deepEqual(shape, [1, 2, 3]);
  assert.equal(scale[0], 0.5);
  assert.equal(scale[5], 1);
  assert.ok(Math.abs(scale[1] - 0.6) < 1e-15);
  assert.equal(orient[0], 0);
  assert.equal(orient[39], 2 * Math.PI);
  assert.ok(Math.abs(orient[1] - (2 * Math.PI) / 39) < 1e-15);
  assert.equal(px[0], 0);
  assert.equal(px[31], 1);
  assert.deepEqual(py, px);
});

it('dsprites indexOf / factorsOf: exhaustive round trip, posY fastest', () => {
  const f = new Int32Array(5);
  for (let i = 0; i < DSPRITES_COUNT; i++) {
    factorsOf(i, f);
    if (indexOf(f) !== i) assert.fail(`round trip failed at ${i}: ${Array.from(f)}`);
  }
  assert.deepEqual(Array.from(factorsOf(0)), [0, 0, 0, 0, 0]);
  assert.deepEqual(Array.from(factorsOf(DSPRITES_COUNT - 1)), [2, 5, 39, 31, 31]);
  assert.equal(indexOf([0, 0, 0, 0, 1]), 1);
  assert.equal(indexOf([0, 0, 0, 1, 0]), 32);
  assert.equal(indexOf([0, 0, 1, 0, 0]), 1024);
  assert.equal(indexOf([0, 1, 0, 0, 0]), 40960);
  assert.equal(indexOf([1, 0, 0, 0, 0]), 245760);
  assert.equal(indexOf([2, 3, 17, 5, 30]), 2 * 245760 + 3 * 40960 + 17 * 1024 + 5 * 32 + 30);
  assert.deepEqual(factorValuesOf(indexOf([2, 5, 0, 31, 0])), [3, 1, 0, 1, 0]);
  assert.throws(() => indexOf([3, 0, 0, 0, 0]), /shape must be an integer in 0..2/);
  assert.throws(() => indexOf([0, 0, 0, 0]), /need 5 factors/);
  assert.throws(() => factorsOf(DSPRITES_COUNT), RangeError);
  assert.throws(() => render(-1), RangeError);
});

it('dsprites render: an unrotated square at scale 1 centred at pixel (31, 31) is exactly rows/cols 21..41', () => {
  const im = img([0, 5, 0, 15, 15]);
  for (let r = 0; r < S; r++) {
    for (let c = 0; c < S; c++) {
      const want = r >= 21 && r <= 41 && c >= 21 && c <= 41 ? 1 : 0;
      if (at(im, r, c) !== want) assert.fail(`pixel (${r}, ${c}) is ${at(im, r, c)}, expected ${want}`);
    }
  }
  assert.equal(area(im), 441);
  // Binary values only.
  assert.ok(im.every((v) => v === 0 || v === 1));
  // Side 2·floor(10.5·scale) + 1 at every scale.
  const areas = [0, 1, 2, 3, 4, 5].map((sc) => area(img([0, sc, 0, 0, 0])));
  assert.deepEqual(areas, [121, 169, 225, 289, 361, 441]);
});

it('dsprites render: ellipse and heart at orientation 0', () => {
  // Ellipse semi-axes 14.5 (horizontal) and 7.5: 29 pixels across the centre row, 15 down the centre column.
  const e = img([1, 5, 0, 15, 15]);
  let row = 0;
  let col = 0;
  for (let k = 0; k < S; k++) {
    row += at(e, 31, k);
    col += at(e, k, 31);
  }
  assert.equal(row, 29);
  assert.equal(col, 15);
  assert.equal(at(e, 31, 31 - 14), 1);
  assert.equal(at(e, 31, 31 - 15), 0);
  // Heart: mirror-symmetric about its centre column, point down at row 31 + 12 (a single pixel), lobes up to row 31 − 12.
  for (const sc of [0, 2, 5]) {
    const h = img([2, sc, 0, 15, 15]);
    for (let r = 0; r < S; r++)
      for (let k = 1; k <= 31; k++)
        if (at(h, r, 31 - k) !== at(h, r, 31 + k))
          assert.fail(`heart (scale ${sc}) not symmetric at row ${r}, offset ${k}`);
  }
  const h = img([2, 5, 0, 15, 15]);
  const rows = Array.from({ length: S }, (_, r) =>
    Array.from({ length: S }, (_, c) => at(h, r, c)).reduce((a, b) => a + b, 0),
  );
  assert.equal(
    rows.findIndex((n) => n > 0),
    19,
  );
  assert.equal(rows.length - 1 - [...rows].reverse().findIndex((n) => n > 0), 43);
  assert.equal(rows[43], 1);
  assert.equal(at(h, 43, 31), 1);
  // Lobes: two separate runs in the top row, a notch on the centre column below it.
  assert.equal(at(h, 19, 31), 0);
  assert.equal(area(h), 444);
  // The heart is not symmetric under a half turn (orientation 20 of 39 steps ≈ π), unlike the ellipse.
  assert.notDeepEqual(img([2, 5, 0, 15, 15]), img([2, 5, 20, 15, 15]));
});

it('dsprites render: orientation 0 and 2π are the same image; positions are exact one-pixel shifts', () => {
  for (let s = 0; s < 3; s++) assert.deepEqual(img([s, 3, 0, 4, 9]), img([s, 3, 39, 4, 9]));
  const a = img([2, 4, 13, 10, 20]);
  const right = img([2, 4, 13, 11, 20]);
  const down = img([2, 4, 13, 10, 21]);
  for (let r = 0; r < S; r++) {
    for (let c = 1; c < S; c++) assert.equal(right[r * S + c], a[r * S + c - 1]);
    if (r > 0) for (let c = 0; c < S; c++) assert.equal(down[r * S + c], a[(r - 1) * S + c]);
  }
  // posX moves columns, posY rows.
  const centroid = (im: Float32Array) => {
    let sr = 0;
    let sc = 0;
    let n = 0;
    for (let i = 0; i < im.length; i++)
      if (im[i]) {
        sr += Math.floor(i / S);
        sc += i % S;
        n++;
      }
    return [sr / n, sc / n];
  };
  assert.deepEqual(centroid(img([0, 5, 0, 0, 31])), [47, 16]);
  assert.deepEqual(centroid(img([0, 5, 0, 31, 0])), [16, 47]);
});

it('dsprites render: no shape ever touches the border, at any scale, rotation or extreme position', () => {
  for (let s = 0; s < 3; s++) {
    for (let sc = 0; sc < 6; sc++) {
      for (let o = 0; o < 40; o++) {
        for (const [px, py] of [
          [0, 0],
          [31, 31],
          [0, 31],
          [31, 0],
        ]) {
          const im = img([s, sc, o, px, py]);
          assert.ok(area(im) > 50, 'sprite is visible');
          for (let k = 0; k < S; k++) {
            for (const b of [0, 1, 62, 63]) {
              if (at(im, b, k) || at(im, k, b))
                assert.fail(`sprite (${s}, ${sc}, ${o}) at (${px}, ${py}) reaches the border band at ${b}/${k}`);
            }
          }
        }
      }
    }
  }
});

it('dsprites render is deterministic and pinned (all 720 sprites at the centre)', () => {
  const h = createHash('sha256');
  let total = 0;
  for (let s = 0; s < 3; s++) {
    for (let sc = 0; sc < 6; sc++) {
      for (let o = 0; o < 40; o++) {
        const im = img([s, sc, o, 15, 15]);
        total += area(im);
        h.update(Buffer.from(im.buffer, im.byteOffset, im.byteLength));
      }
    }
  }
  assert.equal(total, 174082);
  assert.equal(h.digest('hex'), '65a408f208d68ff91ce5c343a674fd6839d7064e9c2da637e5446b36a41de84f');
  // render into a dirty buffer clears it; renderBatch / renderFactors agree with render.
  const buf = new Float32Array(S * S).fill(7);
  assert.deepEqual(render(12345, buf), render(12345));
  const idx = [0, 12345, 500000, DSPRITES_COUNT - 1];
  const batch = renderBatch(idx);
  idx.forEach((j, k) => assert.deepEqual(batch.subarray(k * S * S, (k + 1) * S * S), render(j)));
  const f = new Int32Array(idx.length * 5);
  idx.forEach((j, k) => f.set(factorsOf(j), k * 5));
  assert.deepEqual(renderFactors(f), batch);
});

it('dsprites sampleIndices: distinct, in range, seeded', () => {
  const a = sampleIndices(new Rng(3), 5000);
  assert.equal(new Set(a).size, 5000);
  assert.ok(a.every((i) => i < DSPRITES_COUNT));
  assert.deepEqual(sampleIndices(new Rng(3), 5000), a);
  assert.notDeepEqual(sampleIndices(new Rng(4), 5000), a);
  assert.throws(() => sampleIndices(new Rng(0), DSPRITES_COUNT + 1), RangeError);
});

it('dspritesDataset: binary images with their factors, disjoint train/test, deterministic', () => {
  const ds = dspritesDataset({ n: 60, nTest: 20, seed: 5 });
  assert.equal(ds.name, 'dsprites');
  assert.equal(ds.protocol, 'binary');
  assert.deepEqual(ds.shape, [64, 64, 1]);
  assert.equal(ds.train.n, 60);
  assert.equal(ds.test.n, 20);
  assert.equal(allRows(ds.train).length, 60 * 4096);
  assert.equal(ds.trainFactors.length, 60 * 5);
  assert.equal(ds.numClasses, 3);
  assert.deepEqual(ds.classNames, ['square', 'ellipse', 'heart']);
  const tr = new Set(ds.trainIndices);
  assert.ok(Array.from(ds.testIndices).every((i) => !tr.has(i)));
  for (let i = 0; i < 60; i++) {
    assert.deepEqual(Array.from(ds.trainFactors.subarray(i * 5, i * 5 + 5)), Array.from(factorsOf(ds.trainIndices[i])));
    assert.equal(ds.train.y![i], ds.trainFactors[i * 5]);
    assert.deepEqual(Array.from(ds.trainFactorValues.subarray(i * 5, i * 5 + 5)), factorValuesOf(ds.trainIndices[i]));
    assert.deepEqual(allRows(ds.train).subarray(i * 4096, (i + 1) * 4096), render(ds.trainIndices[i]));
  }
  const again = dspritesDataset({ n: 60, nTest: 20, seed: 5 });
  assert.deepEqual(allRows(again.train), allRows(ds.train));
  assert.deepEqual(again.testFactors, ds.testFactors);
  assert.notDeepEqual(dspritesDataset({ n: 60, nTest: 20, seed: 6 }).trainIndices, ds.trainIndices);
  assert.equal(dspritesDataset({ n: 12 }).test.n, 2);
  assert.throws(() => dspritesDataset({ n: 0 }), /positive integer/);
});

it('dspritesGroundTruth: uniform factor rows rendered as images', () => {
  const gt = dspritesGroundTruth();
  assert.equal(gt.numFactors, 5);
  assert.deepEqual(gt.factorSizes, [3, 6, 40, 32, 32]);
  const f = gt.sampleFactors(2000, new Rng(1));
  assert.equal(f.length, 10000);
  for (let j = 0; j < 5; j++) {
    const seen = new Set<number>();
    for (let i = 0; i < 2000; i++) {
      const v = f[i * 5 + j];
      assert.ok(v >= 0 && v < gt.factorSizes[j]);
      seen.add(v);
    }
    assert.equal(seen.size, gt.factorSizes[j], `factor ${j} covers all its values`);
  }
  const x = gt.render(f.subarray(0, 15));
  assert.equal(x.length, 3 * 4096);
  assert.deepEqual(x.subarray(4096, 8192), render(indexOf(f.subarray(5, 10))));
});

it('dspritesDataset without n: all 737,280 images, rendered on demand, a seeded test draw', () => {
  const ds = dspritesDataset({ seed: 2 });
  assert.equal(ds.train.n, DSPRITES_COUNT);
  assert.equal(ds.test.n, 10000);
  assert.ok(ds.train.source, 'lazy');
  assert.ok(residentBytes(ds.train) <= 8 * DSPRITES_COUNT, `resident ${residentBytes(ds.train)} bytes`);
  for (const i of [0, 1, 245760, DSPRITES_COUNT - 1]) {
    assert.deepEqual(readRows(ds.train, [i]), render(i));
    assert.equal(ds.train.y![i], factorsOf(i)[0]);
  }
  const j = ds.testIndices[17];
  assert.deepEqual(readRows(ds.test, [17]), render(j));
  assert.deepEqual(dspritesDataset({ seed: 2 }).testIndices, ds.testIndices);
  assert.deepEqual(Array.from(ds.trainFactors.subarray(5 * 1000, 5 * 1001)), Array.from(factorsOf(1000)));
});
