// The conditional VAE (src/models/cvae.ts): q(z|x,y), p(x|z,y), p(z|y) standard or learned, one-hot or
// embedded labels; sampling a chosen class, the objectives given y, save/load and the browser format,
// and learning on real labelled images.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { loadDataset, type Split } from '../src/data/dataset.js';
import { DiagGaussian, StdNormal } from '../src/distributions/gaussian.js';
import { evaluateElbo, importanceSampledNll } from '../src/eval/likelihood.js';
import { loadModel, saveModel } from '../src/io/model.js';
import { CVAE } from '../src/models/cvae.js';
import { createModel, latentPoint, type CvaeConfig } from '../src/models/index.js';
import { elbo } from '../src/objectives/elbo.js';
import { iwae, logImportanceWeights } from '../src/objectives/iwae.js';
import { Rng } from '../src/rng.js';
import { generate, reconstruct } from '../src/tasks/generate.js';
import { train } from '../src/train/trainer.js';
import { maxAbsDiff, setupBackend } from './helpers.js';

const HAVE_FMNIST = existsSync('/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz');

function cfg(o: Partial<CvaeConfig> = {}): CvaeConfig {
  return {
    kind: 'cvae',
    inputShape: [6, 4, 1],
    latentDim: 3,
    network: { type: 'mlp', hidden: [10] },
    likelihood: 'bernoulli',
    numClasses: 4,
    labelEncoding: 'onehot',
    prior: 'standard',
    ...o,
  };
}

const binaryRows = (n: number, D: number, seed: number) => {
  const r = new Rng(seed);
  return tf.tensor2d(
    Float32Array.from({ length: n * D }, () => (r.uniform() < 0.4 ? 1 : 0)),
    [n, D],
  );
};

async function loadBrowserNet(dir: string, net: string): Promise<tfl.LayersModel> {
  const json = JSON.parse(readFileSync(path.join(dir, 'tfjs', net, 'model.json'), 'utf8'));
  const bin = readFileSync(path.join(dir, 'tfjs', net, 'weights.bin'));
  const weightData = bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength);
  return tfl.loadLayersModel(
    tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: json.weightsManifest[0].weights, weightData }),
  );
}

