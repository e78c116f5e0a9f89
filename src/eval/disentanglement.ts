// Supervised disentanglement metrics on data with known generative factors, following
// disentanglement_lib (Locatello et al. 2019) definitions and its default sample sizes
// (config/unsupervised_study_v1/metric_configs and its copies):
//
//   BetaVAE score  (Higgins et al. 2017)   batch 64, 10,000 train / 5,000 eval points; multinomial
//                                           L2 logistic regression (C = 1) on mean |r1 − r2| per batch pair.
//   FactorVAE score (Kim & Mnih 2018)      10,000 points for global variances (ddof 1), dims with
//                                           std < 0.05 pruned; batch 64, 10,000 train / 5,000 eval votes;
//                                           majority-vote classifier on argmin of normalised variance.
//   MIG (Chen et al. 2018)                 10,000 points; per-latent 20-bin equal-width histogram
//                                           (numpy.histogram + digitize); discrete MI with each factor;
//                                           (top − second) / H(factor), averaged over factors.
//   DCI (Eastwood & Williams 2018)         10,000 train / 5,000 test; per factor a gradient boosted tree
//                                           classifier (sklearn GradientBoostingClassifier defaults, see
//                                           below); importance matrix → disentanglement, completeness;
//                                           informativeness = mean train / test accuracy.
//   SAP (Kumar et al. 2018)                10,000 train / 5,000 test; per (latent, factor) the test
//                                           accuracy of a 1-D linear SVM (sklearn LinearSVC(C = 0.01,
//                                           class_weight = 'balanced'), reimplemented, see below); mean
//                                           over factors of the gap between the two best latents.
//
// A representation is any function (x: Float32Array [n × D], n) → Float32Array [n × d] (sync or async):
// usually a model's posterior mean (representationFromModel), but it can be anything, including the ground
// truth itself. Every metric draws from its own `new Rng(seed)` (seed 0 by default, as the library's
// evaluation.random_seed), so results are deterministic. Observations are rendered and encoded in chunks
// of at most `chunk` rows (default 1024), which only groups work and changes no result.
//
// What to expect (tests/disentanglement.test.ts, dSprites' factor sizes, the factors themselves as codes):
//   BetaVAE 1 and FactorVAE 1 (chance, for useless codes: about 1 / numFactors = 0.2, not 0); MIG 0.896,
//   the ceiling 20 bins leave on dSprites (0.902: 40 orientations and 32 positions share bins), ≈ 0.99
//   with 40 bins; DCI D = C = I = 1; SAP 0.23 only: a 1-D one-vs-rest linear SVM cannot single out a
//   factor's middle values, so the discrete SAP of perfect codes is far below 1 (continuousFactors: ≈ 1).
//   Random codes: MIG, DCI D/C and SAP ≈ 0. Invariances: MIG, DCI and FactorVAE are unchanged by
//   permuting, rescaling and shifting the codes (FactorVAE as long as no code's std falls below the
//   absolute 0.05 prune threshold); SAP (discrete) and the BetaVAE classifier are regularised and so
//   depend on the codes' scale and offset, as in the library (SAP is unchanged by permutation).
//
// Cost: DCI dominates — one tree per class per stage, 100 stages: 11,300 depth-3 trees over 10,000 codes
// on dSprites (about 70 s of CPU for 10 latents, measured on a busy 2-core machine). The others are cheap
// next to encoding the observations (BetaVAE encodes 1.92 M images, FactorVAE 970 k, MIG 10 k, DCI and
// SAP 15 k each).
//
// What vaekit had to implement itself (no sound npm package: ml-logistic-regression is unregularised
// fixed-step one-vs-rest gradient descent without intercept; ml-random-forest / ml-cart have no boosting
// and quadratic split search; ml-xgboost and decision-tree expose no sklearn-compatible importances;
// libsvm-js has no liblinear). Each is checked against scikit-learn 1.2.1 in the tests:
//   * Logistic regression: multinomial, L2 penalty ½‖W‖² + C·Σ cross-entropy (intercept unpenalised),
//     sklearn's defaults, solved to convergence by Newton's method (L-BFGS past 256 parameters); sklearn
//     stops lbfgs after 100 iterations at tol 1e-4 (coefficients agree to 1e-4).
//   * Gradient boosted trees: sklearn GradientBoostingClassifier's defaults — log-loss, 100 stages,
//     learning rate 0.1, depth-3 regression trees on the negative gradient (friedman_mse splits at
//     midpoints of distinct float32 values, min_samples_leaf 1), one tree per class per stage (one in all
//     for 2 classes), Newton leaf values ((K−1)/K · Σ r / Σ p(1−p)), prior init, and
//     feature_importances_ = mean over trees with a split of the impurity decrease per feature / n,
//     normalised to sum 1 (equal to sklearn's to 1e-12 where no splits tie). Ties between equally good
//     splits go to the lowest feature index (sklearn breaks them by a random feature order, so its own
//     importances vary with random_state by about 1e-3).
//   * LinearSVC: liblinear's L2-regularised squared-hinge problem with the intercept as a regularised
//     feature (intercept_scaling 1), one-vs-rest for K > 2 (class weight on the positive class only, as
//     liblinear does), balanced weights n / (K · n_c); solved exactly (Newton on the 2 parameters) rather
//     than to liblinear's 1e-4 tolerance (coefficients equal sklearn's at tol 1e-10 to 1e-12).
//   * Library quirks not copied: FactorVAE's num_active_dims reports the count of active dimensions (the
//     library reports the mask's length).

import * as tf from '@tensorflow/tfjs-core';
import { gaussianPosterior, latentDimOf, type LatentVariableModel } from '../models/types.js';
import { Rng } from '../rng.js';
import { sampleUniformFactors, type GroundTruthData } from '../data/dsprites.js';

export type { GroundTruthData } from '../data/dsprites.js';

/** Observations [n × D] → codes [n × d]. */
export type Representation = (x: Float32Array, n: number) => Float32Array | Promise<Float32Array>;

export interface MetricOptions {
  /** Seed of the metric's own Rng (default 0). */
  seed?: number;
  /** Most observations per representation call (default 1024). */
  chunk?: number;
}

export const BETA_VAE_DEFAULTS = Object.freeze({ batchSize: 64, numTrain: 10000, numEval: 5000 });
export const FACTOR_VAE_DEFAULTS = Object.freeze({
  batchSize: 64,
  numTrain: 10000,
  numEval: 5000,
  numVarianceEstimate: 10000,
  pruneThreshold: 0.05,
});
export const MIG_DEFAULTS = Object.freeze({ numTrain: 10000, numBins: 20 });
export const DCI_DEFAULTS = Object.freeze({ numTrain: 10000, numTest: 5000 });
export const SAP_DEFAULTS = Object.freeze({ numTrain: 10000, numTest: 5000, continuousFactors: false });
export const GBT_DEFAULTS = Object.freeze({ nEstimators: 100, learningRate: 0.1, maxDepth: 3 });
const DEFAULT_CHUNK = 1024;

// ---------------------------------------------------------------------------------------------------
// Representations

/** The posterior mean μ(x) of a model (all layers side by side for a hierarchical one), encoded in batches of `batchSize` (default 256). */
export function representationFromModel(model: LatentVariableModel, opts: { batchSize?: number } = {}): Representation {
  const bs = opts.batchSize ?? 256;
  if (model.numClasses !== undefined)
    throw new Error(
      'representationFromModel: a conditional model needs labels to encode; the metrics have none to give it',
    );
  const D = model.config.inputShape.reduce((a, b) => a * b, 1);
  const d = latentDimOf(model.config, 'representationFromModel');
  return (x, n) => {
    if (x.length !== n * D) throw new Error(`representation: ${n} observations need ${n * D} values, got ${x.length}`);
    const out = new Float32Array(n * d);
    for (let s = 0; s < n; s += bs) {
      const m = Math.min(bs, n - s);
      const mu = tf.tidy(() => {
        const q = model.encode(tf.tensor2d(x.subarray(s * D, (s + m) * D), [m, D]));
        return gaussianPosterior(q, 'representationFromModel').mu.dataSync();
      });
      out.set(mu, s * d);
    }
    return out;
  };
}

/**
 * Ground truth whose observations are the factor classes themselves (as floats, D = number of factors):
 * disentanglement_lib's IdentityObservationsData. With an identity (or permuted, rescaled) representation
 * it is the reference a metric's maximum is checked against.
 */
