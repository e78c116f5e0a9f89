import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { loadDataset, type Dataset } from '../src/data/dataset.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadModel, saveModel } from '../src/io/model.js';
import { loadParametersFromSafetensors, modelFiles, parametersToSafetensors } from '../src/models/files.js';
import { createModel, isCodePosterior, latentPoint } from '../src/models/index.js';
import { reconstruct } from '../src/tasks/generate.js';
import { decodeSafetensors } from '../src/codec/safetensors.js';
import type { LatentVariableModel } from '../src/models/types.js';
import { trainPrior } from '../src/train/fit-prior.js';
import { nearestCodes, squaredDistances, VQVAE } from '../src/models/vqvae.js';
import { type VqvaeConfig } from '../src/models/configs.js';
import { codeUsage, evaluateVq, vqElbo, vqObjective, vqTrainingObjective } from '../src/objectives/vq.js';
import { Rng } from '../src/rng.js';
import { train } from '../src/train/trainer.js';
import { maxAbsDiff, setupBackend } from './helpers.js';

const mlpCfg = (o: Partial<VqvaeConfig> = {}): VqvaeConfig => ({
  kind: 'vqvae',
  inputShape: [6],
  network: { type: 'mlp', hidden: [8] },
  likelihood: 'gaussian',
  sigma: 1,
  codebookSize: 4,
  codeDim: 3,
  numCodes: 2,
  commitment: 0.25,
  prior: null,
  ...o,
});

const rows = (n: number, D: number, seed: number, scale = 1) => {
  const r = new Rng(seed);
  return tf.tensor2d(
    Float32Array.from({ length: n * D }, () => scale * r.normal()),
    [n, D],
  );
};

/** The trainer's view: VQVAE implements the shared interface once ModelConfig/Posterior/Prior know it (see the report). */
const asModel = (m: VQVAE): LatentVariableModel => m;

/** Gradients of f w.r.t. vars as plain arrays (null: no gradient path). */
function gradsOf(f: () => tf.Scalar, vars: tf.Variable[]): (Float32Array | null)[] {
  const { value, grads } = tf.variableGrads(f, vars);
  const out = vars.map((v) => (grads[v.name] ? (grads[v.name].dataSync() as Float32Array).slice() : null));
  tf.dispose(grads);
  value.dispose();
  return out;
}

const allZero = (g: Float32Array | null) => g === null || g.every((v) => v === 0);

