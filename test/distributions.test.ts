import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { BernoulliLogits } from '../src/distributions/bernoulli.js';
import { DiagGaussian, StdNormal } from '../src/distributions/gaussian.js';
import { Rng } from '../src/rng.js';
import { setupBackend } from './helpers.js';

const close = (a: number, b: number, tol: number, what: string) =>
  assert.ok(Math.abs(a - b) <= tol * (1 + Math.abs(b)), `${what}: ${a} vs ${b}`);

describe('distributions: logProb and KL against closed forms', () => {
  before(setupBackend);
  const rng = new Rng(1);
  const B = 4;
  const D = 3;
  const mu = Array.from({ length: B * D }, () => rng.normal());
  const lv = Array.from({ length: B * D }, () => rng.normal() * 0.5);
  const x = Array.from({ length: B * D }, () => rng.normal());

  it('DiagGaussian.logProb is Σ log N(x; μ, σ²)', () => {
    const q = new DiagGaussian(tf.tensor2d(mu, [B, D]), tf.tensor2d(lv, [B, D]));
    const lp = q.logProb(tf.tensor2d(x, [B, D])).arraySync() as number[];
    for (let b = 0; b < B; b++) {
      let s = 0;
      for (let d = 0; d < D; d++) {
        const i = b * D + d;
        const v = Math.exp(lv[i]);
        s += -0.5 * Math.log(2 * Math.PI * v) - (x[i] - mu[i]) ** 2 / (2 * v);
      }
      close(lp[b], s, 1e-5, `logProb[${b}]`);
    }
  });

  it('DiagGaussian.logProb broadcasts a [1, D] log-variance (learned decoder σ)', () => {
    const lvRow = [0.3, -0.2, 1.1];
    const q = new DiagGaussian(tf.tensor2d(mu, [B, D]), tf.tensor2d(lvRow, [1, D]));
    const lp = q.logProb(tf.tensor2d(x, [B, D])).arraySync() as number[];
    for (let b = 0; b < B; b++) {
      let s = 0;
      for (let d = 0; d < D; d++) {
        const v = Math.exp(lvRow[d]);
        s += -0.5 * Math.log(2 * Math.PI * v) - (x[b * D + d] - mu[b * D + d]) ** 2 / (2 * v);
      }
      close(lp[b], s, 1e-5, `logProb[${b}]`);
    }
  });

  it('KL(q ‖ N(0, I)) = ½ Σ (μ² + σ² − log σ² − 1), and KL(q ‖ q) = 0', () => {
    const q = new DiagGaussian(tf.tensor2d(mu, [B, D]), tf.tensor2d(lv, [B, D]));
    const kl = q.kl(new StdNormal(B, D)).arraySync() as number[];
    for (let b = 0; b < B; b++) {
      let s = 0;
      for (let d = 0; d < D; d++) s += 0.5 * (mu[b * D + d] ** 2 + Math.exp(lv[b * D + d]) - lv[b * D + d] - 1);
      close(kl[b], s, 1e-5, `kl[${b}]`);
    }
    const self = q.kl(new DiagGaussian(tf.tensor2d(mu, [B, D]), tf.tensor2d(lv, [B, D]))).arraySync() as number[];
    self.forEach((v) => assert.ok(Math.abs(v) < 1e-5, `KL(q‖q) = ${v}`));
  });

  it('KL between two diagonal Gaussians matches the closed form and a Monte Carlo estimate', () => {
    const q = new DiagGaussian(tf.tensor2d([[0.5, -1]]), tf.tensor2d([[0.2, -0.7]]));
    const p = new DiagGaussian(tf.tensor2d([[-0.3, 0.4]]), tf.tensor2d([[0.9, 0.1]]));
    const kl = q.kl(p).dataSync()[0];
    let exact = 0;
    const m1 = [0.5, -1],
      l1 = [0.2, -0.7],
      m2 = [-0.3, 0.4],
      l2 = [0.9, 0.1];
    for (let d = 0; d < 2; d++)
      exact += 0.5 * (l2[d] - l1[d] + (Math.exp(l1[d]) + (m1[d] - m2[d]) ** 2) / Math.exp(l2[d]) - 1);
    close(kl, exact, 1e-5, 'kl');
    // Monte Carlo: E_q[log q − log p] over 200k draws
    const r = new Rng(3);
    const n = 200000;
    const qq = q.repeat(n);
    const z = qq.sample(r);
    const mc = tf
      .mean(
        tf.sub(
          qq.logProb(z),
          new DiagGaussian(tf.tile(p.mu, [n, 1]) as tf.Tensor2D, tf.tile(p.logVar, [n, 1]) as tf.Tensor2D).logProb(z),
        ),
      )
      .dataSync()[0];
    assert.ok(Math.abs(mc - exact) < 0.02, `MC KL ${mc} vs ${exact}`);
  });

  it('StdNormal.logProb is −½ Σ (log 2π + z²)', () => {
    const z = [[0.1, -2, 3]];
    const lp = new StdNormal(1, 3).logProb(tf.tensor2d(z)).dataSync()[0];
    close(lp, -0.5 * (3 * Math.log(2 * Math.PI) + 0.01 + 4 + 9), 1e-6, 'logProb');
  });

  it('reparameterized samples have the right mean and variance', () => {
    const q = new DiagGaussian(tf.tensor2d([[2, -1]]), tf.tensor2d([[Math.log(4), Math.log(0.25)]])).repeat(50000);
    const z = q.sample(new Rng(5));
    const { mean, variance } = tf.moments(z, 0);
    const m = mean.dataSync(),
      v = variance.dataSync();
    assert.ok(Math.abs(m[0] - 2) < 0.05 && Math.abs(m[1] + 1) < 0.02, `mean ${m}`);
    assert.ok(Math.abs(v[0] - 4) < 0.15 && Math.abs(v[1] - 0.25) < 0.01, `variance ${v}`);
  });

  it('Bernoulli.logProb is Σ [x log σ(l) + (1−x) log(1−σ(l))], stable for extreme logits', () => {
    const l = [[-3, 0, 2.5, 100, -100]];
    const xb = [[1, 0, 1, 0, 1]];
    const lp = new BernoulliLogits(tf.tensor2d(l)).logProb(tf.tensor2d(xb)).dataSync()[0];
    let s = 0;
    for (let d = 0; d < 3; d++) {
      const p = 1 / (1 + Math.exp(-l[0][d]));
      s += xb[0][d] * Math.log(p) + (1 - xb[0][d]) * Math.log(1 - p);
    }
    s += -100 - 100; // log(1 − σ(100)) ≈ −100 and log σ(−100) ≈ −100
    assert.ok(Number.isFinite(lp), `finite for |l| = 100: ${lp}`);
    close(lp, s, 1e-5, 'bernoulli logProb');
  });

  it('Bernoulli samples follow σ(logits)', () => {
    const d = new BernoulliLogits(tf.fill([20000, 1], Math.log(0.3 / 0.7)) as tf.Tensor2D);
    const m = tf.mean(d.sample(new Rng(9))).dataSync()[0];
    assert.ok(Math.abs(m - 0.3) < 0.015, `mean ${m}`);
    close(d.mean().dataSync()[0], 0.3, 1e-5, 'mean()');
  });
});