export function factorGroundTruth(factorSizes: readonly number[], factorNames?: readonly string[]): GroundTruthData {
  const sizes = [...factorSizes];
  for (const s of sizes)
    if (!Number.isInteger(s) || s < 1)
      throw new Error(`factorGroundTruth: factor sizes must be positive integers, got ${s}`);
  return {
    numFactors: sizes.length,
    factorSizes: sizes,
    factorNames,
    observationShape: [sizes.length],
    sampleFactors: (n, rng) => sampleUniformFactors(sizes, n, rng),
    render: (f) => Float32Array.from(f),
  };
}

class Encoder {
  d = -1;
  private readonly D: number;
  constructor(
    private readonly data: GroundTruthData,
    private readonly rep: Representation,
    readonly chunk: number,
  ) {
    if (!Number.isInteger(chunk) || chunk < 1) throw new Error(`chunk must be a positive integer, got ${chunk}`);
    this.D = data.observationShape.reduce((a, b) => a * b, 1);
  }

  /** Codes [n × d] of factor rows [n × F], rendered and encoded in chunks. */
  async codes(factors: Int32Array): Promise<Float32Array> {
    const F = this.data.numFactors;
    const n = factors.length / F;
    let out: Float32Array | null = null;
    for (let s = 0; s < n; s += this.chunk) {
      const m = Math.min(this.chunk, n - s);
      const x = this.data.render(factors.subarray(s * F, (s + m) * F));
      if (x.length !== m * this.D)
        throw new Error(`ground truth render: ${m} observations should have ${m * this.D} values, got ${x.length}`);
      const z = await this.rep(x, m);
      if (!(z instanceof Float32Array) && !(ArrayBuffer.isView(z) && 'length' in z))
        throw new Error('representation must return a Float32Array');
      if (z.length === 0 || z.length % m !== 0)
        throw new Error(`representation returned ${z.length} values for ${m} observations`);
      const d = z.length / m;
      if (this.d < 0) this.d = d;
      else if (d !== this.d) throw new Error(`representation changed dimension: ${this.d} then ${d}`);
      for (let i = 0; i < z.length; i++)
        if (!Number.isFinite(z[i])) throw new Error(`representation returned a non-finite value (${z[i]})`);
      if (!out) out = new Float32Array(n * d);
      out.set(z, s * d);
    }
    return out ?? new Float32Array(0);
  }
}

function checkCount(name: string, v: number, min = 1): void {
  if (!Number.isInteger(v) || v < min) throw new Error(`${name} must be an integer >= ${min}, got ${v}`);
}

// ---------------------------------------------------------------------------------------------------
// BetaVAE score

export interface BetaVaeOptions extends MetricOptions {
  batchSize?: number;
  numTrain?: number;
  numEval?: number;
}

export interface BetaVaeScore {
  trainAccuracy: number;
  evalAccuracy: number;
}

async function betaVaeBatch(
  data: GroundTruthData,
  enc: Encoder,
  rng: Rng,
  B: number,
  num: number,
): Promise<{ points: Float64Array; labels: Int32Array; d: number }> {
  const F = data.numFactors;
  const labels = new Int32Array(num);
  let points: Float64Array | null = null;
  const per = Math.max(1, Math.floor(enc.chunk / (2 * B)));
  for (let p0 = 0; p0 < num; p0 += per) {
    const m = Math.min(per, num - p0);
    // m points × [factors1 (B rows), factors2 (B rows)]
    const all = new Int32Array(m * 2 * B * F);
    for (let k = 0; k < m; k++) {
      const index = rng.int(F);
      labels[p0 + k] = index;
      const f1 = data.sampleFactors(B, rng);
      const f2 = data.sampleFactors(B, rng);
      for (let b = 0; b < B; b++) f2[b * F + index] = f1[b * F + index];
      all.set(f1, k * 2 * B * F);
      all.set(f2, (k * 2 + 1) * B * F);
    }
    const z = await enc.codes(all);
    const d = enc.d;
    if (!points) points = new Float64Array(num * d);
    for (let k = 0; k < m; k++) {
      const row = (p0 + k) * d;
      const a = k * 2 * B * d;
      const c = (k * 2 + 1) * B * d;
      for (let b = 0; b < B; b++)
        for (let j = 0; j < d; j++) points[row + j] += Math.abs(z[a + b * d + j] - z[c + b * d + j]);
      for (let j = 0; j < d; j++) points[row + j] /= B;
    }
  }
  return { points: points!, labels, d: enc.d };
}

/** BetaVAE disentanglement score (disentanglement_lib beta_vae_sklearn). Chance level is 1 / numFactors. */
export async function betaVaeScore(
  data: GroundTruthData,
  rep: Representation,
  opts: BetaVaeOptions = {},
): Promise<BetaVaeScore> {
  const B = opts.batchSize ?? BETA_VAE_DEFAULTS.batchSize;
  const numTrain = opts.numTrain ?? BETA_VAE_DEFAULTS.numTrain;
  const numEval = opts.numEval ?? BETA_VAE_DEFAULTS.numEval;
  checkCount('betaVae batchSize', B);
  checkCount('betaVae numTrain', numTrain);
  checkCount('betaVae numEval', numEval);
  const rng = new Rng(opts.seed ?? 0);
  const enc = new Encoder(data, rep, opts.chunk ?? DEFAULT_CHUNK);
  const train = await betaVaeBatch(data, enc, rng, B, numTrain);
  const model = fitLogisticRegression(train.points, train.labels, train.d);
  const trainAccuracy = accuracy(model.predict(train.points), train.labels);
  const ev = await betaVaeBatch(data, enc, rng, B, numEval);
  const evalAccuracy = accuracy(model.predict(ev.points), ev.labels);
  return { trainAccuracy, evalAccuracy };
}

function accuracy(pred: ArrayLike<number>, y: ArrayLike<number>): number {
  let ok = 0;
  for (let i = 0; i < y.length; i++) if (pred[i] === y[i]) ok++;
  return y.length ? ok / y.length : 0;
}

// ---------------------------------------------------------------------------------------------------
// FactorVAE score

export interface FactorVaeOptions extends MetricOptions {
  batchSize?: number;
  numTrain?: number;
  numEval?: number;
  numVarianceEstimate?: number;
  /** Dimensions whose standard deviation over the data is below this are pruned (default 0.05). */
  pruneThreshold?: number;
}

export interface FactorVaeScore {
  trainAccuracy: number;
  evalAccuracy: number;
  numActiveDims: number;
  /** Training votes [numFactors][d] (columns of pruned dims are zero). */
  votes: number[][];
}

/** Variance with ddof = 1 of each column of z [n × d]. */
function columnVariances(z: Float32Array, n: number, d: number, out = new Float64Array(d)): Float64Array {
  const mean = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j] += z[i * d + j];
  for (let j = 0; j < d; j++) mean[j] /= n;
  out.fill(0);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) {
      const t = z[i * d + j] - mean[j];
      out[j] += t * t;
    }
  }
  for (let j = 0; j < d; j++) out[j] = n > 1 ? out[j] / (n - 1) : NaN;
  return out;
}

async function factorVaeVotes(
  data: GroundTruthData,
  enc: Encoder,
  rng: Rng,
  B: number,
  num: number,
  globalVar: Float64Array,
  active: number[],
): Promise<number[][]> {
  const F = data.numFactors;
  const d = globalVar.length;
  const votes = Array.from({ length: F }, () => new Array<number>(d).fill(0));
  const per = Math.max(1, Math.floor(enc.chunk / B));
  const local = new Float64Array(d);
  for (let p0 = 0; p0 < num; p0 += per) {
    const m = Math.min(per, num - p0);
    const all = new Int32Array(m * B * F);
    const idx = new Int32Array(m);
    for (let k = 0; k < m; k++) {
      const index = rng.int(F);
      idx[k] = index;
      const f = data.sampleFactors(B, rng);
      for (let b = 1; b < B; b++) f[b * F + index] = f[index];
      all.set(f, k * B * F);
    }
    const z = await enc.codes(all);
    for (let k = 0; k < m; k++) {
      columnVariances(z.subarray(k * B * d, (k + 1) * B * d), B, d, local);
      let best = -1;
      let bestV = Infinity;
      for (const j of active) {
        const v = local[j] / globalVar[j];
        if (v < bestV || best < 0) {
          bestV = v;
          best = j;
        }
      }
      votes[idx[k]][best]++;
    }
  }
  return votes;
}

