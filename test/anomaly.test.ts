// Anomaly scores (src/tasks/anomaly.ts): the estimators' properties on tiny models, every model kind, the
// complexity correction with a stand-in coder, the streaming scorer, and outlier ordering after a short
// training on MNIST.
import { before, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { contextModelBits } from '../src/codec/context-model.js';
import { allRows, loadDataset } from '../src/data/dataset.js';
import { encodeWords } from '../src/data/words.js';
import { createModel, type CvaeConfig, type HvaeConfig, type VaeConfig } from '../src/models/index.js';
import type { HVAE } from '../src/models/hvae.js';
import type { SeqVaeConfig, VqvaeConfig } from '../src/models/index.js';
import { elbo } from '../src/objectives/elbo.js';
import { Rng } from '../src/rng.js';
import {
  calibrate,
  collectScores,
  defaultComplexity,
  detectionMetrics,
  scoreBatch,
  scoreStream,
  selectComplexity,
  type ComplexityFn,
  type Rows,
} from '../src/tasks/anomaly.js';
import { train } from '../src/train/trainer.js';
import { setupBackend } from './helpers.js';

before(setupBackend);

const vaeCfg = (D: number, o: Partial<VaeConfig> = {}): VaeConfig => ({
  kind: 'vae',
  inputShape: [D],
  latentDim: 3,
  network: { type: 'mlp', hidden: [10], activation: 'tanh' },
  likelihood: 'bernoulli',
  ...o,
});

const binaryRows = (n: number, D: number, seed: number, p = 0.4): Rows => {
  const r = new Rng(seed);
  return { x: Float32Array.from({ length: n * D }, () => (r.uniform() < p ? 1 : 0)), n, shape: [D] };
};

const mean = (a: ArrayLike<number>) => Array.from(a).reduce((s, v) => s + v, 0) / a.length;

/** Adaptive order-0 coder over binary pixels (Laplace counts per row): the stand-in for src/codec's. */
const order0Bits: ComplexityFn = (x, n) => {
  const D = x.length / n;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const c = [1, 1];
    let bits = 0;
    for (let j = 0; j < D; j++) {
      const v = x[i * D + j] > 0.5 ? 1 : 0;
      bits -= Math.log2(c[v] / (c[0] + c[1]));
      c[v]++;
    }
    out[i] = bits;
  }
  return out;
};

it('VAE: the IS-NLL with k = 1 equals −ELBO in expectation; k = 64 is lower', async () => {
  const m = createModel(vaeCfg(12), new Rng(1));
  const rows = binaryRows(40, 12, 2);
  const diffs: number[] = [];
  const rng = new Rng(3);
  let negElbo = 0;
  for (let rep = 0; rep < 25; rep++) {
    const s = await scoreBatch(m, rows, { rng, k: 1, batchSize: 16 });
    for (let i = 0; i < rows.n; i++) diffs.push(s.nll[i] - s.negElbo[i]);
    negElbo += mean(s.negElbo) / 25;
    for (let i = 0; i < rows.n; i++) assert.ok(Math.abs(s.negElbo[i] - (s.rec[i] + s.kl[i])) < 1e-4);
  }
  const d = mean(diffs);
  const sd = Math.sqrt(diffs.reduce((a, v) => a + (v - d) ** 2, 0) / (diffs.length - 1));
  const se = sd / Math.sqrt(diffs.length);
  assert.ok(Math.abs(d) < 4 * se + 1e-3, `mean(nll_1 − negElbo) = ${d}, standard error ${se}`);
  const s64 = await scoreBatch(m, rows, { rng, k: 64, maxRows: 500 });
  assert.ok(mean(s64.nll) < negElbo, `NLL_64 ${mean(s64.nll)} vs −ELBO ${negElbo}`);
  m.dispose();
});

