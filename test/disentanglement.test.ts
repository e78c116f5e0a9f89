import { it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { DSPRITES_FACTOR_SIZES, dspritesGroundTruth } from '../src/data/dsprites.js';
import {
  betaVaeScore,
  dciCompleteness,
  dciDisentanglement,
  dciScore,
  discreteEntropy,
  discreteMutualInfo,
  evaluateDisentanglement,
  factorGroundTruth,
  factorVaeScore,
  fitGradientBoosting,
  fitLinearSvc1d,
  fitLogisticRegression,
  histogramDiscretize,
  migScore,
  representationFromModel,
  sapScore,
  type Representation,
} from '../src/eval/disentanglement/index.js';
import { latentTraversal, traversalOrder } from '../src/eval/traversal.js';
import { traversalGif, traversalGrid } from '../src/io/traversal.js';
import { createModel, latentPoint } from '../src/models/index.js';
import { Rng } from '../src/rng.js';
import { setupBackend } from './helpers.js';

// ---------------------------------------------------------------------------------------------------
// The classifiers against scikit-learn 1.2.1 (values computed there on the same data).

function referenceData() {
  const r = new Rng(7);
  const n = 400;
  const d = 3;
  const x = Float32Array.from({ length: n * d }, () => r.normal());
  const yMulti = Int32Array.from({ length: n }, (_, i) => {
    const s = x[i * d] + 0.5 * x[i * d + 1] * x[i * d + 1] + 0.3 * r.normal();
    return s < -0.5 ? 0 : s < 0.5 ? 1 : s < 1.5 ? 2 : 3;
  });
  const yBin = Int32Array.from({ length: n }, (_, i) => (x[i * d + 2] * x[i * d] + 0.2 * r.normal() > 0 ? 5 : 2));
  const x1 = Float32Array.from({ length: n }, () => r.normal() * 2 + 1);
  const y1 = Int32Array.from({ length: n }, (_, i) =>
    Math.max(0, Math.min(4, Math.floor(x1[i] + 0.5 * r.normal() + 1))),
  );
  const y1b = Int32Array.from({ length: n }, (_, i) => (x1[i] + r.normal() > 1.5 ? 1 : 0));
  return { n, d, x, yMulti, yBin, x1, y1, y1b };
}

const acc = (p: ArrayLike<number>, y: ArrayLike<number>) => {
  let ok = 0;
  for (let i = 0; i < y.length; i++) if (p[i] === y[i]) ok++;
  return ok / y.length;
};

function assertClose(actual: ArrayLike<number>, expected: number[], tol: number, what: string) {
  assert.equal(actual.length, expected.length, what);
  for (let i = 0; i < expected.length; i++)
    assert.ok(Math.abs(actual[i] - expected[i]) <= tol, `${what}[${i}]: ${actual[i]} vs ${expected[i]}`);
}

it('gradient boosting matches sklearn GradientBoostingClassifier (importances, accuracy)', () => {
  const D = referenceData();
  // GradientBoostingClassifier(n_estimators=5).fit(x, y): identical for every random_state (no ties).
  const m = fitGradientBoosting(D.x, D.n, D.d, D.yMulti, { nEstimators: 5 });
  assertClose(m.featureImportances, [0.680554035366, 0.30438782747, 0.015058137165], 1e-9, 'multiclass importances');
  assert.equal(acc(m.predict(D.x, D.n), D.yMulti), 0.8);
  const b = fitGradientBoosting(D.x, D.n, D.d, D.yBin, { nEstimators: 5 });
  assertClose(b.featureImportances, [0.835869693615, 0, 0.164130306385], 1e-9, 'binary importances');
  assert.equal(acc(b.predict(D.x, D.n), D.yBin), 0.7275);
  assert.deepEqual(b.classes, [2, 5]);
  // Defaults (100 stages): sklearn's results vary with random_state through tied splits; its train accuracy is 1.
  const full = fitGradientBoosting(D.x, D.n, D.d, D.yMulti);
  assert.equal(acc(full.predict(D.x, D.n), D.yMulti), 1);
  assert.deepEqual(full.fittedPredictions, full.predict(D.x, D.n));
  assert.deepEqual(b.fittedPredictions, b.predict(D.x, D.n));
  assertClose(
    full.featureImportances,
    [0.6125, 0.34, 0.047],
    0.004,
    'default importances (sklearn, 5 seeds: 0.612-0.613, 0.339-0.340, 0.047-0.048)',
  );
});

it('LinearSVC(C=0.01, class_weight=balanced) on one feature matches sklearn', () => {
  const D = referenceData();
  const m = fitLinearSvc1d(D.x1, D.y1, 0.01);
  // sklearn LinearSVC(C=0.01, class_weight='balanced', tol=1e-10).fit(x1[:, None], y1).coef_ / intercept_
  assertClose(
    m.w,
    [-0.6316199377167269, -0.06319103160109063, 0.022740516095167904, 0.0897113651899001, 0.2964337161018804],
    1e-9,
    'w',
  );
  assertClose(
    m.b,
    [-0.12068526937897514, -0.47809610182214574, -0.5468700445818803, -0.6536796059288752, -0.9393184726000835],
    1e-9,
    'b',
  );
  assert.equal(acc(m.predict(D.x1), D.y1), 0.5575);
  const b = fitLinearSvc1d(D.x1, D.y1b, 0.01);
  assertClose(b.w, [0.42177889087363624], 1e-9, 'binary w');
  assertClose(b.b, [-0.4731474423727535], 1e-9, 'binary b');
  assert.equal(acc(b.predict(D.x1), D.y1b), 0.8175);
});

it('logistic regression, histogram discretisation and mutual information match sklearn / numpy', () => {
  const D = referenceData();
  const lr = fitLogisticRegression(D.x, D.yMulti, D.d);
  assert.equal(acc(lr.predict(D.x, D.n), D.yMulti), 0.68); // sklearn LogisticRegression().fit: 0.68
  // sklearn LogisticRegression(tol=1e-12).fit(x, y).coef_ (intercepts centred: the softmax ignores a common shift)
  assertClose(
    lr.coef!,
    [
      -2.94342552, 0.17419464, -0.03162562, -1.01545872, 0.0631842, -0.09504021, 1.45399016, 0.00543587, 0.00912298,
      2.50489409, -0.24281471, 0.11754286,
    ],
    1e-4,
    'coef',
  );
  const b = Array.from(lr.intercept!);
  const mb = b.reduce((a, v) => a + v, 0) / b.length;
  assertClose(
    b.map((v) => v - mb),
    [-0.99439293, 0.9760634, 0.68345642, -0.6651269],
    1e-4,
    'intercept',
  );
  const h = histogramDiscretize(D.x1, 20); // np.digitize(x, np.histogram(x, 20)[1][:-1])
  assert.deepEqual(
    Array.from(h.subarray(0, 20)),
    [14, 16, 11, 11, 18, 10, 8, 4, 18, 7, 9, 11, 12, 9, 18, 10, 11, 10, 10, 11],
  );
  assert.ok(Math.abs(discreteMutualInfo(D.y1, h) - 1.0153554352701983) < 1e-12);
  assert.ok(Math.abs(discreteEntropy(D.y1) - 1.5758280940930438) < 1e-12);
  assert.deepEqual(Array.from(histogramDiscretize([3, 3, 3], 20)), [11, 11, 11]); // constant: range ±0.5
  // float32 codes: numpy rounds the bin edges to float32 (np.bincount of the digitized codes, sklearn env above).
  const r = new Rng(3);
  const near = Float32Array.from({ length: 5000 }, () => r.normal() * 1e-3 + 7);
  const counts = new Array(20).fill(0);
  for (const b of histogramDiscretize(near, 20)) counts[b - 1]++;
  assert.deepEqual(counts, [6, 12, 38, 78, 165, 310, 446, 653, 753, 779, 658, 465, 301, 185, 98, 28, 16, 3, 4, 2]);
});

it('DCI disentanglement / completeness of importance matrices (disentanglement_lib dci_test)', () => {
  const diag = (k: number, v = 5) =>
    Array.from({ length: k }, (_, i) => Array.from({ length: k }, (_, j) => (i === j ? v : 0)));
  const close = (a: number, b: number, tol = 1e-7) => assert.ok(Math.abs(a - b) <= tol, `${a} vs ${b}`);
  close(dciDisentanglement(diag(5)), 1);
  close(dciCompleteness(diag(5)), 1);
  const emptyCodes = [
    [1, 0],
    [0, 1],
    [0, 0],
  ];
  close(dciDisentanglement(emptyCodes), 1);
  close(dciCompleteness(emptyCodes), 1);
  const zero = Array.from({ length: 10 }, () => new Array(10).fill(0));
  close(dciDisentanglement(zero), 0);
  close(dciCompleteness(zero), 0);
  const redundant = [...diag(5), ...diag(5)];
  close(dciDisentanglement(redundant), 1);
  close(dciCompleteness(redundant), 1 - Math.log(2) / Math.log(10));
  close(dciDisentanglement(diag(5).slice(0, 2)), 1);
  close(dciCompleteness(diag(5).slice(0, 2)), 1);
  const twoFactors = diag(5).map((r) => [...r, ...r]);
  close(dciDisentanglement(twoFactors), 1 - Math.log(2) / Math.log(10));
  close(dciCompleteness(twoFactors), 1);
});

// ---------------------------------------------------------------------------------------------------
// Validation on ground truth: the factors themselves (dSprites' factor sizes), a permuted and rescaled
// copy, and a random representation.

const data = factorGroundTruth(DSPRITES_FACTOR_SIZES);
const identity: Representation = (x) => Float32Array.from(x);
const PERM = [3, 0, 4, 1, 2];
const SCALE = [2.5, -0.5, 7, 0.2, -40];
const OFFSET = [1, -2, 3, 0.5, 100];
/** Code j = scale_j · factor_{PERM[j]} + offset_j (every code keeps a std above FactorVAE's 0.05 prune threshold). */
function permuted(scale = SCALE, offset = OFFSET): Representation {
  return (x, n) => {
    const o = new Float32Array(n * 5);
    for (let i = 0; i < n; i++) for (let j = 0; j < 5; j++) o[i * 5 + j] = x[i * 5 + PERM[j]] * scale[j] + offset[j];
    return o;
  };
}
const permOnly = permuted([1, 1, 1, 1, 1], [0, 0, 0, 0, 0]);
function random(d: number, seed = 99): Representation {
  const r = new Rng(seed);
  return (_x, n) => r.fillNormal(new Float32Array(n * d));
}
const log = (name: string, o: Record<string, number>) =>
  console.log(
    `# ${name}: ${Object.entries(o)
      .map(([k, v]) => `${k} ${v.toFixed(4)}`)
      .join(', ')}`,
  );

it('BetaVAE score: ground truth 1, permuted/rescaled 1, random at chance (1/5)', async () => {
  const o = { numTrain: 1500, numEval: 750 };
  const gt = await betaVaeScore(data, identity, o);
  const pr = await betaVaeScore(data, permuted(), o);
  const rnd = await betaVaeScore(data, random(10), o);
  log('betaVae', { gt: gt.evalAccuracy, permuted: pr.evalAccuracy, random: rnd.evalAccuracy });
  assert.equal(gt.trainAccuracy, 1);
  assert.equal(gt.evalAccuracy, 1);
  assert.equal(pr.evalAccuracy, 1);
  assert.ok(Math.abs(rnd.evalAccuracy - 0.2) < 0.06, `random ${rnd.evalAccuracy}`);
});

it('FactorVAE score (library sizes): ground truth 1, permuted/rescaled identical, random at chance', async () => {
  const gt = await factorVaeScore(data, identity);
  const pr = await factorVaeScore(data, permuted());
  const rnd = await factorVaeScore(data, random(10));
  log('factorVae', { gt: gt.evalAccuracy, permuted: pr.evalAccuracy, random: rnd.evalAccuracy });
  assert.equal(gt.evalAccuracy, 1);
  assert.equal(gt.trainAccuracy, 1);
  assert.equal(gt.numActiveDims, 5);
  assert.equal(pr.evalAccuracy, 1);
  // The same votes, with the latents permuted.
  for (let k = 0; k < 5; k++) for (let j = 0; j < 5; j++) assert.equal(pr.votes[k][j], gt.votes[k][PERM[j]]);
  assert.ok(rnd.evalAccuracy < 0.3, `random ${rnd.evalAccuracy}`);
  // A collapsed dimension (std < 0.05) is pruned.
  const collapsed = await factorVaeScore(data, permuted([1, 1, 1, 0.001, 1], [0, 0, 0, 0, 0]), {
    numTrain: 200,
    numEval: 100,
    numVarianceEstimate: 1000,
  });
  assert.equal(collapsed.numActiveDims, 4);
  assert.ok(collapsed.votes.every((r) => r[3] === 0));
});

it('MIG (library sizes): ground truth at the 20-bin ceiling, ≈1 with 40 bins, invariant, random ≈ 0', async () => {
  const gt = await migScore(data, identity);
  // Ceiling of 20 equal-width bins on dSprites' factors: shape and scale stay separate (1), 40 orientations
  // share bins pairwise (log 20 / log 40 = 0.812), 32 positions fill 12 bins twice and 8 once (4.25 / 5 = 0.85).
  const ceiling = (1 + 1 + Math.log(20) / Math.log(40) + 0.85 + 0.85) / 5;
  const pr = await migScore(data, permuted());
  const bins40 = await migScore(data, identity, { numBins: 40 });
  const rnd = await migScore(data, random(10));
  log('mig', { gt: gt.mig, ceiling, bins40: bins40.mig, permuted: pr.mig, random: rnd.mig });
  assert.ok(gt.mig <= ceiling + 1e-9 && gt.mig > ceiling - 0.015, `gt ${gt.mig} vs ceiling ${ceiling}`);
  assert.ok(bins40.mig > 0.98, `40 bins ${bins40.mig}`);
  assert.ok(Math.abs(pr.mig - gt.mig) < 1e-12, `permuted ${pr.mig}`);
  assert.ok(rnd.mig >= 0 && rnd.mig < 0.01, `random ${rnd.mig}`);
  await assert.rejects(
    migScore(data, (_x, n) => new Float32Array(n)),
    /at least 2 dimensions/,
  );
});

it('DCI: ground truth D = C = I = 1, permuted/rescaled identical, random ≈ 0', async () => {
  const o = { numTrain: 800, numTest: 400 };
  const gt = await dciScore(data, identity, o);
  const pr = await dciScore(data, permuted(), o);
  const rnd = await dciScore(data, random(5), o);
  log('dci', {
    gtD: gt.disentanglement,
    gtC: gt.completeness,
    gtI: gt.informativenessTest,
    permD: pr.disentanglement,
    permC: pr.completeness,
    permI: pr.informativenessTest,
    randD: rnd.disentanglement,
    randC: rnd.completeness,
    randI: rnd.informativenessTest,
  });
  assert.ok(gt.disentanglement > 0.99 && gt.completeness > 0.99, `gt D ${gt.disentanglement} C ${gt.completeness}`);
  assert.equal(gt.informativenessTest, 1);
  assert.equal(gt.informativenessTrain, 1);
  assert.ok(Math.abs(pr.disentanglement - gt.disentanglement) < 1e-9);
  assert.ok(Math.abs(pr.completeness - gt.completeness) < 1e-9);
  assert.equal(pr.informativenessTest, 1);
  for (let j = 0; j < 5; j++)
    for (let k = 0; k < 5; k++) assert.ok(Math.abs(pr.importance[j][k] - gt.importance[PERM[j]][k]) < 1e-9);
  assert.ok(
    rnd.disentanglement < 0.05 && rnd.completeness < 0.05,
    `random D ${rnd.disentanglement} C ${rnd.completeness}`,
  );
  assert.ok(rnd.informativenessTest < 0.25, `random I ${rnd.informativenessTest}`);
});

it('SAP (library sizes): ground truth far above random, invariant to permutation; continuous mode ≈ 1 and affine-invariant', async () => {
  const gt = await sapScore(data, identity);
  const pm = await sapScore(data, permOnly);
  const rnd = await sapScore(data, random(10));
  const cont = await sapScore(data, identity, { continuousFactors: true });
  const contPr = await sapScore(data, permuted(), { continuousFactors: true });
  log('sap', {
    gt: gt.sap,
    permuted: pm.sap,
    random: rnd.sap,
    continuousGt: cont.sap,
    continuousPermutedRescaled: contPr.sap,
  });
  // Each factor's best latent is its own code. A 1-D one-vs-rest linear SVM cannot separate a factor's middle
  // values, so the discrete score of the ground truth is well below 1 (0.23 on dSprites' factors).
  for (let k = 0; k < 5; k++) {
    const col = gt.scoreMatrix.map((r) => r[k]);
    assert.equal(col.indexOf(Math.max(...col)), k);
  }
  assert.ok(gt.sap > 0.2, `gt ${gt.sap}`);
  assert.ok(Math.abs(pm.sap - gt.sap) < 1e-12, `permuted ${pm.sap}`);
  assert.ok(rnd.sap < 0.02, `random ${rnd.sap}`);
  assert.ok(cont.sap > 0.99, `continuous ${cont.sap}`);
  assert.ok(Math.abs(contPr.sap - cont.sap) < 1e-6, `continuous permuted/rescaled ${contPr.sap}`);
});

// ---------------------------------------------------------------------------------------------------
// On rendered dSprites images

/** Hand-made codes from the pixels: centroid column, centroid row, area, and a noise dimension. */
const moments: Representation = (() => {
  const r = new Rng(1);
  return (x: Float32Array, n: number) => {
    const out = new Float32Array(n * 4);
    for (let i = 0; i < n; i++) {
      let a = 0;
      let sr = 0;
      let sc = 0;
      for (let p = 0; p < 4096; p++) {
        const v = x[i * 4096 + p];
        if (v) {
          a += v;
          sr += Math.floor(p / 64);
          sc += p % 64;
        }
      }
      out.set([sc / a, sr / a, a, r.normal()], i * 4);
    }
    return out;
  };
})();

it('metrics on rendered dSprites: pixel centroids capture the positions, area the scale', async () => {
  const ds = dspritesGroundTruth();
  const mig = await migScore(ds, moments, { numTrain: 3000, chunk: 500 });
  log(
    'dsprites moments MIG per factor',
    Object.fromEntries(mig.perFactor.map((v, k) => [['shape', 'scale', 'orientation', 'posX', 'posY'][k], v])),
  );
  assert.ok(mig.perFactor[3] > 0.6 && mig.perFactor[4] > 0.6, `positions ${mig.perFactor}`);
  assert.ok(mig.perFactor[2] < 0.05, `orientation ${mig.perFactor[2]}`);
  // The MI matrix puts posX on code 0, posY on code 1, scale on code 2 (area).
  const best = (k: number) => mig.mutualInfo.map((r) => r[k]).reduce((b, v, i, a) => (v > a[b] ? i : b), 0);
  assert.deepEqual([best(3), best(4), best(1)], [0, 1, 2]);
  const fv = await factorVaeScore(ds, moments, { numTrain: 300, numEval: 150, numVarianceEstimate: 1000, chunk: 640 });
  assert.deepEqual(fv.votes[3].indexOf(Math.max(...fv.votes[3])), 0);
  assert.deepEqual(fv.votes[4].indexOf(Math.max(...fv.votes[4])), 1);
});

it('representationFromModel: posterior means in batches; evaluateDisentanglement runs the chosen metrics', async () => {
  await setupBackend();
  const model = createModel(
    {
      kind: 'vae',
      inputShape: [64, 64, 1],
      latentDim: 3,
      network: { type: 'mlp', hidden: [] },
      likelihood: 'bernoulli',
    },
    new Rng(0),
  );
  try {
    const rep = representationFromModel(model, { batchSize: 7 });
    const ds = dspritesGroundTruth();
    const x = ds.render(ds.sampleFactors(10, new Rng(2)));
    const z = await rep(x, 10);
    assert.equal(z.length, 30);
    const ref = tf.tidy(() => latentPoint(model.encode(tf.tensor2d(x, [10, 4096]))).dataSync());
    for (let i = 0; i < 30; i++) assert.ok(Math.abs(z[i] - ref[i]) < 1e-5);
    const before = tf.memory().numTensors;
    const report = await evaluateDisentanglement(ds, rep, {
      metrics: ['mig', 'factorVae', 'sap'],
      mig: { numTrain: 300 },
      factorVae: { numTrain: 20, numEval: 10, numVarianceEstimate: 200, batchSize: 16 },
      sap: { numTrain: 200, numTest: 100 },
    });
    assert.equal(tf.memory().numTensors, before, 'no tensors leak');
    assert.deepEqual(Object.keys(report.summary).sort(), ['factorVae', 'mig', 'sap']);
    for (const v of Object.values(report.summary)) assert.ok(Number.isFinite(v) && v >= 0 && v <= 1);
    assert.equal(report.dci, undefined);
  } finally {
    model.dispose();
  }
  await assert.rejects(
    evaluateDisentanglement(data, identity, { metrics: ['nope' as 'mig'] }),
    /unknown disentanglement metric 'nope'/,
  );
  await assert.rejects(
    migScore(data, (_x, n) => new Float32Array(n * 2 + 1)),
    /returned \d+ values for \d+ observations/,
  );
  await assert.rejects(
    migScore(data, (_x, n) => new Float32Array(n * 2).fill(NaN)),
    /non-finite/,
  );
});

// ---------------------------------------------------------------------------------------------------
// Latent traversals (src/eval/traversal.ts)

it('latent traversals: rows by KL, values −3…3, grid and GIF', async () => {
  await setupBackend();
  const model = createModel(
    {
      kind: 'vae',
      inputShape: [8, 8, 1],
      latentDim: 3,
      network: { type: 'mlp', hidden: [4] },
      likelihood: 'bernoulli',
    },
    new Rng(1),
  );
  try {
    assert.deepEqual(traversalOrder(3, { kl: [0.1, 2, 0.5] }), [1, 2, 0]);
    assert.deepEqual(traversalOrder(3, { kl: [1, 1, 0.5], maxRows: 2 }), [0, 1]);
    const z = [0.5, -1, 2];
    const before = tf.memory().numTensors;
    const t = latentTraversal(model, z, { kl: [0.1, 2, 0.5], steps: 5, batchSize: 4 });
    assert.equal(tf.memory().numTensors, before, 'no tensors leak');
    assert.deepEqual(t.dims, [1, 2, 0]);
    assert.deepEqual(t.values, [-3, -1.5, 0, 1.5, 3]);
    assert.equal(t.images.length, 3 * 5 * 64);
    // Row 0 sweeps dimension 1; cell (0, 4) decodes [0.5, 3, 2].
    const ref = tf.tidy(() =>
      model
        .decode(tf.tensor2d([0.5, 3, 2], [1, 3]))
        .mean()
        .dataSync(),
    );
    const cell = t.images.subarray(4 * 64, 5 * 64);
    for (let i = 0; i < 64; i++) assert.ok(Math.abs(cell[i] - ref[i]) < 1e-6);
    const grid = traversalGrid(t);
    assert.equal(grid.width, 5 * 8 + 6);
    assert.equal(grid.height, 3 * 8 + 4);
    const gif = traversalGif(t, { scale: 2 });
    assert.equal(Buffer.from(gif.subarray(0, 6)).toString('latin1'), 'GIF89a');
    assert.throws(() => latentTraversal(model, [0, 0]), /base z has 2 values/);
    assert.throws(() => latentTraversal(model, z, { dims: [3] }), /out of range/);
  } finally {
    model.dispose();
  }
  const flat = createModel(
    {
      kind: 'vae',
      inputShape: [6],
      latentDim: 2,
      network: { type: 'mlp', hidden: [] },
      likelihood: 'gaussian',
      sigma: 1,
    },
    new Rng(0),
  );
  try {
    assert.throws(() => latentTraversal(flat, [0, 0]), /not images/);
  } finally {
    flat.dispose();
  }
});