/** FactorVAE disentanglement score (disentanglement_lib factor_vae_score). Chance level is about 1 / numFactors. */
export async function factorVaeScore(
  data: GroundTruthData,
  rep: Representation,
  opts: FactorVaeOptions = {},
): Promise<FactorVaeScore> {
  const o = { ...FACTOR_VAE_DEFAULTS, ...stripUndefined(opts) };
  checkCount('factorVae batchSize', o.batchSize, 2);
  checkCount('factorVae numTrain', o.numTrain);
  checkCount('factorVae numEval', o.numEval);
  checkCount('factorVae numVarianceEstimate', o.numVarianceEstimate, 2);
  const rng = new Rng(opts.seed ?? 0);
  const enc = new Encoder(data, rep, opts.chunk ?? DEFAULT_CHUNK);
  const zVar = await enc.codes(data.sampleFactors(o.numVarianceEstimate, rng));
  const d = enc.d;
  const globalVar = columnVariances(zVar, o.numVarianceEstimate, d);
  const active: number[] = [];
  for (let j = 0; j < d; j++) if (Math.sqrt(globalVar[j]) >= o.pruneThreshold) active.push(j);
  const F = data.numFactors;
  if (active.length === 0) {
    return {
      trainAccuracy: 0,
      evalAccuracy: 0,
      numActiveDims: 0,
      votes: Array.from({ length: F }, () => new Array<number>(d).fill(0)),
    };
  }
  const votes = await factorVaeVotes(data, enc, rng, o.batchSize, o.numTrain, globalVar, active);
  // Majority vote: each dimension predicts the factor that voted for it most (ties: lowest factor).
  const classifier = new Int32Array(d);
  for (let j = 0; j < d; j++) {
    let b = 0;
    for (let k = 1; k < F; k++) if (votes[k][j] > votes[b][j]) b = k;
    classifier[j] = b;
  }
  const acc = (v: number[][]) => {
    let ok = 0;
    let tot = 0;
    for (let j = 0; j < d; j++)
      for (let k = 0; k < F; k++) {
        tot += v[k][j];
        if (classifier[j] === k) ok += v[k][j];
      }
    return ok / tot;
  };
  const trainAccuracy = acc(votes);
  const evalVotes = await factorVaeVotes(data, enc, rng, o.batchSize, o.numEval, globalVar, active);
  return { trainAccuracy, evalAccuracy: acc(evalVotes), numActiveDims: active.length, votes };
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

// ---------------------------------------------------------------------------------------------------
// Factor-code samples (disentanglement_lib generate_batch_factor_code)

export interface FactorCodes {
  /** Codes [n × d]. */
  codes: Float32Array;
  /** Factor classes [n × F]. */
  factors: Int32Array;
  n: number;
  d: number;
}

export async function sampleFactorCodes(
  data: GroundTruthData,
  rep: Representation,
  n: number,
  rng: Rng,
  chunk = DEFAULT_CHUNK,
): Promise<FactorCodes> {
  checkCount('number of points', n);
  const enc = new Encoder(data, rep, chunk);
  const factors = data.sampleFactors(n, rng);
  const codes = await enc.codes(factors);
  return { codes, factors, n, d: enc.d };
}

function column(a: ArrayLike<number>, n: number, stride: number, j: number): Float64Array {
  const c = new Float64Array(n);
  for (let i = 0; i < n; i++) c[i] = a[i * stride + j];
  return c;
}

function intColumn(a: Int32Array, n: number, stride: number, j: number): Int32Array {
  const c = new Int32Array(n);
  for (let i = 0; i < n; i++) c[i] = a[i * stride + j];
  return c;
}

// ---------------------------------------------------------------------------------------------------
// MIG

export interface MigOptions extends MetricOptions {
  numTrain?: number;
  /** Equal-width histogram bins per latent (default 20). */
  numBins?: number;
}

export interface MigScore {
  mig: number;
  /** (top − second MI) / H(factor), per factor. */
  perFactor: number[];
  /** Mutual information in nats, [d][numFactors]. */
  mutualInfo: number[][];
  /** Factor entropies in nats. */
  entropy: number[];
}

/**
 * numpy: np.digitize(x, np.histogram(x, numBins)[1][:-1]) — equal-width bins over [min, max] (±0.5 when
 * constant), values 1..numBins. numpy rounds the edges to the data's dtype: pass float32 = true for float32
 * data held in a wider array (the default follows x's type).
 */
export function histogramDiscretize(
  x: ArrayLike<number>,
  numBins: number,
  float32 = x instanceof Float32Array,
): Int32Array {
  checkCount('numBins', numBins);
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < x.length; i++) {
    if (x[i] < lo) lo = x[i];
    if (x[i] > hi) hi = x[i];
  }
  if (lo === hi) {
    lo -= 0.5;
    hi += 0.5;
  }
  const step = (hi - lo) / numBins;
  const edges = new Float64Array(numBins); // the first numBins of numBins + 1 edges (numpy linspace)
  for (let i = 0; i < numBins; i++) edges[i] = float32 ? Math.fround(lo + i * step) : lo + i * step;
  const out = new Int32Array(x.length);
  for (let i = 0; i < x.length; i++) {
    // number of edges <= x (digitize, right = false)
    let a = 0;
    let b = numBins;
    const v = x[i];
    while (a < b) {
      const mid = (a + b) >> 1;
      if (edges[mid] <= v) a = mid + 1;
      else b = mid;
    }
    out[i] = a;
  }
  return out;
}

/** sklearn.metrics.mutual_info_score of two label arrays (natural log). */
export function discreteMutualInfo(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  if (b.length !== n) throw new Error('discreteMutualInfo: lengths differ');
  if (n === 0) return 0;
  const ca = new Map<number, number>();
  const cb = new Map<number, number>();
  const ia = new Int32Array(n);
  const ib = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let x = ca.get(a[i]);
    if (x === undefined) ca.set(a[i], (x = ca.size));
    let y = cb.get(b[i]);
    if (y === undefined) cb.set(b[i], (y = cb.size));
    ia[i] = x;
    ib[i] = y;
  }
  const A = ca.size;
  const Bn = cb.size;
  const cnt = new Float64Array(A * Bn);
  const na = new Float64Array(A);
  const nb = new Float64Array(Bn);
  for (let i = 0; i < n; i++) {
    cnt[ia[i] * Bn + ib[i]]++;
    na[ia[i]]++;
    nb[ib[i]]++;
  }
  let mi = 0;
  for (let x = 0; x < A; x++) {
    for (let y = 0; y < Bn; y++) {
      const c = cnt[x * Bn + y];
      if (c > 0) mi += (c / n) * Math.log((c * n) / (na[x] * nb[y]));
    }
  }
  return Math.max(0, mi);
}

/** Entropy (nats) of a label array. */
export function discreteEntropy(a: ArrayLike<number>): number {
  const c = new Map<number, number>();
  for (let i = 0; i < a.length; i++) c.set(a[i], (c.get(a[i]) ?? 0) + 1);
  let h = 0;
  for (const k of c.values()) {
    const p = k / a.length;
    h -= p * Math.log(p);
  }
  return h;
}

/** MIG from codes and factors (already sampled). */
export function migFromCodes(s: FactorCodes, numFactors: number, numBins: number = MIG_DEFAULTS.numBins): MigScore {
  const { n, d } = s;
  if (d < 2) throw new Error(`MIG needs a representation of at least 2 dimensions, got ${d}`);
  const disc = Array.from({ length: d }, (_, j) => histogramDiscretize(column(s.codes, n, d, j), numBins, true));
  const ys = Array.from({ length: numFactors }, (_, k) => intColumn(s.factors, n, numFactors, k));
  const mutualInfo = disc.map((z) => ys.map((y) => discreteMutualInfo(y, z)));
  const entropy = ys.map((y) => discreteMutualInfo(y, y));
  const perFactor = ys.map((_, k) => {
    const col = mutualInfo.map((r) => r[k]).sort((a, b) => b - a);
    return (col[0] - col[1]) / entropy[k];
  });
  return { mig: mean(perFactor), perFactor, mutualInfo, entropy };
}