it('bad input: shape, values, labels, options', async () => {
  const m = createModel(vaeCfg(4), new Rng(1));
  const rng = new Rng(0);
  await assert.rejects(scoreBatch(m, { x: new Float32Array(6), n: 2, shape: [3] }, { rng }), /shape \[3\].*\[4\]/);
  await assert.rejects(scoreBatch(m, { x: new Float32Array(7), n: 2, shape: [4] }, { rng }), /need 8 values, got 7/);
  const bad = binaryRows(3, 4, 1);
  bad.x[6] = NaN;
  await assert.rejects(scoreBatch(m, bad, { rng }), /row 1, value 2 is NaN/);
  await assert.rejects(scoreBatch(m, binaryRows(2, 4, 1), { rng, k: 0 }), /k must be a positive integer/);
  const wrong: ComplexityFn = () => [1];
  await assert.rejects(scoreBatch(m, binaryRows(2, 4, 1), { rng, complexity: wrong }), /1 lengths for 2 rows/);
  m.dispose();
});

it('CVAE: given labels, and the marginal over labels between the best joint and the best conditional', async () => {
  const cfg: CvaeConfig = {
    ...vaeCfg(10),
    kind: 'cvae',
    numClasses: 3,
    labelEncoding: 'onehot',
    prior: 'standard',
  };
  const m = createModel(cfg, new Rng(4));
  const rows = binaryRows(20, 10, 5);
  const s = await scoreBatch(m, rows, { rng: new Rng(6), k: 32 });
  assert.ok(s.labelNll && s.label);
  const K = 3;
  for (let i = 0; i < rows.n; i++) {
    const ll = [0, 1, 2].map((c) => -s.labelNll![i * K + c]);
    const best = Math.max(...ll);
    // max_y p(y) p(x|y) ≤ Σ_y p(y) p(x|y) ≤ max_y p(x|y)
    assert.ok(-s.nll[i] >= best - Math.log(K) - 1e-9, `row ${i}: ${-s.nll[i]} < ${best} − log 3`);
    assert.ok(-s.nll[i] <= best + 1e-9, `row ${i}: ${-s.nll[i]} > ${best}`);
    assert.equal(ll[s.label[i]], best);
  }
  // The per-label NLL estimates what scoring with that label gives.
  const y = new Int32Array(rows.n).fill(1);
  const g = await scoreBatch(m, { ...rows, y }, { rng: new Rng(7), k: 32 });
  assert.equal(g.labelNll, undefined);
  const col1 = Array.from({ length: rows.n }, (_, i) => s.labelNll![i * K + 1]);
  assert.ok(Math.abs(mean(g.nll) - mean(col1)) < 0.1, `given ${mean(g.nll)} vs per-label ${mean(col1)}`);
  await assert.rejects(scoreBatch(m, rows, { rng: new Rng(0), labels: 'given' }), /conditioned on labels/);
  await assert.rejects(
    scoreBatch(m, { ...rows, y: new Int32Array(rows.n).fill(3) }, { rng: new Rng(0) }),
    /label 3 of row 0 is out of range/,
  );
  m.dispose();
});

const hvaeCfg: HvaeConfig = {
  kind: 'hvae',
  inputShape: [8],
  latentDims: [3, 2],
  latentDim: 5,
  layerHidden: [6],
  network: { type: 'mlp', hidden: [7], activation: 'tanh' },
  likelihood: 'bernoulli',
};

it('HVAE: samplePriorBelow takes the bottom layers from the conditional prior, the top ones from q', () => {
  const m = createModel({ ...hvaeCfg, latentDims: [3, 2, 2], latentDim: 7 }, new Rng(8)) as HVAE;
  tf.tidy(() => {
    const x = tf.tensor2d(binaryRows(4, 8, 9).x, [4, 8]);
    const q = m.encode(x);
    const { z, kl } = q.samplePriorBelow(2, new Rng(10), 'mean');
    assert.equal(kl.length, 1, 'one KL term: the top layer');
    const [z1, z2, z3] = tf.split(z, [3, 2, 2], 1) as tf.Tensor2D[];
    // z_3 ~ q(z_3 | x) = q̂_3; z_2 = μ_p(z_3), z_1 = μ_p(z_2)
    assert.deepEqual(z3.shape, [4, 2]);
    assert.ok(tf.max(tf.abs(tf.sub(z2, m.conditionalPrior(1, z3).mu))).dataSync()[0] < 1e-6);
    assert.ok(tf.max(tf.abs(tf.sub(z1, m.conditionalPrior(0, z2).mu))).dataSync()[0] < 1e-6);
    assert.ok(tf.max(tf.abs(tf.sub(kl[0], q.bottomUp[2].klStdNormal()))).dataSync()[0] < 1e-6);
  });
  assert.throws(() => tf.tidy(() => m.encode(tf.zeros([1, 8])).samplePriorBelow(3, new Rng(0))), /1 … 2/);
  m.dispose();
});