describe('conditional VAE', () => {
  const dirs: string[] = [];
  before(setupBackend);
  after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  it('needs the labels, and says so', () => {
    const m = new CVAE(cfg(), new Rng(1));
    assert.equal(m.numClasses, 4);
    const x = binaryRows(2, 24, 1);
    assert.throws(() => m.encode(x), /needs the labels y/);
    assert.throws(() => m.decode(tf.zeros([2, 3])), /needs the labels y/);
    assert.throws(() => m.encode(x, tf.tensor1d([1], 'int32')), /shape \[2\]/);
    assert.throws(() => generate(m, 2, new Rng(1)), /conditioned on a label/);
    assert.throws(() => generate(m, 2, new Rng(1), { y: [0, 4] }), /label 4 is out of range/);
    assert.throws(() => new CVAE(cfg({ numClasses: 1 }), new Rng(1)), /numClasses/);
    assert.throws(() => new CVAE(cfg({ labelEncoding: 'embedding' }), new Rng(1)), /embeddingDim/);
    m.dispose();
  });

  for (const labelEncoding of ['onehot', 'embedding'] as const) {
    it(`${labelEncoding}: the label conditions q(z|x,y) and p(x|z,y); samples of a chosen class`, () => {
      const m = new CVAE(
        cfg({
          labelEncoding,
          embeddingDim: 5,
          network: { type: 'conv', channels: [4, 8], kernel: 3, stride: 2, dense: [12] },
        }),
        new Rng(2),
      );
      tf.tidy(() => {
        const x = binaryRows(3, 24, 2);
        const qa = m.encode(x, tf.tensor1d([0, 0, 0], 'int32'));
        const qb = m.encode(x, tf.tensor1d([2, 2, 2], 'int32'));
        assert.ok(maxAbsDiff(qa.mu.dataSync(), qb.mu.dataSync()) > 1e-4);
        const z = tf.randomNormal([3, 3]) as tf.Tensor2D;
        const pa = m.decode(z, tf.tensor1d([1, 1, 1], 'int32')).mean();
        const pb = m.decode(z, tf.tensor1d([3, 3, 3], 'int32')).mean();
        assert.ok(maxAbsDiff(pa.dataSync(), pb.dataSync()) > 1e-4);
      });
      // generate: given labels, the same rng gives the decoder means for those classes
      const s3 = generate(m, 5, new Rng(7), { y: [3, 3, 3, 3, 3] });
      assert.equal(s3.length, 5 * 24);
      assert.ok(s3.every((v) => v >= 0 && v <= 1));
      const want = tf.tidy(() => {
        const y = tf.tensor1d([3, 3, 3, 3, 3], 'int32');
        return m
          .decode(m.prior(5, y).sample(new Rng(7)), y)
          .mean()
          .dataSync();
      });
      assert.ok(maxAbsDiff(s3, want) < 1e-6);
      const s1 = generate(m, 5, new Rng(7), { y: [1, 1, 1, 1, 1] });
      assert.ok(maxAbsDiff(s1, s3) > 1e-4, 'another class, other samples');
      assert.equal(reconstruct(m, binaryRows(2, 24, 3).dataSync() as Float32Array, 2, [0, 1]).length, 48);
      m.dispose();
    });
  }

  it('a learned prior p(z|y): one Gaussian per class, starting at N(0, I), trained through the KL', () => {
    const m = new CVAE(cfg({ prior: 'learned' }), new Rng(3));
    assert.ok(m.networks().prior, 'the prior is a network of its own (saved for the browser)');
    assert.ok(m.prior(2, tf.tensor1d([0, 1], 'int32')) instanceof DiagGaussian);
    assert.ok(new CVAE(cfg(), new Rng(3)).prior(2) instanceof StdNormal);
    const p0 = m.prior(2, tf.tensor1d([0, 1], 'int32')) as DiagGaussian;
    assert.deepEqual(Array.from(p0.mu.dataSync()), new Array(6).fill(0));
    assert.deepEqual(Array.from(p0.logVar.dataSync()), new Array(6).fill(0));
    // the elbo's KL is KL(q(z|x,y) ‖ p(z|y)) for each example's own class
    const x = binaryRows(4, 24, 4);
    const y = tf.tensor1d([0, 1, 2, 1], 'int32');
    const w = m.networks().prior.layers[1];
    w.setWeights([tf.tensor2d(new Rng(5).fillNormal(new Float32Array(4 * 6)), [4, 6])]);
    const terms = elbo(m, x, { rng: new Rng(6), y });
    const want = m.encode(x, y).kl(m.prior(4, y) as DiagGaussian);
    assert.ok(maxAbsDiff(terms.kl.dataSync(), want.dataSync()) < 1e-5);
    const p = m.prior(3, tf.tensor1d([1, 2, 1], 'int32')) as DiagGaussian;
    const mu = p.mu.arraySync() as number[][];
    assert.deepEqual(mu[0], mu[2], 'same class, same prior');
    assert.notDeepEqual(mu[0], mu[1]);
    // gradients reach the per-class prior parameters of the classes in the batch only
    const params = m.namedParameters();
    const name = Object.keys(params).find((k) => k.startsWith('prior.'))!;
    assert.ok(name, `a prior parameter among ${Object.keys(params)}`);
    const { grads } = tf.variableGrads(
      () => tf.mean(elbo(m, x, { rng: new Rng(6), y }).total) as tf.Scalar,
      [params[name]],
    );
    const g = grads[params[name].name].arraySync() as number[][]; // [K, 2d]
    assert.ok(g[0].some((v) => v !== 0) && g[1].some((v) => v !== 0) && g[2].some((v) => v !== 0));
    assert.ok(
      g[3].every((v) => v === 0),
      'class 3 is not in the batch',
    );
    m.dispose();
  });

  it('the IWAE bound given y: k = 1 is the Monte Carlo ELBO, and the bound grows with k', () => {
    const m = new CVAE(cfg({ prior: 'learned' }), new Rng(4));
    const x = binaryRows(3, 24, 5);
    const y = tf.tensor1d([3, 0, 2], 'int32');
    const s = new Rng(8).getState();
    const lw1 = logImportanceWeights(m, x, 1, Rng.fromState(s), undefined, y).dataSync();
    const q = m.encode(x, y);
    const z = q.sample(Rng.fromState(s));
    const mc = tf.sub(tf.add(m.decode(z, y).logProb(x), m.prior(3, y).logProb(z)), q.logProb(z)).dataSync();
    for (let b = 0; b < 3; b++) assert.ok(Math.abs(lw1[b] - mc[b]) < 1e-4, `${lw1[b]} vs ${mc[b]}`);
    const bound = (k: number) =>
      -tf
        .mean(
          iwae(m, tf.tile(x, [100, 1]) as tf.Tensor2D, { k, rng: new Rng(k), y: tf.tile(y, [100]) as tf.Tensor1D })
            .total,
        )
        .dataSync()[0];
    assert.ok(bound(1) < bound(20), `L_1 ${bound(1)} vs L_20 ${bound(20)}`);
    m.dispose();
  });

  for (const variant of [
    { labelEncoding: 'onehot', prior: 'learned' },
    {
      labelEncoding: 'embedding',
      embeddingDim: 3,
      prior: 'standard',
      network: { type: 'conv', channels: [4], kernel: 3, stride: 2, dense: [8] },
    },
  ] as Partial<CvaeConfig>[]) {
    it(`save → load → identical outputs, and the browser networks take [x, onehot(y)] (${variant.labelEncoding}, ${variant.prior} prior${variant.network ? ', conv' : ''})`, async () => {
      const m = createModel(cfg({ ...variant, likelihood: 'gaussian', sigma: 'learned' }), new Rng(9));
      // move every parameter off its initial value, so loading has something to restore
      for (const v of Object.values(m.namedParameters()))
        v.assign(tf.add(v, tf.tensor(new Rng(v.size).fillNormal(new Float32Array(v.size)), v.shape)));
      const dir = mkdtempSync(path.join(tmpdir(), 'vaekit-cvae-'));
      dirs.push(dir);
      await saveModel(dir, m, { dataset: 'toy', protocol: 'continuous', shape: [6, 4, 1], numClasses: 4 });
      const { model: back, meta } = await loadModel(dir);
      assert.equal(meta.config.kind, 'cvae');
      assert.equal(back.numClasses, 4);
      const x = tf.tensor2d(new Rng(10).fillUniform(new Float32Array(5 * 24)), [5, 24]);
      const y = tf.tensor1d([0, 3, 1, 2, 3], 'int32');
      const out = (mm: typeof m) =>
        tf.tidy(() =>
          [
            elbo(mm, x, { rng: new Rng(11), y }).total,
            latentPoint(mm.encode(x, y)),
            mm.prior(5, y).sample(new Rng(12)),
          ].map((t) => Array.from(t.dataSync())),
        );
      assert.deepEqual(out(back), out(m));
      assert.deepEqual(
        generate(back, 4, new Rng(13), { y: [2, 2, 0, 1] }),
        generate(m, 4, new Rng(13), { y: [2, 2, 0, 1] }),
      );
      const onehot = tf.cast(tf.oneHot(y, 4), 'float32');
      for (const net of Object.keys(m.networks())) {
        const browser = await loadBrowserNet(dir, net);
        const inputs = net === 'encoder' ? [x, onehot] : net === 'decoder' ? [tf.randomNormal([5, 3]), onehot] : onehot;
        const want = (m.networks()[net].apply(inputs) as tf.Tensor).dataSync();
        const got = (browser.predict(inputs) as tf.Tensor).dataSync();
        assert.ok(maxAbsDiff(want, got) < 1e-5, `${net}: browser model differs by ${maxAbsDiff(want, got)}`);
        browser.dispose();
      }
      m.dispose();
      back.dispose();
    });
  }

  it('evaluation conditions on the true labels (and needs them)', () => {
    const m = new CVAE(cfg({ prior: 'learned' }), new Rng(14));
    const w = m.networks().prior.layers[1];
    w.setWeights([tf.tensor2d(new Rng(15).fillNormal(new Float32Array(4 * 6)), [4, 6])]);
    const x = binaryRows(20, 24, 16).dataSync() as Float32Array;
    const split: Split = { x, n: 20, shape: [6, 4, 1], y: Int32Array.from({ length: 20 }, (_, i) => i % 4) };
    const e = evaluateElbo(m, split, { rng: new Rng(17), batchSize: 7 });
    // the same as the elbo given the labels, batch by batch
    const want = tf.tidy(
      () =>
        tf
          .mean(elbo(m, tf.tensor2d(x, [20, 24]), { rng: new Rng(17), y: tf.tensor1d(split.y!, 'int32') }).kl)
          .dataSync()[0],
    );
    assert.ok(Math.abs(e.kl - want) < 1e-4, `kl ${e.kl} vs ${want}`);
    const shifted = evaluateElbo(
      m,
      { ...split, y: split.y!.map((v) => (v + 1) % 4) },
      { rng: new Rng(17), batchSize: 7 },
    );
    assert.notEqual(shifted.kl, e.kl, 'other labels, another KL');
    const nll = importanceSampledNll(m, split, { k: 30, rng: new Rng(18), maxRows: 200 });
    assert.ok(Number.isFinite(nll.nll) && nll.nll <= e.total + 1, `NLL ${nll.nll} vs −ELBO ${e.total}`);
    assert.throws(
      () => evaluateElbo(m, { ...split, y: undefined }, { rng: new Rng(1) }),
      /conditioned on labels, and the data have none/,
    );
    m.dispose();
  });

  it(`learns on real labelled images (${HAVE_FMNIST ? 'Fashion-MNIST' : 'MNIST'}, 600 examples): the loss falls and the learned prior moves`, async () => {
    const data = await loadDataset({ name: HAVE_FMNIST ? 'fashion-mnist' : 'mnist', protocol: 'binary', limit: 600 });
    assert.ok(data.train.y);
    const m = createModel(
      cfg({
        inputShape: data.shape,
        latentDim: 8,
        network: { type: 'mlp', hidden: [128] },
        numClasses: data.numClasses ?? 10,
        prior: 'learned',
      }),
      new Rng(19),
    );
    const r = await train(m, data, (mm, x, c) => elbo(mm, x, { rng: c.rng, beta: c.beta, y: c.y }), {
      epochs: 3,
      batchSize: 50,
      seed: 1,
      optimizer: { kind: 'adam', lr: 2e-3 },
      beta: 1,
      progress: 'none',
      dataInfo: { dataset: data.name, protocol: 'binary', shape: data.shape },
      log: () => {},
    });
    const losses = r.metrics.map((e) => e.loss);
    assert.ok(losses[2] < losses[0] - 30, `loss per epoch ${losses.map((l) => l.toFixed(1))}`);
    const prior = m.prior(10, tf.range(0, 10, 1, 'int32') as tf.Tensor1D) as DiagGaussian;
    assert.ok(tf.max(tf.abs(prior.mu)).dataSync()[0] > 1e-3, 'the per-class prior means left 0');
    m.dispose();
  });
});