/** Mutual Information Gap (disentanglement_lib mig, discrete_mig). */
export async function migScore(data: GroundTruthData, rep: Representation, opts: MigOptions = {}): Promise<MigScore> {
  const numTrain = opts.numTrain ?? MIG_DEFAULTS.numTrain;
  const s = await sampleFactorCodes(data, rep, numTrain, new Rng(opts.seed ?? 0), opts.chunk);
  return migFromCodes(s, data.numFactors, opts.numBins ?? MIG_DEFAULTS.numBins);
}

function mean(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i];
  return s / a.length;
}

// ---------------------------------------------------------------------------------------------------
// DCI

export interface GbtOptions {
  nEstimators?: number;
  learningRate?: number;
  maxDepth?: number;
}

export interface DciOptions extends MetricOptions {
  numTrain?: number;
  numTest?: number;
  gbt?: GbtOptions;
}

export interface DciScore {
  disentanglement: number;
  completeness: number;
  /** Mean accuracy over factors of the per-factor classifiers on the training / test codes. */
  informativenessTrain: number;
  informativenessTest: number;
  /** |feature importance| [d][numFactors]. */
  importance: number[][];
  trainAccuracy: number[];
  testAccuracy: number[];
}

/** scipy.stats.entropy(p, base) of non-negative weights (normalised here). */
function entropyBase(p: ArrayLike<number>, base: number): number {
  let s = 0;
  for (let i = 0; i < p.length; i++) s += p[i];
  let h = 0;
  for (let i = 0; i < p.length; i++) {
    const q = p[i] / s;
    if (q > 0) h -= q * Math.log(q);
  }
  return h / Math.log(base);
}

/** DCI disentanglement of an importance matrix [codes][factors]. */
export function dciDisentanglement(importance: number[][]): number {
  const d = importance.length;
  const F = importance[0]?.length ?? 0;
  if (F < 2) return 1; // one factor: every code is trivially dedicated to it
  const perCode = importance.map(
    (r) =>
      1 -
      entropyBase(
        r.map((v) => v + 1e-11),
        F,
      ),
  );
  let m = importance;
  let total = sum2(m);
  if (total === 0) {
    m = importance.map((r) => r.map(() => 1));
    total = d * F;
  }
  let s = 0;
  for (let i = 0; i < d; i++) s += perCode[i] * (m[i].reduce((a, b) => a + b, 0) / total);
  return s;
}

/** DCI completeness of an importance matrix [codes][factors]. */
export function dciCompleteness(importance: number[][]): number {
  const d = importance.length;
  const F = importance[0]?.length ?? 0;
  if (d < 2) return 1; // one code: every factor is captured by a single code
  const perFactor = Array.from(
    { length: F },
    (_, k) =>
      1 -
      entropyBase(
        importance.map((r) => r[k] + 1e-11),
        d,
      ),
  );
  let m = importance;
  let total = sum2(m);
  if (total === 0) {
    m = importance.map((r) => r.map(() => 1));
    total = d * F;
  }
  let s = 0;
  for (let k = 0; k < F; k++) {
    let c = 0;
    for (let i = 0; i < d; i++) c += m[i][k];
    s += perFactor[k] * (c / total);
  }
  return s;
}

function sum2(m: number[][]): number {
  let s = 0;
  for (const r of m) for (const v of r) s += v;
  return s;
}

/** DCI from sampled train / test codes. */
export function dciFromCodes(
  train: FactorCodes,
  test: FactorCodes,
  numFactors: number,
  gbt: GbtOptions = {},
): DciScore {
  const d = train.d;
  if (test.d !== d) throw new Error(`dci: train codes have ${d} dims, test codes ${test.d}`);
  const importance = Array.from({ length: d }, () => new Array<number>(numFactors).fill(0));
  const trainAccuracy: number[] = [];
  const testAccuracy: number[] = [];
  for (let k = 0; k < numFactors; k++) {
    const y = intColumn(train.factors, train.n, numFactors, k);
    const yt = intColumn(test.factors, test.n, numFactors, k);
    const model = fitGradientBoosting(train.codes, train.n, d, y, gbt);
    const imp = model.featureImportances;
    for (let i = 0; i < d; i++) importance[i][k] = Math.abs(imp[i]);
    trainAccuracy.push(accuracy(model.fittedPredictions, y));
    testAccuracy.push(accuracy(model.predict(test.codes, test.n), yt));
  }
  return {
    disentanglement: dciDisentanglement(importance),
    completeness: dciCompleteness(importance),
    informativenessTrain: mean(trainAccuracy),
    informativenessTest: mean(testAccuracy),
    importance,
    trainAccuracy,
    testAccuracy,
  };
}

/** Disentanglement, Completeness, Informativeness (disentanglement_lib dci, gradient boosted trees). */
export async function dciScore(data: GroundTruthData, rep: Representation, opts: DciOptions = {}): Promise<DciScore> {
  const rng = new Rng(opts.seed ?? 0);
  const train = await sampleFactorCodes(data, rep, opts.numTrain ?? DCI_DEFAULTS.numTrain, rng, opts.chunk);
  const test = await sampleFactorCodes(data, rep, opts.numTest ?? DCI_DEFAULTS.numTest, rng, opts.chunk);
  return dciFromCodes(train, test, data.numFactors, opts.gbt);
}

// ---------------------------------------------------------------------------------------------------
// SAP

export interface SapOptions extends MetricOptions {
  numTrain?: number;
  numTest?: number;
  /** Treat factors as continuous (R² of each latent with each factor) instead of classifying them. */
  continuousFactors?: boolean;
  /** LinearSVC C (default 0.01). */
  C?: number;
}

export interface SapScore {
  sap: number;
  /** Per-factor gap between the two best latents. */
  perFactor: number[];
  /** [d][numFactors] */
  scoreMatrix: number[][];
}

export function sapFromCodes(
  train: FactorCodes,
  test: FactorCodes,
  numFactors: number,
  opts: { continuousFactors?: boolean; C?: number } = {},
): SapScore {
  const d = train.d;
  if (d < 2) throw new Error(`SAP needs a representation of at least 2 dimensions, got ${d}`);
  const C = opts.C ?? 0.01;
  const scoreMatrix = Array.from({ length: d }, () => new Array<number>(numFactors).fill(0));
  for (let i = 0; i < d; i++) {
    const mu = column(train.codes, train.n, d, i);
    const muT = column(test.codes, test.n, d, i);
    for (let j = 0; j < numFactors; j++) {
      const y = intColumn(train.factors, train.n, numFactors, j);
      if (opts.continuousFactors) {
        scoreMatrix[i][j] = squaredCorrelation(mu, y);
      } else {
        const yt = intColumn(test.factors, test.n, numFactors, j);
        const svc = fitLinearSvc1d(mu, y, C);
        scoreMatrix[i][j] = accuracy(svc.predict(muT), yt);
      }
    }
  }
  const perFactor = Array.from({ length: numFactors }, (_, j) => {
    const col = scoreMatrix.map((r) => r[j]).sort((a, b) => b - a);
    return col[0] - col[1];
  });
  return { sap: mean(perFactor), perFactor, scoreMatrix };
}

function squaredCorrelation(x: Float64Array, y: ArrayLike<number>): number {
  const n = x.length;
  let mx = 0;
  let my = 0;
  for (let i = 0; i < n; i++) {
    mx += x[i];
    my += y[i];
  }
  mx /= n;
  my /= n;
  let sxx = 0;
  let syy = 0;
  let sxy = 0;
  for (let i = 0; i < n; i++) {
    const a = x[i] - mx;
    const b = y[i] - my;
    sxx += a * a;
    syy += b * b;
    sxy += a * b;
  }
  const varX = sxx / (n - 1);
  if (!(varX > 1e-12)) return 0;
  const cov = sxy / (n - 1);
  return (cov * cov) / (varX * (syy / (n - 1)));
}

/** Separated Attribute Predictability (disentanglement_lib sap_score). */
export async function sapScore(data: GroundTruthData, rep: Representation, opts: SapOptions = {}): Promise<SapScore> {
  const rng = new Rng(opts.seed ?? 0);
  const train = await sampleFactorCodes(data, rep, opts.numTrain ?? SAP_DEFAULTS.numTrain, rng, opts.chunk);
  const test = await sampleFactorCodes(data, rep, opts.numTest ?? SAP_DEFAULTS.numTest, rng, opts.chunk);
  return sapFromCodes(train, test, data.numFactors, {
    continuousFactors: opts.continuousFactors ?? SAP_DEFAULTS.continuousFactors,
    C: opts.C,
  });
}