it('HVAE: the likelihood ratio is −L^{>k} − (−ELBO); L^{>k} with sampled bottom layers bounds log p(x)', async () => {
  const m = createModel(hvaeCfg, new Rng(11));
  const rows = binaryRows(30, 8, 12);
  const s = await scoreBatch(m, rows, { rng: new Rng(13), k: 1 });
  assert.ok(s.llr && s.negElboPriorBelow);
  for (let i = 0; i < rows.n; i++) assert.ok(Math.abs(s.llr[i] - (s.negElboPriorBelow[i] - s.negElbo[i])) < 1e-9);
  const reps: number[] = [];
  const rng = new Rng(14);
  for (let r = 0; r < 20; r++)
    reps.push(mean((await scoreBatch(m, rows, { rng, k: 1, llrBottom: 'sample' })).negElboPriorBelow!));
  const tight = await scoreBatch(m, rows, { rng, k: 500, maxRows: 5000 });
  assert.ok(mean(reps) > mean(tight.nll), `−L^{>1} ${mean(reps)} vs NLL_500 ${mean(tight.nll)}`);
  await assert.rejects(scoreBatch(m, rows, { rng, llrLayers: 2 }), /llrLayers must be an integer in 1 … 1/);
  m.dispose();
});

it('sequence VAE (words): −ELBO = rec + KL per word, the IS-NLL tighter than it', async () => {
  const cfg: SeqVaeConfig = {
    kind: 'seqvae',
    inputShape: [6, 27],
    latentDim: 3,
    likelihood: 'categorical',
    vocabulary: 'abcdefghijklmnopqrstuvwxyz',
    network: { type: 'rnn', cell: 'gru', hidden: 8, embedding: 4, bidirectional: true },
  };
  const m = createModel(cfg, new Rng(25));
  const words = ['cat', 'dog', 'horse', 'ox', 'zebra', 'emu', 'yak', 'gnu'];
  const rows: Rows = { x: encodeWords(words, 6), n: words.length, shape: [6, 27] };
  const rng = new Rng(26);
  const s = await scoreBatch(m, rows, { rng, k: 1 });
  for (let i = 0; i < rows.n; i++) assert.ok(Math.abs(s.negElbo[i] - (s.rec[i] + s.kl[i])) < 1e-4);
  // an untrained decoder spreads p(x_t | ·) over 27 tokens: rec ≈ (letters + end) · log 27
  assert.ok(Math.abs(s.rec[0] - 4 * Math.log(27)) < 1.5, `rec of 'cat' ${s.rec[0]}`);
  let negElbo = 0;
  for (let r = 0; r < 10; r++) negElbo += mean((await scoreBatch(m, rows, { rng, k: 1 })).negElbo) / 10;
  const s32 = await scoreBatch(m, rows, { rng, k: 32 });
  assert.ok(mean(s32.nll) < negElbo, `NLL_32 ${mean(s32.nll)} vs −ELBO ${negElbo}`);
  await assert.rejects(scoreBatch(m, { ...rows, shape: [27, 6] }, { rng }), /shape \[27,6\].*\[6,27\]/);
  m.dispose();
});

const vqCfg: VqvaeConfig = {
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
};

it('VQ-VAE: nll = −log p(x | k(x)) − log p(k(x)); the uniform prior gives M log K', async () => {
  const m = createModel(vqCfg, new Rng(15));
  const r = new Rng(16);
  const rows: Rows = { x: Float32Array.from({ length: 60 }, () => r.normal()), n: 10, shape: [6] };
  const s = await scoreBatch(m, rows, { rng: new Rng(0), k: 50 });
  assert.equal(s.k, 1);
  for (let i = 0; i < rows.n; i++) {
    assert.ok(Math.abs(s.kl[i] - 2 * Math.log(4)) < 1e-5, `prior ${s.kl[i]}`);
    assert.equal(s.nll[i], s.rec[i] + s.kl[i]);
    assert.equal(s.negElbo[i], s.nll[i]);
  }
  // the decoder's term against a direct computation
  const rec = tf.tidy(() => {
    const x = tf.tensor2d(rows.x, [10, 6]);
    const vq = m as unknown as { encodeIndices(x: tf.Tensor2D): tf.Tensor2D };
    return tf.neg(m.decode(vq.encodeIndices(x)).logProb(x)).dataSync();
  });
  for (let i = 0; i < rows.n; i++) assert.ok(Math.abs(rec[i] - s.rec[i]) < 1e-5);
  m.dispose();
});

