// Latent health on VAEs whose encoders are set by hand: known active and dead units, known KL per unit.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { columnVariance, diagnoseCollapse, latentHealth } from '../src/eval/latent.js';
import { createModel, type VAE } from '../src/models/index.js';
import { Rng } from '../src/rng.js';
import { setupBackend } from './helpers.js';

before(async () => {
  await setupBackend();
});

const D = 6;
const Z = 4;

/** A linear-encoder VAE (no hidden layers): [μ, log σ²] = x W + b with W [D, 2Z], b [2Z]. */
function linearVae(W: number[][], b: number[]): VAE {
  const m = createModel(
    {
      kind: 'vae',
      inputShape: [D],
      latentDim: Z,
      network: { type: 'mlp', hidden: [] },
      likelihood: 'gaussian',
      sigma: 1,
    },
    new Rng(0),
  ) as VAE;
  tf.tidy(() => m.encoder.layers[0].setWeights([tf.tensor2d(W.flat(), [D, 2 * Z]), tf.tensor1d(b)]));
  return m;
}

function zeros(r: number, c: number): number[][] {
  return Array.from({ length: r }, () => new Array<number>(c).fill(0));
}

describe('latent health', () => {
  const n = 400;
  const rng = new Rng(7);
  const x = rng.fillNormal(new Float32Array(n * D));
  const split = { x, n, shape: [D] };

  it('finds the active units and the KL per unit of a hand-set encoder', () => {
    // μ0 = 2 x0 (active), μ1 = 0.3 (constant: dead), μ2 = 0.5 (x1 + x2) (active), μ3 = 0.05 x3 (Var ≈ 0.0025: inactive)
    // log σ² = −1 on units 0 and 2, 0 on units 1 and 3.
    const W = zeros(D, 2 * Z);
    W[0][0] = 2;
    W[1][2] = 0.5;
    W[2][2] = 0.5;
    W[3][3] = 0.05;
    const b = [0, 0.3, 0, 0, -1, 0, -1, 0];
    const m = linearVae(W, b);
    const h = latentHealth(m, split, { batchSize: 128 });
    m.dispose();
    assert.equal(h.n, n);
    assert.equal(h.latentDim, Z);
    assert.deepEqual(h.active, [0, 2]);
    assert.equal(h.activeUnits, 2);
    assert.equal(h.status, 'healthy');
    assert.deepEqual(h.warnings, []);
    // Expected values straight from the data, in Float64.
    const mu = new Float64Array(n * Z);
    for (let i = 0; i < n; i++) {
      mu[i * Z] = 2 * x[i * D];
      mu[i * Z + 1] = 0.3;
      mu[i * Z + 2] = 0.5 * (x[i * D + 1] + x[i * D + 2]);
      mu[i * Z + 3] = 0.05 * x[i * D + 3];
    }
    const v = columnVariance(mu, n, Z);
    assert.ok(v[1] < 1e-20 && h.activity[1] < 1e-12, `dead unit activity ${h.activity[1]}`);
    for (let j = 0; j < Z; j++)
      assert.ok(Math.abs(h.activity[j] - v[j]) < 1e-5 * (1 + v[j]), `activity ${j}: ${h.activity[j]} vs ${v[j]}`);
    assert.ok(h.activity[3] > 0 && h.activity[3] < 0.01);
    // KL_j = ½ mean(μ_j² + σ_j² − log σ_j² − 1)
    const lv = [-1, 0, -1, 0];
    for (let j = 0; j < Z; j++) {
      let s = 0;
      for (let i = 0; i < n; i++) s += 0.5 * (mu[i * Z + j] ** 2 + Math.exp(lv[j]) - lv[j] - 1);
      assert.ok(Math.abs(h.klPerDim[j] - s / n) < 1e-4 * (1 + s / n), `KL ${j}: ${h.klPerDim[j]} vs ${s / n}`);
    }
    assert.ok(Math.abs(h.klPerDim[1] - 0.045) < 1e-6, 'dead unit with constant μ 0.3: KL ½·0.09');
    assert.ok(Math.abs(h.klTotal - h.klPerDim.reduce((a, c) => a + c, 0)) < 1e-9);
  });

  it('flags posterior collapse when the encoder ignores x', () => {
    const m = linearVae(zeros(D, 2 * Z), new Array(2 * Z).fill(0)); // q(z|x) = N(0, I) = p(z)
    const h = latentHealth(m, split);
    m.dispose();
    assert.equal(h.activeUnits, 0);
    assert.ok(h.klTotal < 1e-9);
    assert.equal(h.status, 'collapsed');
    assert.match(h.warnings.join('\n'), /POSTERIOR COLLAPSE: 0 of 4 latent units are active/);
  });

  it('the threshold and the collapse rules', () => {
    assert.equal(diagnoseCollapse(0, 20, 5).status, 'collapsed');
    assert.equal(diagnoseCollapse(3, 20, 0.05).status, 'collapsed', 'KL below 0.1 nats');
    assert.equal(diagnoseCollapse(2, 20, 8).status, 'partial');
    assert.match(diagnoseCollapse(2, 20, 8).warnings[0], /only 2 of 20/);
    assert.equal(diagnoseCollapse(1, 4, 3).status, 'partial');
    assert.equal(diagnoseCollapse(3, 20, 8).status, 'healthy');
    assert.equal(diagnoseCollapse(2, 4, 3).status, 'healthy');
  });
});