// ---------------------------------------------------------------------------------------------------
// All of them

export type MetricName = 'betaVae' | 'factorVae' | 'mig' | 'dci' | 'sap';
export const METRIC_NAMES: readonly MetricName[] = ['betaVae', 'factorVae', 'mig', 'dci', 'sap'];

export interface DisentanglementOptions extends MetricOptions {
  metrics?: readonly MetricName[];
  betaVae?: BetaVaeOptions;
  factorVae?: FactorVaeOptions;
  mig?: MigOptions;
  dci?: DciOptions;
  sap?: SapOptions;
  log?: (msg: string) => void;
}

export interface DisentanglementReport {
  betaVae?: BetaVaeScore;
  factorVae?: FactorVaeScore;
  mig?: MigScore;
  dci?: DciScore;
  sap?: SapScore;
  /** The headline numbers: betaVae / factorVae eval accuracy, mig, dci disentanglement / completeness / informativeness (test), sap. */
  summary: Record<string, number>;
  seconds: Record<string, number>;
}

/** Runs the chosen metrics (all by default) with the library defaults unless overridden. */
export async function evaluateDisentanglement(
  data: GroundTruthData,
  rep: Representation,
  opts: DisentanglementOptions = {},
): Promise<DisentanglementReport> {
  const which = opts.metrics ?? METRIC_NAMES;
  for (const m of which)
    if (!METRIC_NAMES.includes(m))
      throw new Error(`unknown disentanglement metric '${m}' (known: ${METRIC_NAMES.join(', ')})`);
  const common = { seed: opts.seed, chunk: opts.chunk };
  const r: DisentanglementReport = { summary: {}, seconds: {} };
  const time = async <T>(name: string, f: () => Promise<T>): Promise<T> => {
    const t0 = performance.now();
    opts.log?.(`disentanglement: ${name} ...`);
    const v = await f();
    r.seconds[name] = (performance.now() - t0) / 1000;
    return v;
  };
  if (which.includes('betaVae')) {
    r.betaVae = await time('betaVae', () => betaVaeScore(data, rep, { ...common, ...opts.betaVae }));
    r.summary.betaVae = r.betaVae.evalAccuracy;
  }
  if (which.includes('factorVae')) {
    r.factorVae = await time('factorVae', () => factorVaeScore(data, rep, { ...common, ...opts.factorVae }));
    r.summary.factorVae = r.factorVae.evalAccuracy;
  }
  if (which.includes('mig')) {
    r.mig = await time('mig', () => migScore(data, rep, { ...common, ...opts.mig }));
    r.summary.mig = r.mig.mig;
  }
  if (which.includes('dci')) {
    r.dci = await time('dci', () => dciScore(data, rep, { ...common, ...opts.dci }));
    r.summary.dciDisentanglement = r.dci.disentanglement;
    r.summary.dciCompleteness = r.dci.completeness;
    r.summary.dciInformativeness = r.dci.informativenessTest;
  }
  if (which.includes('sap')) {
    r.sap = await time('sap', () => sapScore(data, rep, { ...common, ...opts.sap }));
    r.summary.sap = r.sap.sap;
  }
  return r;
}

// ---------------------------------------------------------------------------------------------------
// Classifiers

function classIndex(y: ArrayLike<number>): { classes: number[]; idx: Int32Array } {
  const classes = [...new Set(Array.from(y))].sort((a, b) => a - b);
  const map = new Map(classes.map((c, i) => [c, i]));
  return { classes, idx: Int32Array.from(y, (v) => map.get(v)!) };
}

export interface Classifier {
  classes: number[];
  /** Labels for rows of X [n × d]. */
  predict(x: ArrayLike<number>, n?: number): Int32Array;
}

/**
 * Multinomial logistic regression with sklearn LogisticRegression's defaults (L2, C = 1, intercept not
 * penalised), minimising C·Σ CE + ½‖W‖² by L-BFGS. x: [n × d] row-major.
 */
export function fitLogisticRegression(
  x: ArrayLike<number>,
  y: ArrayLike<number>,
  d: number,
  opts: { C?: number; maxIter?: number } = {},
): Classifier & { coef?: Float64Array; intercept?: Float64Array } {
  const n = y.length;
  const C = opts.C ?? 1;
  if (x.length !== n * d) throw new Error(`fitLogisticRegression: x has ${x.length} values, not ${n} × ${d}`);
  const { classes, idx } = classIndex(y);
  const K = classes.length;
  if (K < 2) {
    const c = classes[0] ?? 0;
    return { classes, predict: (_x, m) => new Int32Array(m ?? _x.length / d).fill(c) };
  }
  const P = K * (d + 1); // W [K × d] then b [K]
  const lam = 1 / (C * n); // objective / n: mean CE + (1 / (2 C n)) ‖W‖²
  const logits = new Float64Array(K);
  const fg = (th: Float64Array, g: Float64Array): number => {
    g.fill(0);
    let f = 0;
    for (let i = 0; i < n; i++) {
      let mx = -Infinity;
      for (let k = 0; k < K; k++) {
        let s = th[K * d + k];
        for (let j = 0; j < d; j++) s += th[k * d + j] * x[i * d + j];
        logits[k] = s;
        if (s > mx) mx = s;
      }
      let z = 0;
      for (let k = 0; k < K; k++) z += Math.exp(logits[k] - mx);
      const lse = mx + Math.log(z);
      f += lse - logits[idx[i]];
      for (let k = 0; k < K; k++) {
        const r = Math.exp(logits[k] - lse) - (k === idx[i] ? 1 : 0);
        if (r === 0) continue;
        for (let j = 0; j < d; j++) g[k * d + j] += r * x[i * d + j];
        g[K * d + k] += r;
      }
    }
    f /= n;
    for (let p = 0; p < P; p++) g[p] /= n;
    for (let p = 0; p < K * d; p++) {
      f += 0.5 * lam * th[p] * th[p];
      g[p] += lam * th[p];
    }
    return f;
  };
  // Newton's method while the Hessian is small (P ≤ 256: up to ~50 latents × 5 factors), else L-BFGS.
  const hess = (th: Float64Array, H: Float64Array): void => {
    const q = (d + 1) * K;
    H.fill(0);
    const p = new Float64Array(K);
    const xt = new Float64Array(d + 1);
    for (let i = 0; i < n; i++) {
      let mx = -Infinity;
      for (let k = 0; k < K; k++) {
        let sc = th[K * d + k];
        for (let j = 0; j < d; j++) sc += th[k * d + j] * x[i * d + j];
        p[k] = sc;
        if (sc > mx) mx = sc;
      }
      let z = 0;
      for (let k = 0; k < K; k++) z += p[k] = Math.exp(p[k] - mx);
      for (let k = 0; k < K; k++) p[k] /= z;
      for (let j = 0; j < d; j++) xt[j] = x[i * d + j];
      xt[d] = 1;
      // H[(k, a), (l, b)] += (δkl p_k − p_k p_l) x̃_a x̃_b, parameter (k, a) at a < d ? k·d + a : K·d + k
      for (let k = 0; k < K; k++) {
        for (let l = 0; l < K; l++) {
          const w = (k === l ? p[k] : 0) - p[k] * p[l];
          if (w === 0) continue;
          for (let a = 0; a <= d; a++) {
            const ra = (a < d ? k * d + a : K * d + k) * q;
            const wa = w * xt[a];
            for (let b = 0; b <= d; b++) H[ra + (b < d ? l * d + b : K * d + l)] += wa * xt[b];
          }
        }
      }
    }
    for (let t = 0; t < q * q; t++) H[t] /= n;
    for (let t = 0; t < K * d; t++) H[t * q + t] += lam;
  };
  const th =
    P <= 256
      ? newton(fg, hess, new Float64Array(P), { maxIter: opts.maxIter ?? 100 })
      : lbfgs(fg, new Float64Array(P), { maxIter: opts.maxIter ?? 1000 });
  return {
    classes,
    coef: th.slice(0, K * d),
    intercept: th.slice(K * d),
    predict(xs, m) {
      const rows = m ?? xs.length / d;
      const out = new Int32Array(rows);
      for (let i = 0; i < rows; i++) {
        let best = 0;
        let bv = -Infinity;
        for (let k = 0; k < K; k++) {
          let s = th[K * d + k];
          for (let j = 0; j < d; j++) s += th[k * d + j] * xs[i * d + j];
          if (s > bv) {
            bv = s;
            best = k;
          }
        }
        out[i] = classes[best];
      }
      return out;
    },
  };
}