describe('VQ-VAE', () => {
  before(setupBackend);

  it('assigns every vector to its nearest code (brute force)', () => {
    const z = rows(300, 8, 1);
    const E = rows(37, 8, 2, 0.7);
    const k = nearestCodes(z, E);
    const dist = squaredDistances(z, E).dataSync();
    const zd = z.dataSync();
    const ed = E.dataSync();
    for (let n = 0; n < 300; n++) {
      let best = 0;
      let bestD = Infinity;
      const d = new Float64Array(37);
      for (let j = 0; j < 37; j++) {
        let s = 0;
        for (let i = 0; i < 8; i++) s += (zd[n * 8 + i] - ed[j * 8 + i]) ** 2;
        d[j] = s;
        if (s < bestD) [best, bestD] = [j, s];
        assert.ok(Math.abs(dist[n * 37 + j] - s) < 1e-4 * (1 + s), `distance ${n},${j}`);
      }
      // float32 may only disagree on a near-tie
      if (k[n] !== best)
        assert.ok(d[k[n]] - bestD < 1e-5 * (1 + bestD), `row ${n}: code ${k[n]} (${d[k[n]]}) vs ${best} (${bestD})`);
    }
    tf.dispose([z, E]);
  });

  it('straight-through: ∂rec/∂z_e = ∂rec/∂z_q, and the codebook gets gradient from the codebook term only', () => {
    const m = new VQVAE(mlpCfg({ codebookSize: 5 }), new Rng(3));
    // spread the codes so that several are used
    m.codebook.assign(rows(5, 3, 4, 0.5));
    const x = rows(7, 6, 5);
    const encVars = Object.entries(m.namedParameters())
      .filter(([k]) => k.startsWith('encoder.'))
      .map(([, v]) => v);
    const term = (name: string) => () =>
      tf.tidy(() => tf.mean(vqObjective(m, x, { rng: new Rng(0), update: false })[name]) as tf.Scalar);

    // the reconstruction's encoder gradient is the decoder's gradient at z_q, passed to z_e unchanged
    const viaObjective = gradsOf(term('rec'), encVars);
    const zq = tf.tidy(() => m.lookup(m.encodeIndices(x)));
    const gq = tf.grad((z: tf.Tensor) => tf.mean(tf.neg(m.decodeLatent(z as tf.Tensor3D).logProb(x))))(zq);
    const viaZq = gradsOf(() => tf.sum(tf.mul(m.encodeContinuous(x), gq)) as tf.Scalar, encVars);
    viaObjective.forEach((g, i) => assert.ok(maxAbsDiff(g!, viaZq[i]!) < 1e-5, `encoder parameter ${i}`));

    // the codebook: nothing from the reconstruction or the commitment term, 2(e_k − z_e) from the codebook term
    const [cbRec] = gradsOf(term('rec'), [m.codebook]);
    const [cbCommit] = gradsOf(term('commitment'), [m.codebook]);
    assert.ok(allZero(cbRec) && allZero(cbCommit));
    const [cb] = gradsOf(term('codebook'), [m.codebook]);
    const zE = m.encodeContinuous(x);
    const k = m.encodeIndices(x).dataSync();
    const z = zE.dataSync();
    const E = m.codebook.dataSync();
    const expected = new Float32Array(5 * 3);
    for (let r = 0; r < k.length; r++)
      for (let d = 0; d < 3; d++) expected[k[r] * 3 + d] += (2 * (E[k[r] * 3 + d] - z[r * 3 + d])) / 7; // mean over the batch of 7
    assert.ok(maxAbsDiff(cb!, expected) < 1e-5);
    // the encoder gets 2β(z_e − e) from the commitment term and nothing from the codebook term
    assert.ok(gradsOf(term('codebook'), encVars).every(allZero));
    const gCommit = tf.tidy(() => tf.mul(tf.sub(zE, m.lookup(m.encodeIndices(x))), (2 * 0.25) / 7));
    const viaCommit = gradsOf(() => tf.sum(tf.mul(m.encodeContinuous(x), gCommit)) as tf.Scalar, encVars);
    gradsOf(term('commitment'), encVars).forEach((g, i) => assert.ok(maxAbsDiff(g!, viaCommit[i]!) < 1e-5));
    tf.dispose([x, zq, gq, zE, gCommit]);
    m.dispose();
  });

  it('EMA update on a case solved by hand (2 codes, Laplace smoothing)', () => {
    const m = new VQVAE(
      mlpCfg({ codebookSize: 2, codeDim: 2, numCodes: 1, ema: { decay: 0.5, epsilon: 0.5 } }),
      new Rng(1),
    );
    assert.equal(m.codebook.trainable, false);
    const e0 = tf.tensor2d([0, 0, 10, 10], [2, 2]);
    m.codebook.assign(e0);
    m.emaW!.assign(e0);
    // five encoder outputs: three near e_0, two near e_1
    const zE = tf.tensor3d([1, 0, 0, 1, 1, 1, 9, 10, 11, 10], [5, 1, 2]);
    const { indices } = m.quantize(zE);
    assert.deepEqual(Array.from(indices.dataSync()), [0, 0, 0, 1, 1]);
    const { counts } = m.updateCodebook(zE, indices, new Rng(0));
    assert.deepEqual(Array.from(counts), [3, 2]);
    // N = γ·1 + (1−γ)·n = [0.5 + 1.5, 0.5 + 1] = [2, 1.5];  m = γ·e + (1−γ)·Σz = [(0,0)/2 + (2,2)/2, (10,10)/2 + (20,20)/2] = [(1,1), (15,15)]
    assert.ok(maxAbsDiff(m.emaClusterSize!.dataSync(), [2, 1.5]) < 1e-6);
    assert.ok(maxAbsDiff(m.emaW!.dataSync(), [1, 1, 15, 15]) < 1e-5);
    // Ñ = (N + ε)/(ΣN + Kε)·ΣN = [2.5, 2]/4.5·3.5;  e = m/Ñ
    const Ns = [(2.5 / 4.5) * 3.5, (2 / 4.5) * 3.5];
    assert.ok(maxAbsDiff(m.codebook.dataSync(), [1 / Ns[0], 1 / Ns[0], 15 / Ns[1], 15 / Ns[1]]) < 1e-5);
    // a second step with one vector at (2, 2): N = [1 + 0.5, 0.75], m = [(1,1)/2 + (1,1), (7.5,7.5)]
    const z2 = tf.tensor3d([2, 2], [1, 1, 2]);
    m.updateCodebook(z2, m.quantize(z2).indices, new Rng(0));
    const n2 = 1.5 + 0.75;
    const Ns2 = [((1.5 + 0.5) / (n2 + 1)) * n2, ((0.75 + 0.5) / (n2 + 1)) * n2];
    assert.ok(maxAbsDiff(m.codebook.dataSync(), [1.5 / Ns2[0], 1.5 / Ns2[0], 7.5 / Ns2[1], 7.5 / Ns2[1]]) < 1e-5);
    // the objective has no codebook term with EMA
    const x = rows(4, 6, 2);
    const t = vqObjective(m, x, { rng: new Rng(0), update: false });
    assert.deepEqual(Object.keys(t).sort(), ['commitment', 'mse', 'perplexity', 'rec', 'total', 'usage']);
    tf.dispose([e0, zE, indices, z2, x, ...Object.values(t)]);
    m.dispose();
  });

  it('restarts codes unused for N steps at encoder outputs of the batch', () => {
    for (const ema of [null, { decay: 0.9, epsilon: 1e-5 }]) {
      const m = new VQVAE(mlpCfg({ codebookSize: 4, codeDim: 2, numCodes: 1, restartAfter: 3, ema }), new Rng(1));
      const E0 = [0, 0, 1, 1, 100, 100, -100, 100];
      m.codebook.assign(tf.tensor2d(E0, [4, 2]));
      m.emaW?.assign(tf.tensor2d(E0, [4, 2]));
      const rng = new Rng(7);
      const zE = tf.tensor3d([0.1, 0, 0, 0.2, 0.9, 1, 1.1, 1.2, 0.2, 0.1, 1, 0.8], [6, 1, 2]);
      for (let step = 1; step <= 3; step++) {
        const { restarted } = m.updateCodebook(zE, m.quantize(zE).indices, rng);
        const unused = Array.from(m.unusedSteps!.dataSync());
        if (step < 3) {
          assert.deepEqual(restarted, []);
          assert.deepEqual(unused, [0, 0, step, step]);
          if (!ema) assert.deepEqual(Array.from(m.codebook.dataSync()), E0);
        } else {
          assert.deepEqual(restarted, [2, 3]);
          assert.deepEqual(unused, [0, 0, 0, 0]);
          const E = m.codebook.dataSync();
          const z = zE.dataSync();
          const rowOf = (k: number) =>
            [...Array(6).keys()].find((r) => E[2 * k] === z[2 * r] && E[2 * k + 1] === z[2 * r + 1]);
          const r2 = rowOf(2);
          const r3 = rowOf(3);
          assert.ok(
            r2 !== undefined && r3 !== undefined && r2 !== r3,
            `restarted codes ${Array.from(E)} are distinct batch rows`,
          );
          if (!ema) assert.deepEqual(Array.from(E.slice(0, 4)), E0.slice(0, 4));
          else {
            assert.deepEqual(Array.from(m.emaClusterSize!.dataSync().slice(2)), [1, 1]);
            assert.deepEqual(Array.from(m.emaW!.dataSync().slice(4)), Array.from(E.slice(4)));
          }
        }
      }
      // the restarted codes are now in use
      const k = m.quantize(zE).indices.dataSync();
      assert.ok(k.includes(2) && k.includes(3));
      zE.dispose();
      m.dispose();
    }
  });

  it('perplexity: K for uniform usage, 1 for a single code, 2^H otherwise', () => {
    assert.equal(codeUsage([5, 5, 5, 5, 5, 5, 5, 5]).perplexity.toFixed(10), (8).toFixed(10));
    assert.deepEqual(codeUsage([0, 9, 0, 0]), { perplexity: 1, usage: 0.25 });
    const u = codeUsage([2, 1, 1, 0]);
    assert.ok(Math.abs(u.perplexity - 2 ** 1.5) < 1e-12);
    assert.equal(u.usage, 0.75);
    // through the objective: a batch that uses every code once
    const m = new VQVAE(mlpCfg({ codebookSize: 4, codeDim: 2, numCodes: 1 }), new Rng(1));
    const zE = tf.tensor3d([0, 0, 1, 1, 2, 2, 3, 3], [4, 1, 2]);
    m.codebook.assign(tf.tensor2d([0, 0, 1, 1, 2, 2, 3, 3], [4, 2]));
    assert.deepEqual(Array.from(m.quantize(zE).indices.dataSync()), [0, 1, 2, 3]);
    assert.equal(
      codeUsage(m.updateCodebook(zE, m.quantize(zE).indices, new Rng(0)).counts).perplexity.toFixed(10),
      (4).toFixed(10),
    );
    zE.dispose();
    m.dispose();
  });

  it('the posterior is a point mass on the code grid; the uniform prior gives KL = M log K', () => {
    const m = new VQVAE(mlpCfg({ codebookSize: 5, numCodes: 3 }), new Rng(2));
    const x = rows(4, 6, 3);
    tf.tidy(() => {
      const q = m.encode(x);
      const z = q.sample();
      assert.deepEqual(z.shape, [4, 15]);
      assert.deepEqual(Array.from(q.logProb(z).dataSync()), [0, 0, 0, 0]);
      const other = tf.tensor2d(
        Int32Array.from(q.indices.dataSync(), (k, i) => (i === 0 ? (k + 1) % 5 : k)),
        [4, 3],
        'int32',
      );
      assert.deepEqual(Array.from(q.logProb(other).dataSync()), [-Infinity, 0, 0, 0]);
      assert.ok(maxAbsDiff(q.kl(m.prior(4)).dataSync(), new Array(4).fill(3 * Math.log(5))) < 1e-5);
      // decode takes the one-hot and the indices alike
      assert.ok(maxAbsDiff(m.decode(z).mean().dataSync(), m.decode(q.indices).mean().dataSync()) < 1e-6);
      const t = vqElbo(m, x);
      assert.ok(maxAbsDiff(t.total.dataSync(), tf.add(t.rec, 3 * Math.log(5)).dataSync()) < 1e-4);
    });
    x.dispose();
    m.dispose();
  });

  it('the PixelCNN prior is causal: p(k_i | k_<i) never sees k_i or later codes', () => {
    const K = 6;
    const m = new VQVAE(
      mlpCfg({
        inputShape: [16, 20, 1],
        network: { type: 'conv', channels: [4, 4], kernel: 3, stride: 2, dense: [] },
        numCodes: undefined,
        codebookSize: K,
        prior: { type: 'pixelcnn', channels: 8, layers: 3 },
      }),
      new Rng(3),
    );
    assert.deepEqual(m.grid, [4, 5]);
    const M = 20;
    const r = new Rng(9);
    const base = Int32Array.from({ length: M }, () => r.int(K));
    const logits = (codes: Int32Array) =>
      tf.tidy(() =>
        m
          .prior(1)
          .logits(tf.tensor2d(codes, [1, M], 'int32'))
          .dataSync(),
      );
    const l0 = logits(base);
    for (const j of [0, 3, 7, 12, 19]) {
      const c = base.slice();
      c[j] = (c[j] + 1) % K;
      const l1 = logits(c);
      for (let i = 0; i <= j; i++)
        assert.ok(
          maxAbsDiff(l0.subarray(i * K, (i + 1) * K), l1.subarray(i * K, (i + 1) * K)) === 0,
          `position ${i} sees code ${j}`,
        );
      // and it does see earlier codes (the receptive field covers the grid above and to the left)
      if (j < M - 1)
        assert.ok(maxAbsDiff(l0.subarray((j + 1) * K), l1.subarray((j + 1) * K)) > 0, `nothing after ${j} sees it`);
    }
    m.dispose();
  });

  it('save → load (safetensors names, codebook, EMA state, prior; tfjs networks) gives identical outputs', async () => {
    const cfg = mlpCfg({
      inputShape: [8, 8, 1],
      network: { type: 'conv', channels: [6, 8], kernel: 3, stride: 2, dense: [10] },
      numCodes: undefined,
      codebookSize: 7,
      codeDim: 4,
      ema: { decay: 0.9, epsilon: 1e-5 },
      restartAfter: 2,
      prior: { type: 'pixelcnn', channels: 8, layers: 2 },
    });
    const a = new VQVAE(cfg, new Rng(1));
    const x = tf.tidy(() => tf.sigmoid(rows(16, 64, 2)) as tf.Tensor2D);
    // a few steps so that the EMA state and the restart counters are not their initial values
    for (let i = 0; i < 3; i++) tf.dispose(vqObjective(a, x, { rng: new Rng(i) }));
    const buf = parametersToSafetensors(asModel(a));
    const { tensors } = decodeSafetensors(buf);
    assert.deepEqual(tensors['quantizer.embedding'].shape, [7, 4]);
    assert.deepEqual(tensors['quantizer.ema_cluster_size'].shape, [7]);
    assert.deepEqual(tensors['quantizer.ema_w'].shape, [7, 4]);
    assert.deepEqual(tensors['quantizer.unused_steps'].shape, [7]);
    assert.deepEqual(tensors['encoder.layers.2.weight'].shape, [6, 1, 3, 3]); // Conv2d [out, in, kh, kw]
    assert.ok(Object.keys(tensors).some((k) => k.startsWith('prior.layers.')));
    const b = new VQVAE(cfg, new Rng(99));
    loadParametersFromSafetensors(asModel(b), buf, 'test');
    for (const [k, v] of Object.entries(a.namedParameters()))
      assert.deepEqual(b.namedParameters()[k].dataSync(), v.dataSync(), k);
    tf.tidy(() => {
      assert.deepEqual(b.encodeIndices(x).dataSync(), a.encodeIndices(x).dataSync());
      assert.deepEqual(b.decode(a.encodeIndices(x)).mean().dataSync(), a.decode(a.encodeIndices(x)).mean().dataSync());
      const k = a.encodeIndices(x);
      assert.deepEqual(b.prior(16).logits(k).dataSync(), a.prior(16).logits(k).dataSync());
      assert.deepEqual(b.sample(3, new Rng(5)).dataSync(), a.sample(3, new Rng(5)).dataSync());
    });
    // the browser's networks (tfjs layers format) give the same outputs
    const files = await modelFiles(asModel(a), { dataset: 'toy', protocol: 'continuous', shape: [8, 8, 1] });
    for (const net of ['encoder', 'decoder', 'prior'] as const) {
      const json = JSON.parse(files[`tfjs/${net}/model.json`] as string);
      const bin = files[`tfjs/${net}/weights.bin`] as Uint8Array;
      const loaded = await tfl.loadLayersModel(
        tf.io.fromMemory({
          modelTopology: json.modelTopology,
          weightSpecs: json.weightsManifest[0].weights,
          weightData: bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength),
        }),
      );
      const input =
        net === 'encoder'
          ? x
          : net === 'decoder'
            ? tf.reshape(a.lookup(a.encodeIndices(x)), [16, -1])
            : tf.reshape(tf.oneHot(tf.reshape(a.encodeIndices(x), [-1]) as tf.Tensor1D, 7), [16, -1]);
      const want = a.networks()[net].predict(input) as tf.Tensor;
      const got = loaded.predict(input) as tf.Tensor;
      assert.ok(maxAbsDiff(want.dataSync(), got.dataSync()) < 1e-6, net);
      tf.dispose([want, got]);
      loaded.dispose();
    }
    x.dispose();
    a.dispose();
    b.dispose();
  });

  it("createModel('vqvae') → saveModel → loadModel: the same model, prior included (encode, decode, prior, samples)", async () => {
    const cfg = mlpCfg({
      inputShape: [12, 12, 1],
      network: { type: 'conv', channels: [4, 6], kernel: 4, stride: 2, dense: [] },
      numCodes: undefined,
      codebookSize: 9,
      codeDim: 3,
      prior: { type: 'pixelcnn', channels: 8, layers: 2 },
    });
    const a = createModel(cfg, new Rng(4));
    assert.ok(a instanceof VQVAE);
    const x = tf.tidy(() => tf.sigmoid(rows(10, 144, 5)) as tf.Tensor2D);
    // move every parameter away from its initial value: VQ-VAE steps, then the prior's own fit on the codes
    const data: Dataset = {
      name: 'toy',
      protocol: 'continuous',
      shape: [12, 12, 1],
      train: { x: x.dataSync() as Float32Array, n: 10, shape: [12, 12, 1] },
      test: { x: x.dataSync() as Float32Array, n: 10, shape: [12, 12, 1] },
    } as unknown as Dataset;
    await train(a, data, vqTrainingObjective, {
      epochs: 2,
      batchSize: 5,
      seed: 1,
      optimizer: { kind: 'adam', lr: 1e-2 },
      beta: 1,
      progress: 'none',
      log: () => {},
      dataInfo: { dataset: 'toy', protocol: 'continuous', shape: [12, 12, 1] },
    });
    if (tf.getKernel('Conv2DBackpropFilter', tf.getBackend()))
      await trainPrior(a, data, { epochs: 1, batchSize: 5, seed: 2, progress: 'none', log: () => {} });
    const dir = mkdtempSync(path.join(tmpdir(), 'vaekit-vq-'));
    try {
      await saveModel(
        path.join(dir, 'm'),
        a,
        { dataset: 'toy', protocol: 'continuous', shape: [12, 12, 1] },
        { prior: { epochs: 1 } },
      );
      const { model: b, meta } = await loadModel(path.join(dir, 'm'));
      assert.equal(meta.config.kind, 'vqvae');
      assert.deepEqual((meta.training as { prior: unknown }).prior, { epochs: 1 });
      assert.ok(b instanceof VQVAE);
      assert.deepEqual(b.grid, [3, 3]);
      const out = (m: VQVAE) =>
        tf.tidy(() => {
          const q = m.encode(x);
          assert.ok(isCodePosterior(q));
          const k = q.indices;
          return [
            k,
            m.decode(k).mean(),
            latentPoint(q),
            m.prior(10).logits(k),
            m.prior(10).logProb(k),
            m.sample(4, new Rng(6)),
            m.codebook,
          ].map((t) => Array.from(t.dataSync()));
        });
      assert.deepEqual(out(b), out(a));
      assert.deepEqual(
        reconstruct(b, x.dataSync() as Float32Array, 10),
        reconstruct(a, x.dataSync() as Float32Array, 10),
      );
      b.dispose();
    } finally {
      rmSync(dir, { recursive: true, force: true });
      x.dispose();
      a.dispose();
    }
  });

  describe('on Fashion-MNIST (continuous, 512 images)', () => {
    let data: Dataset;
    let model: VQVAE;
    before(async () => {
      data = await loadDataset({ name: 'fashion-mnist', protocol: 'continuous', limit: 512 });
      model = new VQVAE(
        {
          kind: 'vqvae',
          inputShape: [28, 28, 1],
          network: { type: 'mlp', hidden: [256] },
          likelihood: 'gaussian',
          sigma: 0.1,
          codebookSize: 32,
          codeDim: 8,
          numCodes: 8,
          commitment: 0.25,
          ema: { decay: 0.99, epsilon: 1e-5 },
          restartAfter: 20,
          prior: { type: 'pixelcnn', channels: 16, layers: 3 },
        },
        new Rng(1),
      );
    });

    it('trains: the loss falls, codes stay in use, tensors stay flat', async () => {
      const before = evaluateVq(model, data.test);
      const { metrics } = await train(asModel(model), data, vqTrainingObjective, {
        epochs: 4,
        batchSize: 64,
        seed: 3,
        optimizer: { kind: 'adam', lr: 2e-3 },
        beta: 1,
        progress: 'none',
        log: () => {},
        dataInfo: { dataset: 'fashion-mnist', protocol: 'continuous', shape: [28, 28, 1] },
      });
      const loss = metrics.map((m) => m.loss);
      assert.ok(loss[3] < 0.7 * loss[0], `loss per epoch ${loss}`);
      for (const m of metrics)
        for (const k of ['rec', 'commitment', 'perplexity', 'usage', 'restarts', 'mse'])
          assert.ok(Number.isFinite(m[k]), k);
      assert.ok(metrics[3].perplexity > 4, `perplexity ${metrics[3].perplexity}`);
      assert.equal(metrics[3].num_tensors, metrics[2].num_tensors);
      const after = evaluateVq(model, data.test);
      assert.ok(after.mse < before.mse && after.psnr > before.psnr, `test MSE ${before.mse} → ${after.mse}`);
    });

    const convGrads = () => !!tf.getKernel('Conv2DBackpropFilter', tf.getBackend());
    it('the prior learns the codes, and samples decode from valid code grids', async (t) => {
      if (!convGrads()) {
        await assert.rejects(trainPrior(model, data, { epochs: 1, batchSize: 64, seed: 4 }), /convolution gradients/);
        model.dispose();
        return t.skip(`the ${tf.getBackend()} backend has no convolution gradients`);
      }
      const base = evaluateVq(model, data.test);
      const { metrics } = await trainPrior(model, data, {
        epochs: 3,
        batchSize: 64,
        seed: 4,
        progress: 'none',
        log: () => {},
        optimizer: { kind: 'adam', lr: 3e-3 },
      });
      assert.ok(metrics[2].loss < metrics[0].loss, `prior NLL per epoch ${metrics.map((m) => m.loss)}`);
      assert.ok(
        metrics[2].test_loss < 8 * Math.log(32),
        `test −log p(k) ${metrics[2].test_loss} vs uniform ${8 * Math.log(32)}`,
      );
      const after = evaluateVq(model, data.test);
      assert.ok(after.bound < base.bound, 'the learned prior tightens the bound');
      const rng = new Rng(11);
      const k = model.prior(5).sampleIndices(rng);
      assert.deepEqual(k.shape, [5, 8]);
      assert.equal(k.dtype, 'int32');
      assert.ok(Array.from(k.dataSync()).every((v) => Number.isInteger(v) && v >= 0 && v < 32));
      const s = model.sample(5, rng);
      assert.deepEqual(s.shape, [5, 784]);
      assert.ok(s.dataSync().every(Number.isFinite));
      tf.dispose([k, s]);
      model.dispose();
    });
  });
});