it('complexity correction: S(x) = NLL in bits − L(x), with an adaptive order-0 stand-in coder', async () => {
  const m = createModel(vaeCfg(16), new Rng(17));
  const rows = binaryRows(12, 16, 18);
  const s = await scoreBatch(m, rows, { rng: new Rng(19), k: 4, complexity: order0Bits });
  const L = order0Bits(rows.x, rows.n, rows.shape) as Float64Array;
  for (let i = 0; i < rows.n; i++) {
    assert.equal(s.complexityBits![i], L[i]);
    assert.ok(Math.abs(s.corrected![i] - (s.nll[i] / Math.LN2 - L[i])) < 1e-9);
  }
  // the stand-in: an all-zero row is cheap, a balanced one costs about 1 bit per pixel
  const z = (order0Bits(new Float32Array(16), 1, [16]) as Float64Array)[0];
  assert.ok(z < 5, `${z} bits`);
  m.dispose();
});

it('the default complexity coder of an image model is the context-model coder (1 bit, or 8 bits for a Gaussian)', async () => {
  const m = createModel(vaeCfg(16, { inputShape: [4, 4, 1] }), new Rng(30));
  const rows = { ...binaryRows(5, 16, 31), shape: [4, 4, 1] };
  const s = await scoreBatch(m, rows, { rng: new Rng(32) });
  assert.deepEqual(Array.from(s.complexityBits!), Array.from(contextModelBits(rows.x, 5, [4, 4, 1], { bits: 1 })));
  for (let i = 0; i < 5; i++)
    assert.ok(Math.abs(s.corrected![i] - (s.nll[i] / Math.LN2 - s.complexityBits![i])) < 1e-9);
  assert.equal((await scoreBatch(m, rows, { rng: new Rng(32), complexity: null })).corrected, undefined);
  m.dispose();
  const g = createModel(vaeCfg(16, { inputShape: [4, 4, 1], likelihood: 'gaussian', sigma: 1 }), new Rng(33));
  const r = new Rng(34);
  const cont = { x: Float32Array.from({ length: 5 * 16 }, () => r.uniform()), n: 5, shape: [4, 4, 1] };
  const sg = await scoreBatch(g, cont, { rng: new Rng(35) });
  assert.deepEqual(Array.from(sg.complexityBits!), Array.from(contextModelBits(cont.x, 5, [4, 4, 1], { bits: 8 })));
  assert.equal(defaultComplexity(createModel(vaeCfg(16), new Rng(36))), undefined); // flat rows: no image coder
  g.dispose();
});

it('selectComplexity: the coder of the shortest code on held-out rows, used as the complexity of the scores', async () => {
  const m = createModel(vaeCfg(64, { inputShape: [8, 8, 1] }), new Rng(40));
  // rows of vertical stripes: a context with the N neighbour codes them shorter than none
  const x = Float32Array.from({ length: 3 * 64 }, (_, i) => ((i % 8) % 3 === 0 ? 1 : 0));
  const rows = { x, n: 3, shape: [8, 8, 1] };
  const cands = [{ neighbours: 0 }, { neighbours: 2 }];
  const s = selectComplexity(m, rows, cands)!;
  assert.deepEqual(s.selection.options, { neighbours: 2 });
  assert.deepEqual(
    Array.from(await s.complexity(x, 3, [8, 8, 1])),
    Array.from(contextModelBits(x, 3, [8, 8, 1], { bits: 1, neighbours: 2 })),
  );
  assert.throws(() => selectComplexity(m, { ...rows, shape: [64] }, cands), /rows of shape \[64\]/);
  assert.equal(selectComplexity(createModel(vaeCfg(16), new Rng(41)), binaryRows(2, 16, 42)), undefined);
  m.dispose();
});

