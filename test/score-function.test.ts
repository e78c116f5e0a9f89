// The score-function (REINFORCE) estimator (src/objectives/score-function.ts): unbiased on a toy problem
// with a known gradient, checked statistically, with and without baselines, and noisier than the
// reparameterization estimator; as an ELBO objective it has the ELBO's value and the reparameterized
// decoder gradient; it trains; the gradient-variance report (src/eval/gradient-variance.ts).
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { gradientVariance, formatGradientVariance } from '../src/eval/gradient-variance.js';
import { VAE } from '../src/models/vae.js';
import type { VaeConfig } from '../src/models/types.js';
import { elbo } from '../src/objectives/elbo.js';
import {
  leaveOneOutBaseline,
  MovingAverageBaseline,
  scoreFunctionElbo,
  scoreFunctionObjective,
  scoreFunctionSurrogate,
} from '../src/objectives/score-function.js';
import { stopGradient } from '../src/nn/ops.js';
import { Rng } from '../src/rng.js';
import { train } from '../src/train/trainer.js';
import { maxAbsDiff, setupBackend } from './helpers.js';

const meanSe = (v: Float32Array | number[]) => {
  const n = v.length;
  const m = Array.from(v).reduce((a, b) => a + b, 0) / n;
  const varr = Array.from(v).reduce((a, b) => a + (b - m) ** 2, 0) / (n - 1);
  return { mean: m, variance: varr, se: Math.sqrt(varr / n) };
};

