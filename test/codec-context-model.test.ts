// The adaptive context-model coder (src/codec/context-model.ts): code lengths against hand-computed cases,
// Kraft's equality over every small binary image, determinism, channels, and its bad input.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import {
  binaryImageBits,
  binaryImageBitsCtw,
  CODER_CANDIDATES,
  contextModelBits,
  grayImageBits,
  medPredict,
  selectContextModel,
} from '../src/codec/context-model.js';
import { Rng } from '../src/rng.js';

const close = (a: number, b: number, eps = 1e-12) => assert.ok(Math.abs(a - b) < eps, `${a} vs ${b}`);

it('binary: a 2×2 image with the W neighbour as context, by hand', () => {
  // [[1, 0], [1, 1]]; contexts W = 0 (outside at x = 0) or 1; KT: p(b) = (n_b + ½) / (n + 1)
  // (0,0) ctx 0, b 1: ½ → 1 bit; (0,1) ctx 1, b 0: ½ → 1; (1,0) ctx 0, b 1: 1.5/2 → log₂(4/3); (1,1) ctx 1, b 1: ½/2 → 2
  close(binaryImageBits([1, 0, 1, 1], 2, 2, 1, { neighbours: 1 }), 4 + Math.log2(4 / 3));
  // no context: order-0 KT over 1, 0, 1, 1: ½ · ½/2 · 1.5/3 · 2.5/4 = 5/128
  close(binaryImageBits([1, 0, 1, 1], 2, 2, 1, { neighbours: 0 }), Math.log2(128 / 5));
  // α = 1 (Laplace), no context: ½ · 1/3 · 2/4 · 3/5 = 1/20
  close(binaryImageBits([1, 0, 1, 1], 2, 2, 1, { neighbours: 0, alpha: 1 }), Math.log2(20));
});

it('binary: the code lengths of all 2×3 images satisfy Kraft with equality (a complete code)', () => {
  for (const neighbours of [0, 3, 6]) {
    let sum = 0;
    for (let v = 0; v < 64; v++) {
      const img = Array.from({ length: 6 }, (_, j) => (v >> j) & 1);
      sum += 2 ** -binaryImageBits(img, 2, 3, 1, { neighbours });
    }
    close(sum, 1, 1e-9);
  }
});

it('CTW: a 2×2 image by hand, depth 0 is order-0 KT, and Kraft with equality over all 2×3 images', () => {
  // [[1, 0], [1, 1]], depth 1 (the W neighbour): root P_e = KT(1, 0, 1, 1) = 5/128; leaves ctx 0 (1, 1): 3/8 and
  // ctx 1 (0, 1): 1/8; P_w = ½ · 5/128 + ½ · 3/8 · 1/8 = 11/256
  close(binaryImageBitsCtw([1, 0, 1, 1], 2, 2, 1, { depth: 1 }), Math.log2(256 / 11));
  close(binaryImageBitsCtw([1, 0, 1, 1], 2, 2, 1, { depth: 0 }), Math.log2(128 / 5));
  for (const depth of [2, 5]) {
    let sum = 0;
    for (let v = 0; v < 64; v++)
      sum +=
        2 **
        -binaryImageBitsCtw(
          Array.from({ length: 6 }, (_, j) => (v >> j) & 1),
          2,
          3,
          1,
          { depth },
        );
    close(sum, 1, 1e-9);
  }
});

it('8-bit: a 1×2 image by hand, the median predictor, and Kraft over all 1×2 images', () => {
  // pixel 0: prediction 0, e = 0 → zero? yes at ½: 1 bit. pixel 1 (W = 0): e = 3 → zero? no at ½/2: 2 bits;
  // sign +: 1; exponent k = 1 in unary (above 0: yes, above 1: no): 1 + 1; mantissa 1 bit: 1. Total 7.
  close(grayImageBits([0, 3], 1, 2), 7);
  assert.equal(medPredict(10, 20, 30), 10);
  assert.equal(medPredict(10, 20, 5), 20);
  assert.equal(medPredict(10, 20, 15), 15);
  let sum = 0;
  for (let a = 0; a < 256; a++) for (let b = 0; b < 256; b++) sum += 2 ** -grayImageBits([a, b], 1, 2);
  assert.ok(sum <= 1 + 1e-9 && sum > 0.5, `Kraft sum ${sum}`);
});

