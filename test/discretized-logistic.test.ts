// The discretised logistic over 8-bit values: a proper distribution over the 256 levels, exact against a
// float64 reference, masked, finite gradients at the extremes, and a VAE that trains and saves with it.
import * as tf from '@tensorflow/tfjs-core';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { DiscretizedLogistic } from '../src/distributions/discretized-logistic.js';
import { createModel } from '../src/models/index.js';
import { elbo } from '../src/objectives/elbo.js';
import { Rng } from '../src/rng.js';
import { setupBackend } from './helpers.js';

const sigmoid = (t: number) => 1 / (1 + Math.exp(-t));

/** log P(k) in float64, the plain way (fine away from cancellation). */
function reference(k: number, mu: number, s: number): number {
  const x = k / 255;
  const h = 1 / 510;
  const up = k === 255 ? 1 : sigmoid((x + h - mu) / s);
  const lo = k === 0 ? 0 : sigmoid((x - h - mu) / s);
  return Math.log(up - lo);
}

describe('discretized logistic', () => {
  before(setupBackend);

  it('sums to 1 over the 256 levels and matches a float64 reference', () => {
    const cases = [
      [0.5, 0.05],
      [0.01, 0.002],
      [0.99, 0.3],
      [-0.2, 0.1],
      [1.3, 0.02],
      [0.4, 2],
    ];
    for (const [mu, s] of cases) {
      const x = tf.tensor2d(
        Array.from({ length: 256 }, (_, k) => k / 255),
        [1, 256],
      );
      const d = new DiscretizedLogistic(
        tf.fill([1, 256], mu) as tf.Tensor2D,
        tf.fill([1, 256], Math.log(s)) as tf.Tensor2D,
      );
      const lp = d.logProbPerDim(x).dataSync();
      let total = 0;
      for (let k = 0; k < 256; k++) {
        total += Math.exp(lp[k]);
        const ref = reference(k, mu, s);
        if (ref > -30)
          assert.ok(
            Math.abs(lp[k] - ref) < 2e-4 * Math.max(1, Math.abs(ref)),
            `μ ${mu} s ${s} k ${k}: ${lp[k]} vs ${ref}`,
          );
        assert.ok(Number.isFinite(lp[k]), `μ ${mu} s ${s} k ${k}: ${lp[k]}`);
      }
      assert.ok(Math.abs(total - 1) < 1e-4, `μ ${mu} s ${s}: Σ P = ${total}`);
      tf.dispose([x, d.mu, d.logScale]);
    }
  });

  it('scores only the observed dimensions under a mask', () => {
    const mu = tf.tensor2d([[0.2, 0.5, 0.9]]);
    const ls = tf.tensor2d([[-3, -2, -4]]);
    const d = new DiscretizedLogistic(mu, ls);
    const x = tf.tensor2d([[51 / 255, 0, 1]]);
    const per = d.logProbPerDim(x).dataSync();
    const masked = d.logProb(x, tf.tensor2d([[1, 0, 1]])).dataSync()[0];
    assert.ok(Math.abs(masked - (per[0] + per[2])) < 1e-5);
    assert.ok(Math.abs(d.logProb(x).dataSync()[0] - (per[0] + per[1] + per[2])) < 1e-5);
  });

  it('has finite gradients for means far outside [0, 1] and tiny or huge scales', () => {
    const x = tf.tensor2d([[0, 3 / 255, 0.5, 1, 200 / 255, 1]]);
    const mu = tf.tensor2d([[40, -40, 0.5, 0.5, 0.78, -3]]);
    const ls = tf.tensor2d([[-12, -12, -12, 6, -9, 4]]);
    const g = tf.grads((m: tf.Tensor, l: tf.Tensor) =>
      tf.sum(new DiscretizedLogistic(m as tf.Tensor2D, l as tf.Tensor2D).logProb(x)),
    )([mu, ls]);
    for (const t of g) for (const v of t.dataSync()) assert.ok(Number.isFinite(v), `gradient ${v}`);
  });

  it('samples land on the 256 levels', () => {
    const d = new DiscretizedLogistic(tf.fill([4, 50], 0.5) as tf.Tensor2D, tf.fill([1, 50], -2) as tf.Tensor2D);
    for (const v of d.sample(new Rng(3)).dataSync()) {
      assert.ok(v >= 0 && v <= 1);
      assert.ok(Math.abs(v * 255 - Math.round(v * 255)) < 1e-4);
    }
  });

  for (const scale of ['per-pixel', 'decoder'] as const)
    for (const kind of scale === 'decoder' ? (['vae', 'hvae'] as const) : (['vae'] as const))
      it(`a ${kind} with it (${scale} log scales) has its scale parameters and a −ELBO that training lowers`, () => {
        const model = createModel(
          {
            kind,
            inputShape: [4, 4, 1],
            latentDim: kind === 'hvae' ? 3 : 2,
            network: { type: 'mlp', hidden: [16] },
            likelihood: 'discretized-logistic',
            ...(scale === 'decoder' ? { logisticScale: 'decoder' } : {}),
            ...(kind === 'hvae' ? { latentDims: [2, 1], layerHidden: [8] } : {}),
          } as Parameters<typeof createModel>[0],
          new Rng(1),
        );
        const params = model.namedParameters();
        if (scale === 'per-pixel') assert.deepEqual(params['decoder.log_scale'].shape, [1, 16]);
        else {
          // no shared scale: the decoder's last layer gives [μ, log s] for each of the 16 pixels
          assert.equal(params['decoder.log_scale'], undefined);
          assert.equal(model.networks().decoder.outputs[0].shape[1], 32);
        }
        const rng = new Rng(2);
        const x = tf.tensor2d(
          Array.from(
            { length: 32 * 16 },
            (_, i) => Math.round(255 * (0.5 + 0.4 * Math.sin(i % 16) * (i % 3 ? 1 : -1))) / 255,
          ),
          [32, 16],
        );
        const negElbo = () => tf.tidy(() => tf.mean(elbo(model, x, { rng }).total) as tf.Scalar);
        const before = negElbo().dataSync()[0];
        const opt = tf.train.adam(0.01);
        for (let i = 0; i < 150; i++) opt.minimize(negElbo, false, model.variables());
        const after = negElbo().dataSync()[0];
        assert.ok(Number.isFinite(after) && after < before - 5, `−ELBO ${before} → ${after}`);
        model.dispose();
      });

  it('logisticScale is refused on another likelihood and on the cvae', () => {
    const base = { inputShape: [4, 4, 1], latentDim: 2, network: { type: 'mlp' as const, hidden: [8] } };
    assert.throws(
      () => createModel({ kind: 'vae', ...base, likelihood: 'bernoulli', logisticScale: 'decoder' }, new Rng(0)),
      /logisticScale is a setting of the discretized-logistic likelihood/,
    );
    assert.throws(
      () =>
        createModel(
          {
            kind: 'cvae',
            ...base,
            likelihood: 'discretized-logistic',
            logisticScale: 'decoder',
            numClasses: 2,
            labelEncoding: 'onehot',
            prior: 'standard',
          },
          new Rng(0),
        ),
      /setting of the vae and hvae models/,
    );
  });

  it('vaekit train --likelihood discretized-logistic: bits/dim below 8 on real 8-bit pixels; refused on binary data', (t) => {
    const dataset = existsSync('/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz')
      ? 'fashion-mnist'
      : 'mnist';
    const root = mkdtempSync(path.join(tmpdir(), 'vaekit-dl-'));
    t.after(() => rmSync(root, { recursive: true, force: true }));
    const bin = path.resolve('bin/vaekit.js');
    const run = (args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8' });
    const common = ['train', '--dataset', dataset, '--limit', '1000', '--batch-size', '50', '--hidden', '32'];
    const ok = run([
      ...common,
      '--latent',
      '4',
      '--protocol',
      'continuous',
      '--likelihood',
      'discretized-logistic',
      '--epochs',
      '2',
      '--report-k',
      '2',
      '--out',
      path.join(root, 'dl'),
      '--json',
    ]);
    assert.equal(ok.status, 0, ok.stderr);
    const bpd = JSON.parse(ok.stdout).final.bits_per_dim;
    assert.ok(Number.isFinite(bpd) && bpd > 0 && bpd < 8, `bits/dim ${bpd}`);
    const bad = run([
      ...common,
      '--likelihood',
      'discretized-logistic',
      '--epochs',
      '1',
      '--out',
      path.join(root, 'bad'),
    ]);
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /continuous protocol/);
    assert.ok(!existsSync(path.join(root, 'bad', 'model')));
  });
});