/** Damped Newton's method with a backtracking line search, for smooth convex objectives of few parameters. */
export function newton(
  fg: (x: Float64Array, g: Float64Array) => number,
  hess: (x: Float64Array, H: Float64Array) => void,
  x0: Float64Array,
  opts: { maxIter?: number; gtol?: number } = {},
): Float64Array {
  const P = x0.length;
  const maxIter = opts.maxIter ?? 100;
  const gtol = opts.gtol ?? 1e-10;
  let x = Float64Array.from(x0);
  const g = new Float64Array(P);
  const gn = new Float64Array(P);
  const H = new Float64Array(P * P);
  const xn = new Float64Array(P);
  let f = fg(x, g);
  for (let it = 0; it < maxIter; it++) {
    let gmax = 0;
    for (let i = 0; i < P; i++) gmax = Math.max(gmax, Math.abs(g[i]));
    if (gmax <= gtol) break;
    hess(x, H);
    // A tiny ridge keeps the softmax's shift-invariant (intercept) direction solvable.
    let tr = 0;
    for (let i = 0; i < P; i++) tr += H[i * P + i];
    const ridge = 1e-10 * (tr / P) + 1e-14;
    for (let i = 0; i < P; i++) H[i * P + i] += ridge;
    const dir = choleskySolve(H, g, P);
    if (!dir) break;
    let slope = 0;
    for (let i = 0; i < P; i++) {
      dir[i] = -dir[i];
      slope += g[i] * dir[i];
    }
    if (!(slope < 0)) break;
    let t = 1;
    let fn = Infinity;
    for (let ls = 0; ls < 50; ls++) {
      for (let i = 0; i < P; i++) xn[i] = x[i] + t * dir[i];
      fn = fg(xn, gn);
      if (fn <= f + 1e-4 * t * slope) break;
      t *= 0.5;
    }
    if (!(fn <= f)) break;
    x = Float64Array.from(xn);
    g.set(gn);
    const df = f - fn;
    f = fn;
    if (df <= 1e-15 * Math.max(1, Math.abs(f))) break;
  }
  return x;
}

/** Solves A x = b for a symmetric positive definite A (row-major P × P); null if not positive definite. */
function choleskySolve(A: Float64Array, b: Float64Array, P: number): Float64Array | null {
  const L = new Float64Array(P * P);
  for (let i = 0; i < P; i++) {
    for (let j = 0; j <= i; j++) {
      let s = A[i * P + j];
      for (let k = 0; k < j; k++) s -= L[i * P + k] * L[j * P + k];
      if (i === j) {
        if (!(s > 0)) return null;
        L[i * P + i] = Math.sqrt(s);
      } else L[i * P + j] = s / L[j * P + j];
    }
  }
  const y = new Float64Array(P);
  for (let i = 0; i < P; i++) {
    let s = b[i];
    for (let k = 0; k < i; k++) s -= L[i * P + k] * y[k];
    y[i] = s / L[i * P + i];
  }
  for (let i = P - 1; i >= 0; i--) {
    let s = y[i];
    for (let k = i + 1; k < P; k++) s -= L[k * P + i] * y[k];
    y[i] = s / L[i * P + i];
  }
  return y;
}

/** Limited-memory BFGS with a backtracking (Armijo) line search, for smooth convex objectives. */
export function lbfgs(
  fg: (x: Float64Array, g: Float64Array) => number,
  x0: Float64Array,
  opts: { maxIter?: number; m?: number; gtol?: number; ftol?: number } = {},
): Float64Array {
  const maxIter = opts.maxIter ?? 1000;
  const M = opts.m ?? 10;
  const gtol = opts.gtol ?? 1e-8;
  const ftol = opts.ftol ?? 1e-13;
  const P = x0.length;
  let x = Float64Array.from(x0);
  let g = new Float64Array(P);
  let f = fg(x, g);
  const S: Float64Array[] = [];
  const Y: Float64Array[] = [];
  const rho: number[] = [];
  const dir = new Float64Array(P);
  const xn = new Float64Array(P);
  const gn = new Float64Array(P);
  const alpha = new Float64Array(M);
  const dot = (a: Float64Array, b: Float64Array) => {
    let s = 0;
    for (let i = 0; i < P; i++) s += a[i] * b[i];
    return s;
  };
  const maxAbs = (a: Float64Array) => {
    let m = 0;
    for (let i = 0; i < P; i++) m = Math.max(m, Math.abs(a[i]));
    return m;
  };
  for (let it = 0; it < maxIter; it++) {
    if (maxAbs(g) <= gtol) break;
    // Two-loop recursion: dir = −H g
    for (let i = 0; i < P; i++) dir[i] = -g[i];
    for (let k = S.length - 1; k >= 0; k--) {
      alpha[k] = rho[k] * dot(S[k], dir);
      for (let i = 0; i < P; i++) dir[i] -= alpha[k] * Y[k][i];
    }
    if (S.length) {
      const last = S.length - 1;
      const gamma = dot(S[last], Y[last]) / dot(Y[last], Y[last]);
      for (let i = 0; i < P; i++) dir[i] *= gamma;
    } else {
      const s = 1 / Math.max(1, Math.sqrt(dot(g, g)));
      for (let i = 0; i < P; i++) dir[i] *= s;
    }
    for (let k = 0; k < S.length; k++) {
      const beta = rho[k] * dot(Y[k], dir);
      for (let i = 0; i < P; i++) dir[i] += S[k][i] * (alpha[k] - beta);
    }
    let slope = dot(g, dir);
    if (!(slope < 0)) {
      // Not a descent direction: restart from steepest descent.
      S.length = Y.length = rho.length = 0;
      for (let i = 0; i < P; i++) dir[i] = -g[i];
      slope = -dot(g, g);
    }
    let t = 1;
    let fn = Infinity;
    for (let ls = 0; ls < 60; ls++) {
      for (let i = 0; i < P; i++) xn[i] = x[i] + t * dir[i];
      fn = fg(xn, gn);
      if (fn <= f + 1e-4 * t * slope) break;
      t *= 0.5;
    }
    if (!(fn <= f)) break; // no progress possible
    const s = new Float64Array(P);
    const yv = new Float64Array(P);
    for (let i = 0; i < P; i++) {
      s[i] = xn[i] - x[i];
      yv[i] = gn[i] - g[i];
    }
    const sy = dot(s, yv);
    if (sy > 1e-20) {
      if (S.length === M) {
        S.shift();
        Y.shift();
        rho.shift();
      }
      S.push(s);
      Y.push(yv);
      rho.push(1 / sy);
    }
    const df = f - fn;
    x = Float64Array.from(xn);
    g = Float64Array.from(gn);
    f = fn;
    if (df <= ftol * Math.max(1, Math.abs(f))) break;
  }
  return x;
}

/**
 * LinearSVC (liblinear L2-regularised squared hinge, intercept_scaling 1 so the bias is penalised too) on a
 * single feature, class_weight 'balanced'. K > 2: one-vs-rest, positives weighted by their class weight,
 * negatives by 1 (as liblinear); prediction = argmax of the K decision functions. Each binary problem
 * min ½(w² + b²) + Σ Cᵢ max(0, 1 − yᵢ(w xᵢ + b))² is solved by Newton's method on its 2 parameters.
 */