it('a flat image costs less than noise; the same input gives the same bits; channels code apart', () => {
  const rng = new Rng(5);
  const noise = Array.from({ length: 64 }, () => Math.floor(rng.uniform() * 256));
  const flat = new Array(64).fill(0);
  assert.ok(grayImageBits(flat, 8, 8) < 20);
  assert.ok(grayImageBits(noise, 8, 8) > 5 * 64);
  assert.equal(grayImageBits(noise, 8, 8), grayImageBits(noise.slice(), 8, 8));
  // two interleaved channels = the sum of each plane alone
  const two = noise.flatMap((v, i) => [v, flat[i]]);
  close(grayImageBits(two, 8, 8, 2), grayImageBits(noise, 8, 8) + grayImageBits(flat, 8, 8), 1e-9);
  const bin = noise.map((v) => (v > 127 ? 1 : 0));
  const twoBin = bin.flatMap((v) => [v, 1 - v]);
  close(
    binaryImageBits(twoBin, 8, 8, 2),
    binaryImageBits(bin, 8, 8) +
      binaryImageBits(
        bin.map((v) => 1 - v),
        8,
        8,
      ),
  );
});

it('contextModelBits: rows in [0, 1] at 1 or 8 bits per pixel, as the single-image coders', () => {
  const rng = new Rng(9);
  const x = Float32Array.from({ length: 3 * 16 }, () => rng.uniform());
  const b1 = contextModelBits(x, 3, [4, 4, 1], { bits: 1 });
  const b8 = contextModelBits(x, 3, [4, 4], { bits: 8 });
  for (let i = 0; i < 3; i++) {
    const row = Array.from(x.subarray(i * 16, (i + 1) * 16));
    assert.equal(b1[i], binaryImageBits(row, 4, 4));
    assert.equal(contextModelBits(x, 3, [4, 4], { bits: 1, method: 'ctw' })[i], binaryImageBitsCtw(row, 4, 4));
    assert.equal(
      b8[i],
      grayImageBits(
        row.map((v) => Math.round(v * 255)),
        4,
        4,
      ),
    );
  }
  assert.throws(() => contextModelBits(x, 3, [48], { bits: 1 }), /images of shape \[H, W\]/);
  assert.throws(() => contextModelBits(x, 2, [4, 4], { bits: 1 }), /need 32 values, got 48/);
  assert.throws(() => contextModelBits(Float32Array.of(0, 2, 0, 0), 1, [2, 2], { bits: 8 }), /value 1 is 2, outside/);
  assert.throws(() => contextModelBits(Float32Array.of(0, NaN, 0, 0), 1, [2, 2], { bits: 1 }), /NaN, outside/);
  assert.throws(() => binaryImageBits([0, 1], 1, 2, 1, { neighbours: 13 }), /neighbours must be/);
  assert.throws(() => grayImageBits([0, 300], 1, 2), /not an integer in 0 … 255/);
});

it('selectContextModel: the candidate of the shortest mean code length on the rows, the table in order', () => {
  // vertical stripes: each pixel equals its N neighbour, so one neighbour of context (W) does not help but two (N)
  // predict every pixel below the first row; i.i.d. noise: no context is best (fewer counts to learn)
  const stripes = Float32Array.from({ length: 2 * 64 }, (_, i) => (((i % 8) * 5) % 3 === 0 ? 1 : 0));
  const cands = [{ neighbours: 0 }, { neighbours: 1 }, { neighbours: 2 }];
  const s = selectContextModel(stripes, 2, [8, 8], { bits: 1, candidates: cands });
  assert.deepEqual(s.options, { neighbours: 2 });
  assert.equal(s.rows, 2);
  assert.deepEqual(
    s.table.map((t) => t.options),
    cands,
  );
  const l = contextModelBits(stripes, 2, [8, 8], { bits: 1, neighbours: 2 });
  close(s.meanBits, (l[0] + l[1]) / 2, 1e-9);
  assert.ok(s.table.every((t) => t.meanBits >= s.meanBits));
  const rng = new Rng(3);
  const noise = Float32Array.from({ length: 4 * 64 }, () => (rng.uniform() < 0.5 ? 1 : 0));
  assert.deepEqual(selectContextModel(noise, 4, [8, 8], { bits: 1, candidates: cands }).options, { neighbours: 0 });
  // the default candidates: every binary one is tried
  const d = selectContextModel(stripes, 2, [8, 8], { bits: 1 });
  assert.equal(d.table.length, CODER_CANDIDATES[1].length);
  assert.throws(() => selectContextModel(stripes, 2, [8, 8], { bits: 1, candidates: [] }), /at least one candidate/);
  assert.throws(() => selectContextModel(stripes, 0, [8, 8], { bits: 1 }), /at least one row/);
});