describe('score-function estimator', () => {
  before(setupBackend);

  it('stop-gradient keeps the value and blocks the gradient', () => {
    const x = tf.tensor1d([1, 2, 3]);
    const g = tf.grad((a: tf.Tensor) => tf.sum(tf.add(tf.mul(a, a), tf.mul(stopGradient(a), a))))(x);
    // d/da [a² + ⊥a·a] = 2a + a = 3a
    assert.deepEqual(Array.from(g.dataSync()), [3, 6, 9]);
    assert.deepEqual(Array.from(stopGradient(x).dataSync()), [1, 2, 3]);
    const f = tf.tensor2d([
      [1, 2],
      [3, 4],
      [8, 0],
    ]);
    assert.deepEqual(Array.from(leaveOneOutBaseline(f).dataSync()), [5.5, 2, 4.5, 1, 2, 3]);
    const ma = new MovingAverageBaseline(0.5);
    assert.equal(ma.current(), 0);
    ma.update(4);
    ma.update(2);
    assert.equal(ma.current(), 3);
  });

  it('toy problem: q = N(μ, σ²), f(z) = (z − a)²; ∇μ E[f] = 2(μ − a), ∇_{log σ²} E[f] = σ², unbiased with and without baselines', () => {
    // N independent copies of μ (one variable entry each) give N independent estimates in one pass.
    const N = 4000;
    const mu0 = 0.7;
    const logVar0 = Math.log(0.5 * 0.5);
    const a = -0.3;
    const sigma2 = Math.exp(logVar0);
    const trueMu = 2 * (mu0 - a);
    const trueLogVar = sigma2;
    const rng = new Rng(17);
    const mu = tf.variable(tf.fill([N], mu0));
    const logVar = tf.variable(tf.fill([N], logVar0));

    // L samples per copy, f [L, N] and log q [L, N], through the same surrogate the objective uses
    const estimate = (L: number, baseline: 'none' | 'loo' | 'const' | 'reparam') => {
      const { grads } = tf.variableGrads(() => {
        const eps = tf.tensor2d(rng.fillNormal(new Float32Array(L * N)), [L, N]);
        const zr = tf.add(mu, tf.mul(tf.exp(tf.mul(logVar, 0.5)), eps)) as tf.Tensor2D; // μ + σ ε
        if (baseline === 'reparam') return tf.sum(tf.mean(tf.square(tf.sub(zr, a)), 0)) as tf.Scalar;
        const z = stopGradient(zr);
        const f = tf.square(tf.sub(z, a)) as tf.Tensor2D;
        // log N(z; μ, σ²)
        const logQ = tf.mul(
          tf.add(tf.add(logVar, Math.log(2 * Math.PI)), tf.div(tf.square(tf.sub(z, mu)), tf.exp(logVar))),
          -0.5,
        ) as tf.Tensor2D;
        const b = baseline === 'loo' ? leaveOneOutBaseline(f) : baseline === 'const' ? 1.0 : null;
        return tf.sum(scoreFunctionSurrogate(f, logQ, b)) as tf.Scalar;
      }, [mu, logVar]);
      return { mu: grads[mu.name].dataSync() as Float32Array, logVar: grads[logVar.name].dataSync() as Float32Array };
    };

    const results: Record<string, { mu: ReturnType<typeof meanSe>; logVar: ReturnType<typeof meanSe> }> = {};
    for (const [name, L, b] of [
      ['score, no baseline', 1, 'none'],
      ['score, constant baseline', 1, 'const'],
      ['score, leave-one-out (L=4)', 4, 'loo'],
      ['reparameterization', 1, 'reparam'],
      ['reparameterization (L=4)', 4, 'reparam'],
    ] as const) {
      const g = estimate(L, b);
      const r = { mu: meanSe(g.mu), logVar: meanSe(g.logVar) };
      results[name] = r;
      // within 4 standard errors of the truth (a false alarm about once in 16 000 runs per check)
      assert.ok(Math.abs(r.mu.mean - trueMu) < 4 * r.mu.se, `${name}: ∇μ ${r.mu.mean} ± ${r.mu.se} vs ${trueMu}`);
      assert.ok(
        Math.abs(r.logVar.mean - trueLogVar) < 4 * r.logVar.se,
        `${name}: ∇logσ² ${r.logVar.mean} ± ${r.logVar.se} vs ${trueLogVar}`,
      );
    }
    // the reparameterization estimator is the quieter one: Var = 4σ² for ∇μ, against several times that
    assert.ok(Math.abs(results['reparameterization'].mu.variance - 4 * sigma2) < 0.15 * 4 * sigma2);
    assert.ok(results['score, no baseline'].mu.variance > 3 * results['reparameterization'].mu.variance);
    assert.ok(results['score, leave-one-out (L=4)'].mu.variance > results['reparameterization (L=4)'].mu.variance);
    // a baseline helps
    assert.ok(results['score, leave-one-out (L=4)'].mu.variance < results['score, no baseline'].mu.variance / 2);
  });

  const cfg: VaeConfig = {
    kind: 'vae',
    inputShape: [8],
    latentDim: 2,
    network: { type: 'mlp', hidden: [6] },
    likelihood: 'bernoulli',
  };
  const rows = (n: number, seed: number) => {
    const r = new Rng(seed);
    return tf.tensor2d(
      Float32Array.from({ length: n * 8 }, (_, i) => (r.uniform() < (i % 8 < 4 ? 0.8 : 0.2) ? 1 : 0)),
      [n, 8],
    );
  };

  it('as the ELBO: the same value and decoder gradient as the reparameterized ELBO for the same ε; score gradients for the encoder', () => {
    const m = new VAE(cfg, new Rng(3));
    const x = rows(5, 1);
    const params = m.namedParameters();
    const vars = Object.values(params);
    for (const L of [1, 3]) {
      const rep = tf.variableGrads(() => tf.mean(elbo(m, x, { rng: new Rng(8), samples: L }).total) as tf.Scalar, vars);
      const sf = tf.variableGrads(
        () => tf.mean(scoreFunctionElbo(m, x, { rng: new Rng(8), samples: L }).total) as tf.Scalar,
        vars,
      );
      assert.ok(Math.abs(rep.value.dataSync()[0] - sf.value.dataSync()[0]) < 1e-4, 'same −ELBO estimate');
      for (const [name, v] of Object.entries(params)) {
        const d = maxAbsDiff(rep.grads[v.name].dataSync(), sf.grads[v.name].dataSync());
        if (name.startsWith('decoder')) assert.ok(d < 1e-5, `${name}: the decoder gradient is the usual one`);
        else assert.ok(d > 1e-6, `${name}: the encoder gradient is another estimator`);
      }
    }
    const terms = scoreFunctionElbo(m, x, { rng: new Rng(1), samples: 2, baseline: 'leave-one-out', beta: 2 });
    assert.deepEqual(Object.keys(terms).sort(), ['kl', 'rec', 'total']);
    assert.ok(maxAbsDiff(terms.total.dataSync(), tf.add(terms.rec, tf.mul(terms.kl, 2)).dataSync()) < 1e-5);
    assert.throws(() => scoreFunctionElbo(m, x, { rng: new Rng(1), baseline: 'leave-one-out' }), /needs --samples 2/);
    assert.throws(() => scoreFunctionElbo(m, x, { rng: new Rng(1), baseline: 'moving-average' }), /needs its state/);
  });

  it('trains a VAE (moving-average baseline) and the gradient-variance report sees unbiased, noisier score gradients', async () => {
    const m = new VAE(cfg, new Rng(4));
    const X = rows(128, 2);
    const split = { x: X.dataSync() as Float32Array, n: 128, shape: [8] };
    const data = { name: 'toy', train: split, test: split, shape: [8], protocol: 'binary' };
    const res = await train(m, data, scoreFunctionObjective({ baseline: 'moving-average' }), {
      epochs: 8,
      batchSize: 32,
      seed: 0,
      optimizer: { kind: 'adam', lr: 2e-2 },
      beta: 1,
      progress: 'none',
      dataInfo: { dataset: 'toy', protocol: 'binary', shape: [8] },
    });
    assert.ok(res.metrics[7].loss < res.metrics[0].loss - 0.3, `loss ${res.metrics[0].loss} → ${res.metrics[7].loss}`);

    const x = rows(8, 3);
    const report = gradientVariance(m, x, {
      draws: 150,
      seed: 1,
      estimators: [
        { name: 'reparam', estimator: 'reparam', samples: 1 },
        { name: 'score', estimator: 'score', samples: 1, baseline: 'none' },
        { name: 'score+avg', estimator: 'score', samples: 1, baseline: 'moving-average' },
        { name: 'reparam L=3', estimator: 'reparam', samples: 3 },
        { name: 'score+loo L=3', estimator: 'score', samples: 3, baseline: 'leave-one-out' },
      ],
    });
    assert.equal(report.parameters, 8 * 6 + 6 + 6 * 4 + 4);
    assert.ok(report.parameterNames.every((n) => n.startsWith('encoder')));
    const [rep, sf, avg, rep3, loo] = report.estimators;
    assert.equal(rep.varianceRatio, 1);
    assert.ok(sf.varianceRatio! > 1.5, `score/reparam variance ratio ${sf.varianceRatio}`);
    assert.ok(loo.varianceRatio! > 1 && loo.meanVariance < sf.meanVariance, 'leave-one-out: between the two');
    assert.equal(loo.varianceRatio, loo.meanVariance / rep3.meanVariance);
    for (const s of [sf, avg, loo])
      assert.ok(s.biasZ! < 2.5, `${s.name}: mean gradient within noise of reparam's (RMS z ${s.biasZ})`);
    assert.ok(Math.abs(sf.loss - rep.loss) < 0.5, 'both estimate the same −ELBO');
    const text = formatGradientVariance(report);
    assert.match(text, /score\+loo L=3/);
  });
});
