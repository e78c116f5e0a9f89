// Degradations, baselines and metrics of src/tasks/restore on small hand-checked images.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  boxDownsample,
  checkPixelMask,
  degrade,
  nearestUpsample,
  pixelMasks,
  validateDegradation,
  type ImageShape,
} from '../src/tasks/restore/degrade.js';
import { bicubicUpsample, gaussianBlur, harmonicFill, medianFilter } from '../src/tasks/restore/baselines.js';
import { pearson, psnrRows, ssimRows } from '../src/tasks/restore/metrics.js';

const close = (a: number, b: number, tol: number, what: string) =>
  assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b}`);
const ramp = (n: number) => Float32Array.from({ length: n }, (_, i) => i / n);

describe('degradations', () => {
  const shape: ImageShape = [4, 4, 1];
  const x = ramp(32); // two 4×4 images

  it('gaussian noise: seeded (same seed, same y), unbiased, of the given σ, recorded', () => {
    const d = { task: 'denoise', noise: 'gaussian', sigma: 0.3, seed: 7 } as const;
    const a = degrade(x, 2, [4, 4, 1], d),
      b = degrade(x, 2, [4, 4, 1], d);
    assert.deepEqual(a.y, b.y);
    assert.notDeepEqual(a.y, degrade(x, 2, [4, 4, 1], { ...d, seed: 8 }).y);
    assert.deepEqual(a.record, { task: 'denoise', params: { noise: 'gaussian', sigma: 0.3, seed: 7 }, shape, n: 2 });
    const big = new Float32Array(20000).fill(0.5);
    const y = degrade(big, 1250, [4, 4, 1], d).y;
    let s = 0,
      s2 = 0;
    for (const v of y) {
      s += v - 0.5;
      s2 += (v - 0.5) ** 2;
    }
    close(s / y.length, 0, 0.01, 'mean of the noise');
    close(Math.sqrt(s2 / y.length), 0.3, 0.01, 'σ of the noise');
    assert.ok(a.display.every((v) => v >= 0 && v <= 1));
  });

  it('bit flips flip about a fraction p; salt-and-pepper sets about p to 0 or 1', () => {
    const zeros = new Float32Array(16000);
    const flips = degrade(zeros, 1000, [4, 4, 1], { task: 'denoise', noise: 'bit-flip', p: 0.2, seed: 1 }).y;
    close(flips.reduce((s, v) => s + v, 0) / flips.length, 0.2, 0.01, 'flipped fraction');
    const sp = degrade(zeros, 1000, [4, 4, 1], { task: 'denoise', noise: 'salt-pepper', p: 0.2, seed: 1 }).y;
    close(sp.reduce((s, v) => s + v, 0) / sp.length, 0.1, 0.01, 'salt fraction (half of p)');
    assert.ok(sp.every((v) => v === 0 || v === 1));
  });

  it('centre block, bottom half and random masks, by hand', () => {
    assert.deepEqual(
      [...pixelMasks({ kind: 'center', size: 2 }, 1, 4, 4)],
      [1, 1, 1, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 1, 1, 1],
    );
    assert.deepEqual([...pixelMasks({ kind: 'bottom' }, 1, 4, 4)], [1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
    const r = pixelMasks({ kind: 'random', fraction: 0.25, seed: 3 }, 2, 4, 4);
    assert.equal(
      r.subarray(0, 16).reduce((s, v) => s + v, 0),
      12,
    ); // exactly 4 of 16 missing
    assert.equal(
      r.subarray(16).reduce((s, v) => s + v, 0),
      12,
    );
    assert.notDeepEqual(r.subarray(0, 16), r.subarray(16)); // a new pattern per image
    const d = degrade(x, 2, [4, 4, 1], { task: 'inpaint', mask: { kind: 'center', size: 2 } });
    assert.equal(d.y[5], 0);
    assert.equal(d.display[5], 0.5);
    assert.equal(d.y[0], x[0]);
    assert.equal(d.record.missingFraction, 0.25);
  });

  it('a mask is shared by the channels of a pixel', () => {
    const rgb = ramp(4 * 4 * 3);
    const d = degrade(rgb, 1, [4, 4, 3], { task: 'inpaint', mask: { kind: 'bottom' } });
    assert.deepEqual([...d.mask!.subarray(21, 27)], [1, 1, 1, 0, 0, 0]); // pixel 7 observed, pixel 8 missing
  });

  it('a user mask must be binary, of the image size, with both kinds of pixels', () => {
    assert.throws(() => checkPixelMask([1, 0, 1], 2, 2, 'm.png'), /m.png: 3 pixels, the images have 2×2 = 4/);
    assert.throws(() => checkPixelMask([1, 0, 0.5, 1], 2, 2, 'm.png'), /m.png is not binary: pixel 2 is 0.5/);
    assert.throws(() => checkPixelMask([1, 1, 1, 1], 2, 2, 'm.png'), /no pixel is missing/);
    const d = degrade(ramp(4), 1, [2, 2, 1], {
      task: 'inpaint',
      mask: { kind: 'user', name: 'm.png', values: [1, 0, 0, 1] },
    });
    assert.deepEqual([...d.mask!], [1, 0, 0, 1]);
    assert.deepEqual(d.record.params, { mask: 'user', name: 'm.png' });
  });

  it('box downsampling averages f×f blocks; nearest upsampling repeats them', () => {
    const img = Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]);
    const y = boxDownsample(img, 1, shape, 2);
    assert.deepEqual(
      [...y],
      [(1 + 2 + 5 + 6) / 4, (3 + 4 + 7 + 8) / 4, (9 + 10 + 13 + 14) / 4, (11 + 12 + 15 + 16) / 4],
    );
    assert.deepEqual([...boxDownsample(img, 1, shape, 4)], [8.5]);
    assert.deepEqual(
      [...nearestUpsample([1, 2, 3, 4], 1, [2, 2, 1], 2)],
      [1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4],
    );
    const d = degrade(x, 2, [4, 4, 1], { task: 'superres', factor: 2 });
    assert.deepEqual(d.yShape, [2, 2, 1]);
    assert.equal(d.y.length, 8);
  });

  it('bad parameters are errors naming the problem', () => {
    assert.throws(
      () => validateDegradation({ task: 'superres', factor: 3 }, shape),
      /factor 3 does not divide the image size 4×4/,
    );
    assert.throws(() => validateDegradation({ task: 'denoise', noise: 'gaussian', sigma: 0, seed: 0 }, shape), /sigma/);
    assert.throws(
      () => validateDegradation({ task: 'denoise', noise: 'bit-flip', p: 1.5, seed: 0 }, shape),
      /p \(bit-flip\)/,
    );
    assert.throws(
      () => validateDegradation({ task: 'inpaint', mask: { kind: 'center', size: 5 } }, shape),
      /centre block/,
    );
    assert.throws(() => degrade(x, 3, [4, 4, 1], { task: 'superres', factor: 2 }), /32 values are not 3 images/);
  });
});

describe('baselines', () => {
  it('median filter removes a lone spike and keeps a constant image', () => {
    const img = new Float32Array(9).fill(0.2);
    img[4] = 1;
    assert.ok(medianFilter(img, 1, [3, 3, 1]).every((v) => Math.abs(v - 0.2) < 1e-7));
  });

  it('gaussian blur keeps a constant image and spreads a spike symmetrically, summing to one inside', () => {
    assert.ok(gaussianBlur(new Float32Array(25).fill(0.7), 1, [5, 5, 1], 1).every((v) => Math.abs(v - 0.7) < 1e-6));
    const spike = new Float32Array(15 * 15);
    spike[7 * 15 + 7] = 1;
    const b = gaussianBlur(spike, 1, [15, 15, 1], 1);
    close(
      b.reduce((s, v) => s + v, 0),
      1,
      1e-6,
      'mass',
    );
    close(b[7 * 15 + 6], b[7 * 15 + 8], 1e-7, 'left = right');
    close(b[6 * 15 + 7], b[7 * 15 + 6], 1e-7, 'up = left');
    assert.ok(b[7 * 15 + 7] > b[7 * 15 + 8]);
  });

  it('bicubic upsampling keeps constants and reproduces a linear ramp away from the edges', () => {
    assert.ok(bicubicUpsample(new Float32Array(16).fill(0.4), 1, [4, 4, 1], 2).every((v) => Math.abs(v - 0.4) < 1e-6));
    // a ramp along x: low-res column j has value 0.1·j; output column c samples at (c + ½)/2 − ½
    const low = Float32Array.from({ length: 64 }, (_, i) => 0.1 * (i % 8));
    const up = bicubicUpsample(low, 1, [8, 8, 1], 2);
    for (let c = 4; c < 12; c++) close(up[5 * 16 + c], 0.1 * ((c + 0.5) / 2 - 0.5), 1e-6, `column ${c}`);
    // the kernel interpolates: at a factor of 1 it is the identity
    assert.deepEqual(bicubicUpsample(low, 1, [8, 8, 1], 1), low);
  });

  it('harmonic fill: the centre of a known ring is the mean of its 4 neighbours; a 1-D gap fills linearly', () => {
    const img = Float32Array.from([0, 1, 0, 2, 9, 3, 0, 4, 0]);
    const mask = Float32Array.from([1, 1, 1, 1, 0, 1, 1, 1, 1]);
    const f = harmonicFill(img, mask, 1, [3, 3, 1]);
    close(f[4], (1 + 2 + 3 + 4) / 4, 1e-5, 'centre');
    for (const i of [0, 1, 2, 3, 5, 6, 7, 8]) assert.equal(f[i], img[i]); // known pixels exactly
    const row = harmonicFill([0, 0, 0, 0, 1], [1, 0, 0, 0, 1], 1, [1, 5, 1]);
    [0, 0.25, 0.5, 0.75, 1].forEach((v, i) => close(row[i], v, 1e-5, `row ${i}`));
  });
});

describe('metrics', () => {
  it('PSNR by hand (MSE 0.01 → 20 dB) and capped for a copy', () => {
    const a = new Float32Array(4).fill(0.5);
    const b = new Float32Array(4).fill(0.6);
    close(psnrRows(a, b, 1)[0], 20, 1e-4, 'psnr');
    assert.equal(psnrRows(a, a, 1)[0], 100);
  });

  it('SSIM is 1 for a copy, below 1 otherwise, and symmetric', () => {
    const a = ramp(16 * 16);
    const b = a.map((v, i) => v + (i % 3 === 0 ? 0.1 : -0.05));
    assert.ok(Math.abs(ssimRows(a, a, 1, [16, 16, 1])[0] - 1) < 1e-9);
    const s = ssimRows(a, b, 1, [16, 16, 1])[0];
    assert.ok(s < 0.99 && s > 0, `ssim ${s}`);
    close(ssimRows(b, a, 1, [16, 16, 1])[0], s, 1e-9, 'symmetric');
    // a constant shift of a constant image: only the luminance term, (2μxμy + C1)/(μx² + μy² + C1)
    const c = ssimRows(new Float32Array(16).fill(0.5), new Float32Array(16).fill(0.3), 1, [4, 4, 1])[0];
    close(c, (2 * 0.5 * 0.3 + 1e-4) / (0.25 + 0.09 + 1e-4), 1e-6, 'luminance');
  });

  it('pearson: ±1 for linear relations, over the kept indices only', () => {
    close(pearson([1, 2, 3], [2, 4, 6]), 1, 1e-12, 'r');
    close(pearson([1, 2, 3], [3, 2, 1]), -1, 1e-12, 'r');
    close(
      pearson([1, 2, 3, 100], [1, 2, 3, -100], (i) => i < 3),
      1,
      1e-12,
      'kept',
    );
    assert.ok(Number.isNaN(pearson([1, 1], [1, 2])));
  });
});
