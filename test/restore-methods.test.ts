// Restoration methods on the small saved models of test/fixtures/models-v1 (MNIST, tiny networks): MAP
// beats the naive pass, known pixels stay exactly, the uncertainty tracks the error, seeded runs repeat.
import assert from 'node:assert/strict';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { allRows, loadDataset, take } from '../src/data/dataset.js';
import { loadModel } from '../src/io/model.js';
import type { LatentVariableModel } from '../src/models/types.js';
import { degrade } from '../src/tasks/restore/degrade.js';
import {
  checkDegradationForLikelihood,
  conditionalMoments,
  measurementLogLik,
  SUPERRES_SIGMA,
} from '../src/tasks/restore/measurement.js';
import { DiagGaussian } from '../src/distributions/gaussian.js';
import { pearson, quality } from '../src/tasks/restore/metrics.js';
import { restoreImages } from '../src/tasks/restore/methods.js';
import { BernoulliLogits } from '../src/distributions/bernoulli.js';
import { setupBackend } from './helpers.js';

const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'models-v1');
const N = 60;

describe('restoration methods on a small trained model', () => {
  let binary: LatentVariableModel;
  let continuous: LatentVariableModel;
  let xb: Float32Array, xc: Float32Array, shape: number[];
  before(async () => {
    await setupBackend();
    binary = (await loadModel(path.join(fixtures, 'vae'))).model;
    continuous = (await loadModel(path.join(fixtures, 'vae-gauss'))).model;
    const b = take((await loadDataset({ name: 'mnist', protocol: 'binary' })).test, N);
    const c = take((await loadDataset({ name: 'mnist', protocol: 'continuous' })).test, N);
    xb = allRows(b);
    xc = allRows(c);
    shape = b.shape;
  });

  it('inpainting: MAP beats the naive pass on PSNR, and every method keeps the known pixels exactly', () => {
    const deg = degrade(xb, N, shape, { task: 'inpaint', mask: { kind: 'center', size: 14 } });
    const psnr: Record<string, number> = {};
    for (const method of ['naive', 'map', 'gibbs', 'mwg'] as const) {
      const r = restoreImages(binary, deg, { method, steps: 60, samples: 8, iterations: 30 });
      for (let i = 0; i < r.x.length; i++)
        if (deg.mask![i]) {
          assert.equal(r.x[i], xb[i], `${method}: known value ${i} changed`);
          assert.equal(r.uncertainty[i], 0);
        }
      psnr[method] = quality(r.x, xb, N, deg.shape).psnr;
      if (method !== 'naive') {
        const err = r.x.map((v, i) => Math.abs(v - xb[i]));
        const rho = pearson(r.uncertainty, err, (i) => deg.mask![i] === 0);
        assert.ok(rho > 0.1, `${method}: spread vs error correlation ${rho}`);
      }
      if (method === 'mwg') assert.ok(r.acceptance! > 0 && r.acceptance! < 1, `acceptance ${r.acceptance}`);
    }
    assert.ok(psnr.map > psnr.naive, `MAP ${psnr.map} dB vs naive ${psnr.naive} dB`);
  });

  it('denoising a continuous model (σ = 0.3): MAP beats the naive pass', () => {
    const dn = degrade(xc, N, shape, { task: 'denoise', noise: 'gaussian', sigma: 0.3, seed: 1 });
    const naive = quality(restoreImages(continuous, dn, { method: 'naive' }).x, xc, N, dn.shape).psnr;
    const map = quality(restoreImages(continuous, dn, { method: 'map', steps: 60 }).x, xc, N, dn.shape).psnr;
    assert.ok(map > naive, `denoise: MAP ${map} dB vs naive ${naive} dB`);
  });

  it('E[x | y, z] by hand: a precision-weighted blend for noise, the block mean matched for superres', () => {
    const p = new DiagGaussian(tf.zeros([1, 4]), tf.zeros([1, 4])); // μ = 0, v = 1
    const dn = conditionalMoments(
      p,
      tf.fill([1, 4], 2),
      { task: 'denoise', noise: 'gaussian', sigma: 1, seed: 0 },
      [2, 2, 1],
    );
    assert.deepEqual([...dn.mean.dataSync()], [1, 1, 1, 1]); // (0/1 + 2/1) / (1 + 1)
    assert.deepEqual([...dn.variance.dataSync()], [0.5, 0.5, 0.5, 0.5]);
    const sr = conditionalMoments(p, tf.tensor2d([[1]]), { task: 'superres', factor: 2 }, [2, 2, 1]);
    const Vb = 4 / 16 + SUPERRES_SIGMA ** 2;
    for (const v of sr.mean.dataSync()) assert.ok(Math.abs(v - 0.25 / Vb) < 1e-6, `${v}`);
    for (const v of sr.variance.dataSync()) assert.ok(Math.abs(v - (1 - 0.25 ** 2 / Vb)) < 1e-6, `${v}`);
  });

  it('seeded: the same call gives the same images; another seed other samples', () => {
    const deg = degrade(xb.subarray(0, 10 * 784), 10, shape, {
      task: 'inpaint',
      mask: { kind: 'random', fraction: 0.5, seed: 3 },
    });
    const a = restoreImages(binary, deg, { method: 'gibbs', iterations: 10, samples: 4, seed: 5 });
    const b = restoreImages(binary, deg, { method: 'gibbs', iterations: 10, samples: 4, seed: 5 });
    assert.deepEqual(a.x, b.x);
    const c = restoreImages(binary, deg, { method: 'gibbs', iterations: 10, samples: 4, seed: 6 });
    assert.notDeepEqual(a.x, c.x);
  });

  it('the bit-flip likelihood marginalises x: p(y = 1) = p + (1 − 2p) π', () => {
    const p = new BernoulliLogits(tf.tensor2d([0, 2], [1, 2]));
    const ll = measurementLogLik(
      p,
      tf.tensor2d([1, 0], [1, 2]),
      { task: 'denoise', noise: 'bit-flip', p: 0.1, seed: 0 },
      [1, 2, 1],
    );
    const pi = 1 / (1 + Math.exp(-2));
    const want = Math.log(0.1 + 0.8 * 0.5) + Math.log(1 - (0.1 + 0.8 * pi));
    assert.ok(Math.abs(ll.dataSync()[0] - want) < 1e-5, `${ll.dataSync()[0]} vs ${want}`);
  });

  it('bad combinations are errors naming the problem', () => {
    assert.throws(
      () => checkDegradationForLikelihood({ task: 'denoise', noise: 'gaussian', sigma: 0.1, seed: 0 }, 'bernoulli'),
      /Gaussian noise \(--sigma\) needs a continuous model/,
    );
    assert.throws(
      () => checkDegradationForLikelihood({ task: 'denoise', noise: 'bit-flip', p: 0.1, seed: 0 }, 'gaussian'),
      /bit-flip noise \(--p\) needs a binary model/,
    );
    const deg = degrade(xb.subarray(0, 4 * 784), 4, shape, { task: 'superres', factor: 2 });
    assert.throws(() => restoreImages(binary, deg, { method: 'gibbs' }), /for --task inpaint only/);
    const small = degrade(new Float32Array(4 * 16), 4, [4, 4, 1], { task: 'superres', factor: 2 });
    assert.throws(
      () => restoreImages(binary, small, { method: 'naive' }),
      /the images are \[4,4,1\], the model takes \[28,28,1\]/,
    );
    assert.throws(
      () => restoreImages(binary, deg, { method: 'map', restarts: 0 }),
      /restarts must be a positive integer/,
    );
  });
});
