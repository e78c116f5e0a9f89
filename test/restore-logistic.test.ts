// Restoration with a discretised-logistic (8-bit) decoder: noise and super-resolution take its moment-matched
// Gaussian (mean μ clipped to [0, 1], variance s²π²/3), inpainting its masked likelihood; on a small model
// trained here on 8-bit MNIST digits, MAP denoises below the noisy input's error and inpaints with the known
// pixels kept exactly.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { allRows, loadDataset, take } from '../src/data/dataset.js';
import { DiscretizedLogistic } from '../src/distributions/discretized-logistic.js';
import { createModel } from '../src/models/index.js';
import type { LatentVariableModel } from '../src/models/types.js';
import { elbo } from '../src/objectives/elbo.js';
import { Rng } from '../src/rng.js';
import { degrade } from '../src/tasks/restore/degrade.js';
import { checkDegradationForLikelihood, conditionalMoments, decoderKind } from '../src/tasks/restore/measurement.js';
import { quality } from '../src/tasks/restore/metrics.js';
import { restoreImages } from '../src/tasks/restore/methods.js';
import { setupBackend } from './helpers.js';

const N = 40;

describe('restoration with a discretised-logistic decoder', () => {
  let model: LatentVariableModel;
  let x: Float32Array;
  let shape: number[];
  before(async () => {
    await setupBackend();
    const data = await loadDataset({ name: 'mnist', protocol: 'continuous' });
    const train = take(data.train, 1000);
    const test = take(data.test, N);
    x = allRows(test);
    shape = test.shape;
    model = createModel(
      {
        kind: 'vae',
        inputShape: [28, 28, 1],
        latentDim: 8,
        network: { type: 'mlp', hidden: [128] },
        likelihood: 'discretized-logistic',
      },
      new Rng(1),
    );
    const xt = tf.tensor2d(allRows(train), [train.n, 784]);
    const rng = new Rng(2);
    const opt = tf.train.adam(0.003);
    for (let step = 0; step < 300; step++) {
      const start = (step * 100) % train.n;
      const batch = tf.slice(xt, [start, 0], [100, 784]);
      opt.minimize(() => tf.mean(elbo(model, batch, { rng }).total) as tf.Scalar, false, model.variables());
      batch.dispose();
    }
    xt.dispose();
  });

  it('the moments by hand: mean μ clipped, variance s²π²/3, blended with the noisy value by precision', () => {
    const s = 0.2;
    const p = new DiscretizedLogistic(tf.tensor2d([[0.5, 1.3]]), tf.fill([1, 2], Math.log(s)) as tf.Tensor2D);
    assert.equal(decoderKind(p), 'discretized-logistic');
    const v = (s * s * Math.PI * Math.PI) / 3;
    const sigma = 0.3;
    const m = conditionalMoments(
      p,
      tf.tensor2d([[0.9, 0.1]]),
      { task: 'denoise', noise: 'gaussian', sigma, seed: 0 },
      [1, 2, 1],
    );
    const blend = (mu: number, y: number) => (mu / v + y / sigma ** 2) / (1 / v + 1 / sigma ** 2);
    const got = m.mean.dataSync();
    assert.ok(Math.abs(got[0] - blend(0.5, 0.9)) < 1e-5, `${got[0]}`);
    assert.ok(Math.abs(got[1] - blend(1, 0.1)) < 1e-5, `${got[1]} (μ clipped to 1)`);
    assert.ok(Math.abs(m.variance.dataSync()[0] - 1 / (1 / v + 1 / sigma ** 2)) < 1e-6);
    checkDegradationForLikelihood({ task: 'denoise', noise: 'gaussian', sigma: 0.3, seed: 0 }, 'discretized-logistic');
    assert.throws(
      () =>
        checkDegradationForLikelihood({ task: 'denoise', noise: 'bit-flip', p: 0.1, seed: 0 }, 'discretized-logistic'),
      /needs a binary model/,
    );
  });

  it('denoising σ = 0.3: MAP is closer to the clean digits than the noisy input and the naive pass', () => {
    const deg = degrade(x, N, shape, { task: 'denoise', noise: 'gaussian', sigma: 0.3, seed: 1 });
    const noisy = quality(deg.display, x, N, deg.shape).psnr;
    const naive = quality(restoreImages(model, deg, { method: 'naive' }).x, x, N, deg.shape).psnr;
    const map = quality(restoreImages(model, deg, { method: 'map', steps: 60 }).x, x, N, deg.shape).psnr;
    assert.ok(map > noisy + 3, `MAP ${map} dB vs noisy ${noisy} dB`);
    assert.ok(map > naive, `MAP ${map} dB vs naive ${naive} dB`);
  });

  it('inpainting a 14×14 centre by its masked likelihood and super-resolution ×2: known pixels exact, finite', () => {
    const deg = degrade(x, N, shape, { task: 'inpaint', mask: { kind: 'center', size: 14 } });
    for (const method of ['map', 'gibbs'] as const) {
      const r = restoreImages(model, deg, { method, steps: 40, iterations: 20, samples: 4 });
      for (let i = 0; i < r.x.length; i++) if (deg.mask![i]) assert.equal(r.x[i], x[i], `${method}: pixel ${i}`);
      assert.ok(r.uncertainty.every(Number.isFinite));
    }
    const sr = degrade(x, N, shape, { task: 'superres', factor: 2 });
    const r = restoreImages(model, sr, { method: 'map', steps: 40 });
    assert.ok(r.x.every(Number.isFinite));
    assert.ok(quality(r.x, x, N, sr.shape).psnr > 12);
  });
});