it('scoreStream: one result per row in order over an async iterator of batches; flags and p-values', async () => {
  const m = createModel(vqCfg, new Rng(20));
  const r = new Rng(21);
  const all: Rows = { x: Float32Array.from({ length: 35 * 6 }, () => r.normal()), n: 35, shape: [6] };
  async function* batches() {
    for (let s = 0; s < 35; s += 7) yield { x: all.x.slice(s * 6, (s + 7) * 6), n: 7, shape: [6] };
  }
  const whole = await scoreBatch(m, all, { rng: new Rng(0) });
  const progress: number[] = [];
  const sorted = Float64Array.from(whole.nll).sort();
  const threshold = sorted[30];
  const out = [];
  for await (const row of scoreStream(m, batches(), {
    rng: new Rng(0),
    threshold: { score: 'nll', value: threshold },
    reference: { score: 'nll', sorted },
    onProgress: (n) => progress.push(n),
  }))
    out.push(row);
  assert.deepEqual(
    out.map((o) => o.index),
    Array.from({ length: 35 }, (_, i) => i),
  );
  assert.deepEqual(progress, [7, 14, 21, 28, 35]);
  out.forEach((o, i) => {
    assert.equal(o.nll, whole.nll[i]);
    assert.equal(o.flagged, whole.nll[i] > threshold);
    assert.equal(o.pValue, sorted.filter((v) => v >= whole.nll[i]).length / 35);
  });
  assert.equal(out.filter((o) => o.flagged).length, 4);
  // a sync iterable works too, and a missing score is a clear error
  const sync = await collectScores(scoreStream(m, [all], { rng: new Rng(0) }), 'nll');
  assert.deepEqual(Array.from(sync), Array.from(whole.nll));
  await assert.rejects(collectScores(scoreStream(m, [all], { rng: new Rng(0) }), 'llr'), /hierarchical VAE only/);
  await assert.rejects(collectScores(scoreStream(m, [all], { rng: new Rng(0) }), 'corrected'), /complexity coder/);
  m.dispose();
});

it('after a short training on MNIST, noise images score far above test digits; calibration at an FPR', async () => {
  const data = await loadDataset({ name: 'mnist', protocol: 'binary', limit: 600 });
  const m = createModel(
    vaeCfg(784, { inputShape: data.shape, latentDim: 8, network: { type: 'mlp', hidden: [64] } }),
    new Rng(22),
  );
  await train(m, data, (mm, x, c) => elbo(mm, x, { rng: c.rng, beta: c.beta }), {
    epochs: 2,
    batchSize: 50,
    seed: 1,
    optimizer: { kind: 'adam', lr: 2e-3 },
    beta: 1,
    progress: 'none',
    dataInfo: { dataset: data.name, protocol: 'binary', shape: data.shape },
    log: () => {},
  });
  const nTest = data.test.n; // 100
  const normal: Rows = { x: allRows(data.test), n: nTest, shape: data.shape };
  const noise = binaryRows(50, 784, 23, 0.5);
  noise.shape = data.shape;
  const opts = { rng: new Rng(24), k: 8, complexity: order0Bits };
  const a = await scoreBatch(m, normal, opts);
  const b = await scoreBatch(m, noise, opts);
  for (const name of ['negElbo', 'nll', 'corrected'] as const) {
    const d = detectionMetrics(a[name]!, b[name]!);
    assert.equal(d.auroc, 1, `${name}: AUROC ${d.auroc}`);
    assert.equal(d.fprAt95Tpr, 0);
  }
  // threshold on the first 60 test digits at FPR 0.05, checked on the other 40 and on the noise
  const cal = calibrate(a.nll.subarray(0, 60), 'nll', 0.05);
  assert.equal(cal.falsePositives, 3);
  assert.ok(cal.achievedFpr <= 0.05);
  assert.ok(b.nll.every((v) => v > cal.threshold));
  assert.throws(() => calibrate(a.nll.subarray(0, 60), 'nll', 0.01), /needs at least 100 normal scores, got 60/);
  m.dispose();
});
