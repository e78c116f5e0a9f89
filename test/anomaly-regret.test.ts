// Likelihood regret (src/tasks/anomaly-regret.ts): never negative, the difference of the two −ELBOs it
// reports, zero without steps, larger for a badly amortised encoder, carried through scoreBatch/scoreStream,
// and refused for models without one Gaussian posterior layer.
import { before, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { DiagGaussian } from '../src/distributions/gaussian.js';
import { createModel, type HvaeConfig, type VaeConfig } from '../src/models/index.js';
import type { LatentVariableModel } from '../src/models/types.js';
import { Rng } from '../src/rng.js';
import { scoreBatch, scoreStream, type Rows } from '../src/tasks/anomaly.js';
import { likelihoodRegret } from '../src/tasks/anomaly-regret.js';
import { setupBackend } from './helpers.js';

before(setupBackend);

const vaeCfg: VaeConfig = {
  kind: 'vae',
  inputShape: [12],
  latentDim: 3,
  network: { type: 'mlp', hidden: [16], activation: 'tanh' },
  likelihood: 'bernoulli',
};

const binaryRows = (n: number, D: number, seed: number): Rows => {
  const r = new Rng(seed);
  return { x: Float32Array.from({ length: n * D }, () => (r.uniform() < 0.4 ? 1 : 0)), n, shape: [D] };
};

const mean = (a: ArrayLike<number>) => Array.from(a).reduce((s, v) => s + v, 0) / a.length;

/** The same model with its encoder's means moved by `shift` on every unit: a badly amortised q(z|x). */
function shiftedEncoder(m: LatentVariableModel, shift: number): LatentVariableModel {
  const bad = Object.create(m) as LatentVariableModel;
  // called inside likelihoodRegret's tidy, which frees q's tensors
  bad.encode = (x: tf.Tensor2D) => {
    const q = m.encode(x) as DiagGaussian;
    return new DiagGaussian(tf.add(q.mu, shift) as tf.Tensor2D, q.logVar);
  };
  return bad;
}

it('regret ≥ 0 on every row, = before − after; 0 steps give 0; the fit gains on most rows', () => {
  const m = createModel(vaeCfg, new Rng(1));
  const rows = binaryRows(64, 12, 2);
  const x = tf.tensor2d(rows.x, [rows.n, 12]);
  const n0 = tf.memory().numTensors;
  const r = likelihoodRegret(m, x, { rng: new Rng(3), steps: 30, lr: 0.05, samples: 3 });
  assert.equal(tf.memory().numTensors, n0, 'no tensor left behind');
  let gained = 0;
  for (let i = 0; i < rows.n; i++) {
    assert.ok(r.regret[i] >= 0, `row ${i}: regret ${r.regret[i]}`);
    assert.ok(Math.abs(r.regret[i] - (r.before[i] - r.after[i])) < 1e-9);
    if (r.regret[i] > 1e-3) gained++;
  }
  assert.ok(gained > rows.n * 0.9, `${gained} of ${rows.n} rows gained`);
  const none = likelihoodRegret(m, x, { rng: new Rng(3), steps: 0 });
  assert.ok(none.regret.every((v) => v === 0));
  // the same draws (same seed) start from the same −ELBO_ε
  const again = likelihoodRegret(m, x, { rng: new Rng(3), steps: 5, samples: 3 });
  for (let i = 0; i < rows.n; i++) assert.ok(Math.abs(again.before[i] - r.before[i]) < 1e-4);
  x.dispose();
  m.dispose();
});

it('a badly amortised encoder has a larger regret, and the fit recovers most of its loss', () => {
  const m = createModel(vaeCfg, new Rng(4));
  const bad = shiftedEncoder(m, 2.5);
  const rows = binaryRows(48, 12, 5);
  const x = tf.tensor2d(rows.x, [rows.n, 12]);
  const opts = { steps: 60, lr: 0.1, samples: 4 };
  const good = likelihoodRegret(m, x, { ...opts, rng: new Rng(6) });
  const off = likelihoodRegret(bad, x, { ...opts, rng: new Rng(6) });
  assert.ok(mean(off.regret) > mean(good.regret) + 3, `regret ${mean(off.regret)} vs ${mean(good.regret)}`);
  // q shifted by 2.5σ_prior costs ≥ 3 · 2.5² / 2 ≈ 9 nats of KL alone; after the fit both end up close
  assert.ok(mean(off.before) - mean(good.before) > 5);
  assert.ok(Math.abs(mean(off.after) - mean(good.after)) < 0.25 * (mean(off.before) - mean(good.before)));
  x.dispose();
  m.dispose();
});

it('scoreBatch and scoreStream carry the regret when asked; other models and bad settings are refused', async () => {
  const m = createModel(vaeCfg, new Rng(7));
  const rows = binaryRows(20, 12, 8);
  const s = await scoreBatch(m, rows, { rng: new Rng(9), batchSize: 8, complexity: null, regret: { steps: 10 } });
  assert.ok(s.regret && s.regret.length === 20 && s.regret.every((v) => v >= 0));
  assert.equal((await scoreBatch(m, rows, { rng: new Rng(9), complexity: null })).regret, undefined);
  const got: number[] = [];
  for await (const r of scoreStream(m, [rows], { rng: new Rng(9), complexity: null, regret: { steps: 10 } }))
    got.push(r.regret!);
  assert.equal(got.length, 20);
  assert.ok(got.every((v) => v >= 0));
  const x = tf.tensor2d(rows.x, [20, 12]);
  assert.throws(() => likelihoodRegret(m, x, { rng: new Rng(0), steps: -1 }), /steps must be an integer ≥ 0/);
  assert.throws(() => likelihoodRegret(m, x, { rng: new Rng(0), samples: 0 }), /samples must be an integer ≥ 1/);
  assert.throws(() => likelihoodRegret(m, x, { rng: new Rng(0), lr: 0 }), /lr must be a positive number/);
  const hvaeCfg: HvaeConfig = {
    ...vaeCfg,
    kind: 'hvae',
    latentDims: [3, 2],
    latentDim: 5,
    layerHidden: [8],
  };
  const h = createModel(hvaeCfg, new Rng(10));
  assert.throws(() => likelihoodRegret(h, x, { rng: new Rng(0) }), /one Gaussian posterior layer.*hvae/);
  await assert.rejects(
    scoreBatch(h, rows, { rng: new Rng(0), complexity: null, regret: { steps: 2 } }),
    /one Gaussian posterior layer/,
  );
  x.dispose();
  h.dispose();
  m.dispose();
});
