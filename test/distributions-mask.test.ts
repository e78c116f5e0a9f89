// Masked likelihoods: log p(x_o) = Σ_d m_d log p(x_d), the observed dimensions only (inpainting, MIWAE).
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers'; // registers tfjs-core's gradients
import { BernoulliLogits } from '../src/distributions/bernoulli.js';
import { DiagGaussian } from '../src/distributions/gaussian.js';
import { isMaskedLikelihood } from '../src/distributions/types.js';
import { Categorical } from '../src/distributions/categorical.js';
import { setupBackend } from './helpers.js';

const close = (a: number, b: number, tol: number, what: string) =>
  assert.ok(Math.abs(a - b) <= tol * (1 + Math.abs(b)), `${what}: ${a} vs ${b}`);

const softplus = (l: number) => Math.log1p(Math.exp(l));

describe('masked logProb', () => {
  before(setupBackend);
  // two rows, three dims; by hand: row 0 keeps dims 0 and 2, row 1 keeps dim 1 only
  const logits = [0.5, -1, 2, -0.3, 0.8, 0];
  const x = [1, 0, 0, 1, 1, 0];
  const mask = [1, 0, 1, 0, 1, 0];

  it('Bernoulli: Σ over the observed dims of x·l − softplus(l), by hand', () => {
    const p = new BernoulliLogits(tf.tensor2d(logits, [2, 3]));
    const lp = p.logProb(tf.tensor2d(x, [2, 3]), tf.tensor2d(mask, [2, 3])).arraySync() as number[];
    close(lp[0], 0.5 - softplus(0.5) + (0 - softplus(2)), 1e-5, 'row 0');
    close(lp[1], 0.8 - softplus(0.8), 1e-5, 'row 1');
  });

  it('a mask of ones equals no mask; a [1, D] mask broadcasts over rows', () => {
    const p = new BernoulliLogits(tf.tensor2d(logits, [2, 3]));
    const xs = tf.tensor2d(x, [2, 3]);
    const full = p.logProb(xs).arraySync() as number[];
    const ones = p.logProb(xs, tf.ones([2, 3])).arraySync() as number[];
    full.forEach((v, i) => close(ones[i], v, 1e-6, `ones ${i}`));
    const row = p.logProb(xs, tf.tensor2d([1, 0, 1], [1, 3])).arraySync() as number[];
    const rows = p.logProb(xs, tf.tensor2d([1, 0, 1, 1, 0, 1], [2, 3])).arraySync() as number[];
    row.forEach((v, i) => close(v, rows[i], 1e-6, `broadcast ${i}`));
  });

  it('Bernoulli: the gradient is m·(σ(l) − x): zero on missing dims', () => {
    const l = tf.tensor2d(logits, [2, 3]);
    const g = tf
      .grad((t: tf.Tensor) =>
        tf.sum(new BernoulliLogits(t as tf.Tensor2D).logProb(tf.tensor2d(x, [2, 3]), tf.tensor2d(mask, [2, 3]))),
      )(l)
      .arraySync() as number[][];
    const flat = g.flat();
    for (let i = 0; i < 6; i++) {
      const want = mask[i] * (x[i] - 1 / (1 + Math.exp(-logits[i])));
      close(flat[i], want, 1e-5, `grad ${i}`);
    }
  });

  it('Gaussian: Σ over the observed dims of log N(x; μ, σ²), by hand, with a [1, D] log σ²', () => {
    const mu = [0, 1, -1, 0.5, 0.5, 2];
    const lv = [0, Math.log(4), Math.log(0.25)];
    const xs = [0.5, 3, -1, 0.5, 1.5, 0];
    const q = new DiagGaussian(tf.tensor2d(mu, [2, 3]), tf.tensor2d(lv, [1, 3]));
    const lp = q.logProb(tf.tensor2d(xs, [2, 3]), tf.tensor2d(mask, [2, 3])).arraySync() as number[];
    const logN = (v: number, m: number, s2: number) => -0.5 * Math.log(2 * Math.PI * s2) - (v - m) ** 2 / (2 * s2);
    close(lp[0], logN(0.5, 0, 1) + logN(-1, -1, 0.25), 1e-5, 'row 0');
    close(lp[1], logN(1.5, 0.5, 4), 1e-5, 'row 1');
  });

  it('Gaussian: no gradient reaches the mean of a missing dim', () => {
    const g = tf
      .grad((m: tf.Tensor) =>
        tf.sum(
          new DiagGaussian(m as tf.Tensor2D, tf.zeros([2, 3])).logProb(tf.ones([2, 3]), tf.tensor2d(mask, [2, 3])),
        ),
      )(tf.zeros([2, 3]))
      .arraySync() as number[][];
    g.flat().forEach((v, i) => close(v, mask[i], 1e-6, `grad ${i}`));
  });

  it('a mask that does not broadcast is an error naming its shape', () => {
    const p = new BernoulliLogits(tf.tensor2d(logits, [2, 3]));
    assert.throws(() => p.logProb(tf.tensor2d(x, [2, 3]), tf.ones([2, 2])), /mask \[2,2\]/);
    const q = new DiagGaussian(tf.zeros([2, 3]), tf.zeros([1, 3]));
    assert.throws(() => q.logProb(tf.zeros([2, 3]), tf.ones([3])), /mask \[3\]/);
  });

  it('isMaskedLikelihood tells the maskable likelihoods from the others', () => {
    assert.ok(isMaskedLikelihood(new BernoulliLogits(tf.zeros([1, 2]))));
    assert.ok(isMaskedLikelihood(new DiagGaussian(tf.zeros([1, 2]), tf.zeros([1, 2]))));
    assert.ok(!isMaskedLikelihood(new Categorical(tf.zeros([1, 4]), 2)));
  });
});
