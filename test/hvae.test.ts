// The hierarchical VAE (src/models/hvae.ts): top-down inference over z_1 … z_L, per-layer KL terms in
// the ELBO, the IWAE bound over the tuple of layers, gradients, save/load, and learning on real images.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { loadDataset, type Split } from '../src/data/dataset.js';
import { evaluateElbo, importanceSampledNll } from '../src/eval/likelihood.js';
import { loadModel, saveModel } from '../src/io/model.js';
import { HVAE, HierarchicalPosterior, HierarchicalPrior } from '../src/models/hvae.js';
import { createModel, latentPoint, type HvaeConfig } from '../src/models/index.js';
import { elbo } from '../src/objectives/elbo.js';
import { logImportanceWeights, logMeanExp } from '../src/objectives/iwae.js';
import { Rng } from '../src/rng.js';
import { encode, generate, reconstruct } from '../src/tasks/generate.js';
import { train } from '../src/train/trainer.js';
import { assertFiniteDifference, maxAbsDiff, setupBackend } from './helpers.js';

const HAVE_FMNIST = existsSync('/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz');

function cfg(o: Partial<HvaeConfig> = {}): HvaeConfig {
  const latentDims = o.latentDims ?? [3, 2];
  return {
    kind: 'hvae',
    inputShape: [8],
    latentDims,
    latentDim: latentDims.reduce((a, b) => a + b, 0),
    layerHidden: [6],
    network: { type: 'mlp', hidden: [7], activation: 'tanh' },
    likelihood: 'bernoulli',
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

describe('hierarchical VAE', () => {
  const dirs: string[] = [];
  before(setupBackend);
  after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  it('z is the tuple [z_1, …, z_L]; prior and posterior are distributions over it', () => {
    const m = new HVAE(cfg({ latentDims: [4, 3, 2] }), new Rng(1));
    assert.deepEqual(Object.keys(m.networks()), ['encoder', 'encoder2', 'encoder3', 'prior1', 'prior2', 'decoder']);
    const p = m.prior(5);
    assert.ok(p instanceof HierarchicalPrior);
    const z = p.sample(new Rng(2));
    assert.deepEqual(z.shape, [5, 9]);
    assert.deepEqual(p.logProb(z).shape, [5]);
    const q = m.encode(binaryRows(5, 8, 3));
    assert.ok(q instanceof HierarchicalPosterior);
    assert.deepEqual(q.sample(new Rng(4)).shape, [5, 9]);
    assert.deepEqual(q.mu.shape, [5, 9]);
    assert.deepEqual(q.klStdNormalPerDim().shape, [5, 9]);
    assert.deepEqual(m.decode(z).mean().shape, [5, 8]);
    assert.equal(generate(m, 5, new Rng(5)).length, 40);
    assert.equal(reconstruct(m, binaryRows(2, 8, 6).dataSync() as Float32Array, 2).length, 16);
    assert.equal(encode(m, binaryRows(2, 8, 6).dataSync() as Float32Array, 2).dim, 9);
    assert.throws(() => new HVAE(cfg({ latentDims: [4] }), new Rng(1)), /two or more/);
    assert.throws(() => new HVAE({ ...cfg(), latentDim: 4 }, new Rng(1)), /sum of latentDims/);
    m.dispose();
  });

  it('the ELBO reports per-layer KL terms: kl = Σ kl_l ≥ 0, total = rec + β·kl', () => {
    const m = new HVAE(cfg({ latentDims: [4, 3, 2] }), new Rng(7));
    const x = binaryRows(6, 8, 8);
    for (const [beta, samples] of [
      [1, 1],
      [2.5, 3],
    ]) {
      const t = elbo(m, x, { rng: new Rng(9), beta, samples });
      assert.deepEqual(Object.keys(t).sort(), ['kl', 'kl1', 'kl2', 'kl3', 'rec', 'total']);
      const [tot, rec, kl, k1, k2, k3] = [t.total, t.rec, t.kl, t.kl1, t.kl2, t.kl3].map((v) => v.dataSync());
      for (let b = 0; b < 6; b++) {
        assert.ok(Math.abs(kl[b] - (k1[b] + k2[b] + k3[b])) < 1e-4);
        assert.ok(Math.abs(tot[b] - (rec[b] + beta * kl[b])) < 1e-3);
        assert.ok(k1[b] >= 0 && k2[b] >= 0 && k3[b] >= 0, 'each layer is a KL between Gaussians');
      }
    }
    m.dispose();
  });

  it('Σ_l kl_l is KL(q ‖ p) by the chain rule: its mean matches E_q[log q(z|x) − log p(z)]', () => {
    const m = new HVAE(cfg(), new Rng(10));
    const n = 4000;
    const x = tf.tile(binaryRows(1, 8, 11), [n, 1]) as tf.Tensor2D;
    const q = m.encode(x);
    const z = q.sample(new Rng(12));
    const klSum = tf.addN(q.klTerms(z));
    const mc = tf.sub(q.logProb(z), m.prior(n).logProb(z));
    const [a, b] = [tf.mean(klSum).dataSync()[0], tf.mean(mc).dataSync()[0]];
    const se = Math.sqrt(tf.moments(mc).variance.dataSync()[0] / n);
    assert.ok(Math.abs(a - b) < 4 * se + 1e-3, `Σ kl_l ${a} vs Monte Carlo ${b} (se ${se})`);
    m.dispose();
  });

  it('log w = log p(x|z) + log p(z) − log q(z|x) over the layers, and the ELBO ≤ the IWAE bound', () => {
    const m = new HVAE(cfg(), new Rng(13));
    const x = binaryRows(3, 8, 14);
    const s = new Rng(15).getState();
    const lw1 = logImportanceWeights(m, x, 1, Rng.fromState(s)).dataSync();
    const q = m.encode(x);
    const z = q.sample(Rng.fromState(s));
    const want = tf.sub(tf.add(m.decode(z).logProb(x), m.prior(3).logProb(z)), q.logProb(z)).dataSync();
    for (let b = 0; b < 3; b++) assert.ok(Math.abs(lw1[b] - want[b]) < 1e-4, `${lw1[b]} vs ${want[b]}`);
    const xs = tf.tile(x, [300, 1]) as tf.Tensor2D;
    const elboMean = -tf.mean(elbo(m, xs, { rng: new Rng(16) }).total).dataSync()[0];
    const iw = (k: number) => tf.mean(logMeanExp(logImportanceWeights(m, xs, k, new Rng(17 + k)))).dataSync()[0];
    const [l5, l50] = [iw(5), iw(50)];
    assert.ok(elboMean < l5 && l5 < l50, `ELBO ${elboMean}, L_5 ${l5}, L_50 ${l50}`);
    m.dispose();
  });

  it('gradients of the −ELBO (through the top-down sampling) match finite differences', async () => {
    const m = new HVAE(cfg(), new Rng(18));
    const x = binaryRows(3, 8, 19);
    const eps = new Rng(20).getState();
    const loss = () => tf.sum(elbo(m, x, { rng: Rng.fromState(eps), samples: 2 }).total) as tf.Scalar;
    const params = m.namedParameters();
    const { grads, value } = tf.variableGrads(loss, Object.values(params));
    value.dispose();
    for (const [name, v] of Object.entries(params)) {
      const g = grads[v.name].dataSync();
      assert.ok(
        g.some((a) => a !== 0),
        `${name}: zero gradient`,
      );
      for (const i of [0, v.size - 1]) {
        assertFiniteDifference(v, loss, g, i, name);
      }
    }
    m.dispose();
  });

  it('save → load → identical outputs; the browser networks sample top-down', async () => {
    const config = cfg({
      inputShape: [10, 6, 1],
      latentDims: [4, 2],
      network: { type: 'conv', channels: [4, 8], kernel: 3, stride: 2, dense: [10] },
      likelihood: 'gaussian',
      sigma: 'learned',
    });
    const m = createModel(config, new Rng(21));
    for (const v of Object.values(m.namedParameters()))
      v.assign(tf.add(v, tf.mul(tf.tensor(new Rng(v.size).fillNormal(new Float32Array(v.size)), v.shape), 0.1)));
    const dir = mkdtempSync(path.join(tmpdir(), 'vaekit-hvae-'));
    dirs.push(dir);
    await saveModel(dir, m, { dataset: 'toy', protocol: 'continuous', shape: [10, 6, 1] });
    const { model: back } = await loadModel(dir);
    const x = tf.tensor2d(new Rng(22).fillUniform(new Float32Array(4 * 60)), [4, 60]);
    const out = (mm: typeof m) =>
      tf.tidy(() => {
        const t = elbo(mm, x, { rng: new Rng(23) });
        return [t.total, t.kl1, t.kl2, latentPoint(mm.encode(x)), logImportanceWeights(mm, x, 7, new Rng(24))].map(
          (v) => Array.from(v.dataSync()),
        );
      });
    assert.deepEqual(out(back), out(m));
    assert.deepEqual(generate(back, 3, new Rng(25)), generate(m, 3, new Rng(25)));
    // the browser's path: z_2 ~ N(0, I) → prior1 → z_1 (its mean here) → decoder
    const load = async (net: string) => {
      const json = JSON.parse(readFileSync(path.join(dir, 'tfjs', net, 'model.json'), 'utf8'));
      const bin = readFileSync(path.join(dir, 'tfjs', net, 'weights.bin'));
      return tfl.loadLayersModel(
        tf.io.fromMemory({
          modelTopology: json.modelTopology,
          weightSpecs: json.weightsManifest[0].weights,
          weightData: bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength),
        }),
      );
    };
    const [prior1, decoder] = [await load('prior1'), await load('decoder')];
    const z2 = tf.randomNormal([3, 2]);
    const z1 = tf.slice(prior1.predict(z2) as tf.Tensor, [0, 0], [3, 4]);
    const browser = (decoder.predict(z1) as tf.Tensor).dataSync();
    const want = m
      .decode(tf.concat([z1, z2], 1) as tf.Tensor2D)
      .mean()
      .dataSync();
    assert.ok(maxAbsDiff(browser, want) < 1e-5);
    [m, back, prior1, decoder].forEach((v) => v.dispose());
  });

  it('evaluation: −ELBO with per-layer terms, and the importance-sampled NLL below it', () => {
    const m = new HVAE(cfg(), new Rng(26));
    const split: Split = { x: binaryRows(30, 8, 27).dataSync() as Float32Array, n: 30, shape: [8] };
    const e = evaluateElbo(m, split, { rng: new Rng(28), batchSize: 8 });
    assert.ok(Math.abs(e.kl - (e.kl1 + e.kl2)) < 1e-4, JSON.stringify(e));
    const nll = importanceSampledNll(m, split, { k: 200, rng: new Rng(29), maxRows: 1000 });
    assert.ok(nll.nll < e.total, `NLL ${nll.nll} vs −ELBO ${e.total}`);
    m.dispose();
  });

  it(`learns on real images (${HAVE_FMNIST ? 'Fashion-MNIST' : 'MNIST'}, 600 examples): the loss falls, both layers in use, tensor count flat`, async () => {
    const data = await loadDataset({ name: HAVE_FMNIST ? 'fashion-mnist' : 'mnist', protocol: 'binary', limit: 600 });
    const m = createModel(
      cfg({ inputShape: data.shape, latentDims: [16, 8], layerHidden: [64], network: { type: 'mlp', hidden: [128] } }),
      new Rng(30),
    );
    const r = await train(m, data, (mm, x, c) => elbo(mm, x, { rng: c.rng, beta: c.beta }), {
      epochs: 4,
      batchSize: 50,
      seed: 1,
      optimizer: { kind: 'adam', lr: 2e-3 },
      beta: 1,
      progress: 'none',
      dataInfo: { dataset: data.name, protocol: 'binary', shape: data.shape },
      log: () => {},
      evaluate: (mm) => evaluateElbo(mm, data.test, { rng: new Rng(31) }),
    });
    const losses = r.metrics.map((e) => e.loss);
    assert.ok(losses[3] < losses[0] - 30, `loss per epoch ${losses.map((l) => l.toFixed(1))}`);
    const last = r.metrics[3];
    assert.ok(last.kl1 > 0.5 && last.kl2 > 0.05, `per-layer KL ${last.kl1}, ${last.kl2}`);
    assert.ok(Number.isFinite(last.test_kl2));
    assert.equal(
      new Set(r.metrics.slice(1).map((e) => e.num_tensors)).size,
      1,
      `numTensors ${r.metrics.map((e) => e.num_tensors)}`,
    );
    m.dispose();
  });
});
