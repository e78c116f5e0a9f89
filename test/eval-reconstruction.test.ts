// PSNR and SSIM against hand-computed values and skimage's structural_similarity, and the
// reconstruction figures of models whose reconstructions are known exactly.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import type { Split } from '../src/data/dataset.js';
import {
  evaluateReconstruction,
  gaussianKernel1d,
  isBinaryData,
  psnr,
  PSNR_CAP_DB,
  ssim,
} from '../src/eval/reconstruction.js';
import { createModel, type VAE } from '../src/models/index.js';
import { Rng } from '../src/rng.js';
import { setupBackend } from './helpers.js';

before(async () => {
  await setupBackend();
});

/** ((7i + 13j + 5k + s) mod 17) / 16: a deterministic high-frequency pattern (as in the Python reference). */
function pattern(h: number, w: number, c = 1, s = 0): Float64Array {
  const o = new Float64Array(h * w * c);
  for (let i = 0; i < h; i++)
    for (let j = 0; j < w; j++)
      for (let k = 0; k < c; k++) o[(i * w + j) * c + k] = ((i * 7 + j * 13 + k * 5 + s) % 17) / 16;
  return o;
}

/** 0.5 + 0.4 sin(i/3) cos(j/4): a smooth image with values in [0.1, 0.9]. */
function smooth(h: number, w: number): Float64Array {
  const o = new Float64Array(h * w);
  for (let i = 0; i < h; i++) for (let j = 0; j < w; j++) o[i * w + j] = 0.5 + 0.4 * Math.sin(i / 3) * Math.cos(j / 4);
  return o;
}