export function fitLinearSvc1d(
  x: ArrayLike<number>,
  y: ArrayLike<number>,
  C = 0.01,
): { classes: number[]; w: number[]; b: number[]; predict(x: ArrayLike<number>): Int32Array } {
  const n = y.length;
  const { classes, idx } = classIndex(y);
  const K = classes.length;
  const counts = new Float64Array(K);
  for (let i = 0; i < n; i++) counts[idx[i]]++;
  const weight = Array.from(counts, (c) => n / (K * c));
  const w: number[] = [];
  const b: number[] = [];
  const sgn = new Float64Array(n);
  const ci = new Float64Array(n);
  if (K === 2) {
    for (let i = 0; i < n; i++) {
      sgn[i] = idx[i] === 1 ? 1 : -1;
      ci[i] = C * weight[idx[i]];
    }
    const [wv, bv] = squaredHinge1d(x, sgn, ci);
    w.push(wv);
    b.push(bv);
  } else if (K > 2) {
    for (let k = 0; k < K; k++) {
      for (let i = 0; i < n; i++) {
        const pos = idx[i] === k;
        sgn[i] = pos ? 1 : -1;
        ci[i] = pos ? C * weight[k] : C;
      }
      const [wv, bv] = squaredHinge1d(x, sgn, ci);
      w.push(wv);
      b.push(bv);
    }
  }
  return {
    classes,
    w,
    b,
    predict(xs) {
      const out = new Int32Array(xs.length);
      for (let i = 0; i < xs.length; i++) {
        if (K < 2) out[i] = classes[0];
        else if (K === 2) out[i] = classes[w[0] * xs[i] + b[0] > 0 ? 1 : 0];
        else {
          let best = 0;
          let bv = -Infinity;
          for (let k = 0; k < K; k++) {
            const s = w[k] * xs[i] + b[k];
            if (s > bv) {
              bv = s;
              best = k;
            }
          }
          out[i] = classes[best];
        }
      }
      return out;
    },
  };
}

function squaredHinge1d(x: ArrayLike<number>, y: Float64Array, c: Float64Array): [number, number] {
  const n = y.length;
  const obj = (w: number, b: number) => {
    let f = 0.5 * (w * w + b * b);
    for (let i = 0; i < n; i++) {
      const m = 1 - y[i] * (w * x[i] + b);
      if (m > 0) f += c[i] * m * m;
    }
    return f;
  };
  let w = 0;
  let b = 0;
  let f = obj(w, b);
  let g0 = -1;
  for (let it = 0; it < 100; it++) {
    let gw = w;
    let gb = b;
    let hww = 1;
    let hwb = 0;
    let hbb = 1;
    for (let i = 0; i < n; i++) {
      const xi = x[i];
      const m = 1 - y[i] * (w * xi + b);
      if (m > 0) {
        const t = 2 * c[i];
        gw -= t * y[i] * m * xi;
        gb -= t * y[i] * m;
        hww += t * xi * xi;
        hwb += t * xi;
        hbb += t;
      }
    }
    const gn = Math.hypot(gw, gb);
    if (g0 < 0) g0 = gn;
    if (gn <= 1e-10 * Math.max(1, g0)) break;
    const det = hww * hbb - hwb * hwb;
    const dw = -(hbb * gw - hwb * gb) / det;
    const db = -(-hwb * gw + hww * gb) / det;
    const slope = gw * dw + gb * db;
    let t = 1;
    let fn = obj(w + dw, b + db);
    while (fn > f + 1e-4 * t * slope && t > 1e-12) {
      t *= 0.5;
      fn = obj(w + t * dw, b + t * db);
    }
    if (!(fn <= f)) break;
    w += t * dw;
    b += t * db;
    const done = f - fn <= 1e-15 * Math.max(1, f);
    f = fn;
    if (done) break;
  }
  return [w, b];
}

export interface GradientBoostingModel extends Classifier {
  /** sklearn feature_importances_: normalised mean impurity decrease per feature (zeros if no tree split). */
  featureImportances: Float64Array;
  /** predict() of the training rows, from the boosting itself. */
  fittedPredictions: Int32Array;
}

interface Tree {
  feature: Int32Array;
  threshold: Float64Array;
  left: Int32Array;
  right: Int32Array;
  value: Float64Array;
  nodes: number;
}

const FEATURE_THRESHOLD = 1e-7;
const IMPURITY_EPS = 2.220446049250313e-16;

/**
 * Grows depth-limited regression trees on one fixed feature matrix (sklearn's best-first splitter with
 * friedman_mse, min_samples_leaf 1, max_features None). Every node owns one contiguous segment of each
 * feature's presorted order, so a split search is a sequential scan and a split a stable partition.
 */
class TreeGrower {
  private readonly ord: Uint32Array[];
  private readonly val: Float32Array[];
  private readonly tmpI: Uint32Array;
  private readonly tmpV: Float32Array;
  private readonly goLeft: Uint8Array;
  readonly nodeOf: Int32Array;
  readonly importance: Float64Array;
  private readonly maxNodes: number;

  constructor(
    private readonly n: number,
    private readonly d: number,
    private readonly sortedIdx: readonly Uint32Array[],
    private readonly sortedVal: readonly Float32Array[],
    private readonly maxDepth: number,
  ) {
    this.ord = sortedIdx.map((a) => new Uint32Array(a.length));
    this.val = sortedVal.map((a) => new Float32Array(a.length));
    this.tmpI = new Uint32Array(n);
    this.tmpV = new Float32Array(n);
    this.goLeft = new Uint8Array(n);
    this.nodeOf = new Int32Array(n);
    this.importance = new Float64Array(d);
    this.maxNodes = 2 ** (maxDepth + 1) - 1;
  }

  /** Fits a tree to `resid`; leaves each sample's leaf in nodeOf and the per-feature impurity decrease (unnormalised SSE) in importance. */
  grow(resid: Float64Array): Tree {
    const { n, d, ord, val, maxNodes, nodeOf, goLeft } = this;
    for (let f = 0; f < d; f++) {
      ord[f].set(this.sortedIdx[f]);
      val[f].set(this.sortedVal[f]);
    }
    this.importance.fill(0);
    const tree: Tree = {
      feature: new Int32Array(maxNodes).fill(-1),
      threshold: new Float64Array(maxNodes),
      left: new Int32Array(maxNodes).fill(-1),
      right: new Int32Array(maxNodes).fill(-1),
      value: new Float64Array(maxNodes),
      nodes: 1,
    };
    const start = new Int32Array(maxNodes);
    const end = new Int32Array(maxNodes);
    const sum = new Float64Array(maxNodes);
    const sumsq = new Float64Array(maxNodes);
    const depthOf = new Int32Array(maxNodes);
    start[0] = 0;
    end[0] = n;
    for (let i = 0; i < n; i++) {
      sum[0] += resid[i];
      sumsq[0] += resid[i] * resid[i];
    }
    const o0 = ord[0];
    // Breadth-first: node ids in creation order are the queue.
    for (let v = 0; v < tree.nodes; v++) {
      const a = start[v];
      const b = end[v];
      const N = b - a;
      const S = sum[v];
      let splittable = depthOf[v] < this.maxDepth && N >= 2 && sumsq[v] / N - (S / N) * (S / N) > IMPURITY_EPS;
      let bestF = -1;
      let bestPos = 0;
      let bestThr = 0;
      let bNum = -1;
      let bDen = 1;
      if (splittable) {
        for (let f = 0; f < d; f++) {
          const o = ord[f];
          const vs = val[f];
          let cl = 0;
          let sl = 0;
          let last = 0;
          for (let q = a; q < b; q++) {
            const x = vs[q];
            if (cl > 0 && x > last + FEATURE_THRESHOLD) {
              const nr = N - cl;
              const diff = nr * sl - cl * (S - sl);
              const num = diff * diff;
              const den = cl * nr;
              // proxy improvement diff² / (nl·nr), compared without dividing
              if (num * bDen > bNum * den) {
                bNum = num;
                bDen = den;
                bestF = f;
                bestPos = cl;
                let thr = last / 2 + x / 2;
                if (thr === x || !Number.isFinite(thr)) thr = last;
                bestThr = thr;
              }
            }
            cl++;
            sl += resid[o[q]];
            last = x;
          }
        }
        if (bestF < 0) splittable = false;
      }
      if (!splittable) {
        // Leaves at maxDepth were assigned by their parent (whose partition was skipped).
        if (depthOf[v] < this.maxDepth) for (let q = a; q < b; q++) nodeOf[o0[q]] = v;
        continue;
      }
      const l = tree.nodes++;
      const r = tree.nodes++;
      tree.feature[v] = bestF;
      tree.threshold[v] = bestThr;
      tree.left[v] = l;
      tree.right[v] = r;
      depthOf[l] = depthOf[r] = depthOf[v] + 1;
      const m = a + bestPos;
      start[l] = a;
      end[l] = m;
      start[r] = m;
      end[r] = b;
      const ob = ord[bestF];
      for (let q = a; q < b; q++) {
        const i = ob[q];
        const left = q < m;
        goLeft[i] = left ? 1 : 0;
        const c = left ? l : r;
        sum[c] += resid[i];
        sumsq[c] += resid[i] * resid[i];
      }
      const sse = (u: number) => sumsq[u] - (sum[u] * sum[u]) / (end[u] - start[u]);
      this.importance[bestF] += sse(v) - sse(l) - sse(r);
      if (depthOf[l] >= this.maxDepth) {
        // Both children are leaves: assign them here and skip the partition.
        for (let q = a; q < b; q++) nodeOf[ob[q]] = q < m ? l : r;
        continue;
      }
      for (let f = 0; f < d; f++) this.partition(ord[f], val[f], a, b);
    }
    return tree;
  }