const close = (a: number, b: number, tol: number, what: string) =>
  assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b}`);

describe('PSNR', () => {
  it('identical images: +Infinity; known errors: exact dB', () => {
    const a = smooth(28, 28);
    assert.equal(psnr(a, a), Infinity);
    close(
      psnr(
        a,
        a.map((v) => v + 0.1),
      ),
      20,
      1e-9,
      'shift by 0.1 → MSE 0.01 → 20 dB',
    );
    close(
      psnr(new Float64Array(16).fill(0.5), new Float64Array(16).fill(0.25)),
      10 * Math.log10(1 / 0.0625),
      1e-12,
      'constant images',
    );
    close(psnr(new Float64Array(4).fill(0), new Float64Array(4).fill(255), 255), 0, 1e-12, 'data range 255');
  });
});

describe('SSIM (Gaussian window σ = 1.5, K1 0.01, K2 0.03, data range 1)', () => {
  it('the window is scipy’s 11-tap normalised Gaussian', () => {
    const k = gaussianKernel1d(1.5);
    assert.equal(k.length, 11);
    close(
      k.reduce((a, b) => a + b, 0),
      1,
      1e-15,
      'sum',
    );
    close(k[5] / k[6], Math.exp(0.5 / 2.25), 1e-12, 'shape');
  });

  it('identical images → 1, constant images → the closed form', () => {
    const a = pattern(28, 28);
    close(ssim(a, a, [28, 28, 1]), 1, 1e-12, 'identical');
    // Constant p and q: variances vanish, SSIM = (2pq + C1) / (p² + q² + C1).
    const C1 = 0.01 ** 2;
    const p = 0.5;
    const q = 0.25;
    close(
      ssim(new Float64Array(784).fill(p), new Float64Array(784).fill(q), [28, 28]),
      (2 * p * q + C1) / (p * p + q * q + C1),
      1e-12,
      'constants',
    );
    close(
      ssim(new Float64Array(784).fill(0.3), new Float64Array(784).fill(0.3), [28, 28]),
      1,
      1e-12,
      'equal constants',
    );
  });

  it('matches skimage.metrics.structural_similarity (0.19.3) on fixed images', () => {
    // Reference values from: structural_similarity(a, b, gaussian_weights=True, sigma=1.5,
    // use_sample_covariance=False, data_range=1[, channel_axis=-1]) on the same images in float64.
    const S = smooth(28, 28);
    const A = pattern(28, 28);
    const roll1 = new Float64Array(784); // a shift by one pixel along x (np.roll(A, 1, axis=1))
    for (let i = 0; i < 28; i++) for (let j = 0; j < 28; j++) roll1[i * 28 + j] = A[i * 28 + ((j + 27) % 28)];
    const roll2 = new Float64Array(784); // np.roll(S, 2, axis=0)
    for (let i = 0; i < 28; i++) for (let j = 0; j < 28; j++) roll2[i * 28 + j] = S[((i + 26) % 28) * 28 + j];
    const cases: [string, number, number][] = [
      ['pattern vs its 1-pixel shift', ssim(A, roll1, [28, 28]), -0.07870252066705098],
      [
        'smooth vs smooth + 0.1',
        ssim(
          S,
          S.map((v) => v + 0.1),
          [28, 28],
        ),
        0.979418038407437,
      ],
      [
        'smooth vs 0.5 · smooth',
        ssim(
          S,
          S.map((v) => 0.5 * v),
          [28, 28],
        ),
        0.6502462161070096,
      ],
      ['smooth vs pattern', ssim(S, A, [28, 28]), 0.011580681669321639],
      ['smooth vs its 2-row shift', ssim(S, roll2, [28, 28]), 0.7382733626416408],
      ['RGB 16×20 patterns', ssim(pattern(16, 20, 3), pattern(16, 20, 3, 3), [16, 20, 3]), 0.12736543340709863],
    ];
    for (const [what, got, want] of cases) close(got, want, 1e-10, what);
  });

  it('rejects images smaller than the window', () => {
    assert.throws(() => ssim(new Float64Array(100), new Float64Array(100), [10, 10]), /smaller than the 11×11 window/);
  });
});

/** A VAE with no hidden layers and latentDim = D whose encoder mean is x and whose decoder is z·scale + shift. */
function identityVae(shape: number[], likelihood: 'gaussian' | 'bernoulli', scale: number, shift: number): VAE {
  const D = shape.reduce((a, b) => a * b, 1);
  const model = createModel(
    {
      kind: 'vae',
      inputShape: shape,
      latentDim: D,
      network: { type: 'mlp', hidden: [] },
      likelihood,
      sigma: 1,
    },
    new Rng(0),
  ) as VAE;
  const enc = new Float32Array(D * 2 * D);
  for (let i = 0; i < D; i++) enc[i * 2 * D + i] = 1; // μ = x, log σ² = 0
  const dec = new Float32Array(D * D);
  for (let i = 0; i < D; i++) dec[i * D + i] = scale;
  tf.tidy(() => {
    model.encoder.layers[0].setWeights([tf.tensor2d(enc, [D, 2 * D]), tf.zeros([2 * D])]);
    model.decoder.layers[0].setWeights([tf.tensor2d(dec, [D, D]), tf.fill([D], shift)]);
  });
  return model;
}

describe('evaluateReconstruction', () => {
  const S = Float32Array.from(smooth(28, 28));
  const split = (x: Float32Array, n: number, shape: number[]): Split => ({ x, n, shape });
  const three = new Float32Array(3 * 784);
  for (let i = 0; i < 3; i++) three.set(S, i * 784);

  it('exact reconstructions: MSE 0, PSNR +∞ counted at the cap, SSIM 1', () => {
    const m = identityVae([28, 28, 1], 'gaussian', 1, 0);
    const r = evaluateReconstruction(m, split(three, 3, [28, 28, 1]));
    m.dispose();
    assert.equal(r.n, 3);
    assert.ok(r.mse < 1e-12);
    assert.equal(r.psnrExact, 3);
    assert.equal(r.psnr, PSNR_CAP_DB);
    close(r.ssim!, 1, 1e-6, 'SSIM');
    assert.equal(r.bce, undefined, 'no BCE for continuous data');
  });

  it('a decoder that adds 0.1: MSE 0.01, PSNR 20 dB, SSIM as skimage', () => {
    const m = identityVae([28, 28, 1], 'gaussian', 1, 0.1);
    const r = evaluateReconstruction(m, split(three, 3, [28, 28, 1]), { batchSize: 2 });
    m.dispose();
    close(r.mse, 0.01, 1e-6, 'MSE');
    close(r.psnr!, 20, 1e-4, 'PSNR');
    assert.equal(r.psnrExact, 0);
    close(r.ssim!, 0.979418038407437, 1e-5, 'SSIM');
  });

  it('binary data with a Bernoulli decoder: BCE = D · softplus(−4) when the logits are ±4', () => {
    const D = 144;
    const rng = new Rng(1);
    const x = Float32Array.from({ length: 5 * D }, () => (rng.uniform() < 0.3 ? 1 : 0));
    assert.ok(isBinaryData(x));
    const m = identityVae([12, 12, 1], 'bernoulli', 8, -4); // logits = 8x − 4 = ±4
    const r = evaluateReconstruction(m, split(x, 5, [12, 12, 1]));
    m.dispose();
    close(r.bce!, D * Math.log1p(Math.exp(-4)), 1e-3, 'BCE');
    const e = 1 / (1 + Math.exp(4)); // |x − σ(±4)|
    close(r.mse, e * e, 1e-7, 'MSE');
    let want = 0;
    for (let i = 0; i < 5; i++) {
      const xi = x.subarray(i * D, (i + 1) * D);
      want +=
        ssim(
          xi,
          xi.map((v) => (v ? 1 - e : e)),
          [12, 12],
        ) / 5;
    }
    close(r.ssim!, want, 1e-5, 'SSIM: mean over images');
  });

  it('flat (tabular) data: MSE only', () => {
    const m = identityVae([5], 'gaussian', 2, 0);
    const x = Float32Array.from({ length: 20 }, (_, i) => i / 20);
    const r = evaluateReconstruction(m, split(x, 4, [5]), { limit: 4 });
    m.dispose();
    let want = 0;
    for (const v of x) want += v * v;
    close(r.mse, want / 20, 1e-7, 'MSE of x̂ = 2x');
    assert.equal(r.psnr, undefined);
    assert.equal(r.ssim, undefined);
  });
});