  private partition(o: Uint32Array, vs: Float32Array, a: number, b: number): void {
    const { goLeft, tmpI, tmpV } = this;
    let l = a;
    let r = 0;
    for (let q = a; q < b; q++) {
      const i = o[q];
      if (goLeft[i]) {
        o[l] = i;
        vs[l] = vs[q];
        l++;
      } else {
        tmpI[r] = i;
        tmpV[r] = vs[q];
        r++;
      }
    }
    o.set(tmpI.subarray(0, r), l);
    vs.set(tmpV.subarray(0, r), l);
  }
}

/**
 * Gradient boosted trees with sklearn GradientBoostingClassifier's defaults (see the file header).
 * x: [n × d] row-major (read as float32, as sklearn's trees do).
 */
export function fitGradientBoosting(
  x: ArrayLike<number>,
  n: number,
  d: number,
  y: ArrayLike<number>,
  opts: GbtOptions = {},
): GradientBoostingModel {
  const nEst = opts.nEstimators ?? GBT_DEFAULTS.nEstimators;
  const lr = opts.learningRate ?? GBT_DEFAULTS.learningRate;
  const maxDepth = opts.maxDepth ?? GBT_DEFAULTS.maxDepth;
  checkCount('nEstimators', nEst);
  checkCount('maxDepth', maxDepth);
  if (x.length !== n * d || y.length !== n) throw new Error(`fitGradientBoosting: need x [${n} × ${d}] and y [${n}]`);
  const X = Float32Array.from(x);
  const { classes, idx } = classIndex(y);
  const K = classes.length;
  if (K < 2) {
    const c = classes[0] ?? 0;
    return {
      classes,
      featureImportances: new Float64Array(d),
      fittedPredictions: new Int32Array(n).fill(c),
      predict: (_x, m) => new Int32Array(m ?? _x.length / d).fill(c),
    };
  }
  const T = K === 2 ? 1 : K; // trees per stage
  // Init: prior (log-odds for 2 classes, log-probabilities otherwise), probabilities clipped as sklearn.
  const eps32 = 1.1920928955078125e-7;
  const prior = new Float64Array(K);
  for (let i = 0; i < n; i++) prior[idx[i]]++;
  for (let k = 0; k < K; k++) prior[k] = Math.min(1 - eps32, Math.max(eps32, prior[k] / n));
  const init = new Float64Array(T);
  if (K === 2) init[0] = Math.log(prior[1] / (1 - prior[1]));
  else for (let k = 0; k < K; k++) init[k] = Math.log(prior[k]);
  const raw = new Float64Array(n * T);
  for (let i = 0; i < n; i++) raw.set(init, i * T);

  // Presorted columns (stable).
  const sortedIdx: Uint32Array[] = [];
  const sortedVal: Float32Array[] = [];
  for (let f = 0; f < d; f++) {
    const o = Array.from({ length: n }, (_, i) => i).sort((a, b) => X[a * d + f] - X[b * d + f] || a - b);
    sortedIdx.push(Uint32Array.from(o));
    sortedVal.push(Float32Array.from(o, (i) => X[i * d + f]));
  }
  const grower = new TreeGrower(n, d, sortedIdx, sortedVal, maxDepth);
  const nodeOf = grower.nodeOf;

  const trees: Tree[] = [];
  const importanceSum = new Float64Array(d);
  let relevant = 0;
  const prob = new Float64Array(n * K);
  const resid = new Float64Array(n);
  const hess = new Float64Array(n);
  const factor = K === 2 ? 1 : (K - 1) / K;

  for (let stage = 0; stage < nEst; stage++) {
    // Probabilities of the raw predictions at the start of the stage.
    if (K === 2) {
      for (let i = 0; i < n; i++) {
        const p = 1 / (1 + Math.exp(-raw[i]));
        prob[i * 2 + 1] = p;
        prob[i * 2] = 1 - p;
      }
    } else {
      for (let i = 0; i < n; i++) {
        let mx = -Infinity;
        for (let k = 0; k < K; k++) mx = Math.max(mx, raw[i * K + k]);
        let z = 0;
        for (let k = 0; k < K; k++) z += prob[i * K + k] = Math.exp(raw[i * K + k] - mx);
        for (let k = 0; k < K; k++) prob[i * K + k] /= z;
      }
    }
    for (let t = 0; t < T; t++) {
      const k = K === 2 ? 1 : t;
      for (let i = 0; i < n; i++) {
        const p = prob[i * K + k];
        resid[i] = (idx[i] === k ? 1 : 0) - p;
        hess[i] = p * (1 - p);
      }
      const tree = grower.grow(resid);
      if (tree.nodes > 1) {
        relevant++;
        for (let f = 0; f < d; f++) importanceSum[f] += grower.importance[f] / n;
      }
      // Newton leaf values.
      const num = new Float64Array(tree.nodes);
      const den = new Float64Array(tree.nodes);
      for (let i = 0; i < n; i++) {
        num[nodeOf[i]] += resid[i];
        den[nodeOf[i]] += hess[i];
      }
      for (let v = 0; v < tree.nodes; v++) {
        if (tree.feature[v] >= 0) continue;
        tree.value[v] = Math.abs(den[v]) < 1e-150 ? 0 : (factor * num[v]) / den[v];
      }
      for (let i = 0; i < n; i++) raw[i * T + t] += lr * tree.value[nodeOf[i]];
      trees.push(tree);
    }
  }

  const featureImportances = new Float64Array(d);
  if (relevant > 0) {
    let tot = 0;
    for (let f = 0; f < d; f++) tot += importanceSum[f] / relevant;
    for (let f = 0; f < d; f++) featureImportances[f] = tot > 0 ? importanceSum[f] / relevant / tot : 0;
  }

  // Flatten the trees for prediction (tree-major, so each tree's nodes stay hot across rows).
  let total = 0;
  const offset = new Int32Array(trees.length + 1);
  trees.forEach((tr, s) => {
    offset[s] = total;
    total += tr.nodes;
  });
  offset[trees.length] = total;
  const fFeat = new Int32Array(total);
  const fThr = new Float64Array(total);
  const fLeft = new Int32Array(total);
  const fVal = new Float64Array(total);
  trees.forEach((tr, s) => {
    const o = offset[s];
    for (let v = 0; v < tr.nodes; v++) {
      fFeat[o + v] = tr.feature[v];
      fThr[o + v] = tr.threshold[v];
      fLeft[o + v] = tr.left[v]; // right = left + 1
      fVal[o + v] = lr * tr.value[v];
    }
  });
  const decide = (r: Float64Array, rows: number, out: Int32Array) => {
    for (let i = 0; i < rows; i++) {
      if (K === 2) out[i] = classes[r[i] > 0 ? 1 : 0];
      else {
        let best = 0;
        for (let k = 1; k < K; k++) if (r[i * K + k] > r[i * K + best]) best = k;
        out[i] = classes[best];
      }
    }
    return out;
  };
  const fitted = decide(raw, n, new Int32Array(n));

  return {
    classes,
    featureImportances,
    fittedPredictions: fitted,
    predict(xs, m) {
      const rows = m ?? xs.length / d;
      const X32 = xs instanceof Float32Array ? xs : Float32Array.from(xs);
      const r = new Float64Array(rows * T);
      for (let i = 0; i < rows; i++) r.set(init, i * T);
      for (let s = 0; s < trees.length; s++) {
        const o = offset[s];
        const t = s % T;
        for (let i = 0; i < rows; i++) {
          let v = o;
          let f = fFeat[v];
          while (f >= 0) {
            v = o + (X32[i * d + f] <= fThr[v] ? fLeft[v] : fLeft[v] + 1);
            f = fFeat[v];
          }
          r[i * T + t] += fVal[v];
        }
      }
      return decide(r, rows, new Int32Array(rows));
    },
  };
}
