// Sample quality in the feature space of the evaluation classifier (src/eval/classifier.ts):
//
//   Fréchet distance (as FID, Heusel et al. 2017, with vaekit's classifier instead of Inception):
//       FD = ‖μ_r − μ_g‖² + tr Σ_r + tr Σ_g − 2 tr (Σ_r^{1/2} Σ_g Σ_r^{1/2})^{1/2}
//     means and (n−1)-normalised covariances in Float64; the trace of the matrix square root from the
//     eigendecomposition (cyclic Jacobi) of the symmetric PSD product Σ_r^{1/2} Σ_g Σ_r^{1/2}, whose
//     eigenvalues are those of Σ_r Σ_g.
//   Precision and recall (Kynkäänniemi et al. 2019, "Improved precision and recall"), k = 3:
//     the manifold of a set is the union of balls around its points with radius the distance to the
//     k-th nearest neighbour within the set; precision = fraction of samples inside the real manifold,
//     recall = fraction of real points inside the sample manifold.
//   Diversity: mean pairwise Euclidean distance between sample features (and between real ones for
//     reference); class coverage = fraction of classes the classifier predicts for at least one
//     sample; entropy (nats) of the predicted-class histogram, and that entropy / ln C.
//   Conditional models: the fraction of samples generated for label c that the classifier assigns to c.
//
// Distances are computed blockwise with one GEMM per block on the tfjs backend (float32 dot products
// of features centred on the real mean), everything else in Float64.
import * as tf from '@tensorflow/tfjs-core';
import { allRows, gatherRows, rowSize } from '../data/split.js';
import type { Split } from '../data/types.js';
import type { Rng } from '../rng.js';
import type { Classifier } from './classifier.js';

export {
  frechetDistance,
  gaussianStats,
  sqrtPsd,
  symmetricEigen,
  traceSqrtProduct,
  type GaussianStats,
} from '../stats/frechet.js';
import { frechetDistance, gaussianStats } from '../stats/frechet.js';

// ---------------------------------------------------------------------------------------------------
// Distances, k-NN manifolds

const BLOCK_ROWS = 512;

function rowNormsSq(x: Float32Array, n: number, d: number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < d; j++) s += x[i * d + j] * x[i * d + j];
    out[i] = s;
  }
  return out;
}

/**
 * Calls `visit(row, d2)` for every row of A with its squared distances to all rows of B (d2 is a
 * reused Float64Array of length nb). Blocked GEMM on the tfjs backend.
 */
function forEachDistanceRow(
  A: Float32Array,
  na: number,
  B: Float32Array,
  nb: number,
  d: number,
  visit: (row: number, d2: Float64Array) => void,
): void {
  const an = rowNormsSq(A, na, d);
  const bn = rowNormsSq(B, nb, d);
  const bT = tf.tidy(() => tf.transpose(tf.tensor2d(B, [nb, d])));
  const d2 = new Float64Array(nb);
  try {
    for (let s = 0; s < na; s += BLOCK_ROWS) {
      const e = Math.min(na, s + BLOCK_ROWS);
      const dots = tf.tidy(
        () => tf.matMul(tf.tensor2d(A.subarray(s * d, e * d), [e - s, d]), bT).dataSync() as Float32Array,
      );
      for (let r = 0; r < e - s; r++) {
        const ar = an[s + r];
        const o = r * nb;
        for (let j = 0; j < nb; j++) d2[j] = Math.max(0, ar + bn[j] - 2 * dots[o + j]);
        visit(s + r, d2);
      }
    }
  } finally {
    bT.dispose();
  }
}

/** The k-th smallest of `v` other than the `self` entry (squared radius of the k-NN ball). */
function kthSmallestExcluding(v: Float64Array, self: number, k: number, best: Float64Array): number {
  best.fill(Infinity);
  for (let j = 0; j < v.length; j++) {
    if (j === self) continue;
    const x = v[j];
    if (x >= best[k - 1]) continue;
    let i = k - 1;
    while (i > 0 && best[i - 1] > x) {
      best[i] = best[i - 1];
      i--;
    }
    best[i] = x;
  }
  return best[k - 1];
}

interface SelfStats {
  /** Squared k-NN radius per row. */
  radii2: Float64Array;
  /** Mean pairwise Euclidean distance over all pairs i ≠ j. */
  meanPairwise: number;
}

function selfStats(X: Float32Array, n: number, d: number, k: number): SelfStats {
  if (n <= k) throw new Error(`precision/recall: need more than k = ${k} points per set, got ${n}`);
  const radii2 = new Float64Array(n);
  const best = new Float64Array(k);
  let sum = 0;
  forEachDistanceRow(X, n, X, n, d, (i, d2) => {
    radii2[i] = kthSmallestExcluding(d2, i, k, best);
    for (let j = 0; j < n; j++) if (j !== i) sum += Math.sqrt(d2[j]);
  });
  return { radii2, meanPairwise: sum / (n * (n - 1)) };
}

export interface PrecisionRecall {
  precision: number;
  recall: number;
  k: number;
  /** Mean pairwise feature distance within the real set and within the sample set. */
  realMeanPairwiseDistance: number;
  sampleMeanPairwiseDistance: number;
}

function centre(x: Float32Array, n: number, d: number, mean: Float64Array): Float32Array {
  const out = new Float32Array(n * d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) out[i * d + j] = x[i * d + j] - mean[j];
  return out;
}

/**
 * Improved precision and recall (Kynkäänniemi et al. 2019) of `fake` against `real` (n × d feature
 * rows), with k-NN manifolds (k = 3). Also the mean pairwise distances within each set.
 */
export function precisionRecall(
  real: Float32Array,
  nReal: number,
  fake: Float32Array,
  nFake: number,
  d: number,
  k = 3,
): PrecisionRecall {
  if (real.length !== nReal * d || fake.length !== nFake * d)
    throw new Error('precisionRecall: feature arrays do not match n × d');
  // Centre both sets on the real mean: smaller norms, less cancellation in ‖a‖² + ‖b‖² − 2a·b.
  const m = new Float64Array(d);
  for (let i = 0; i < nReal; i++) for (let j = 0; j < d; j++) m[j] += real[i * d + j];
  for (let j = 0; j < d; j++) m[j] /= nReal;
  const R = centre(real, nReal, d, m);
  const F = centre(fake, nFake, d, m);
  const rs = selfStats(R, nReal, d, k);
  const fs = selfStats(F, nFake, d, k);
  // Round-off of the float32 dot products: a point at distance 0 from a real one (a copy) must count.
  const rn = rowNormsSq(R, nReal, d);
  let scale = 0;
  for (const v of rn) scale += v;
  const tol = (1e-6 * scale) / nReal;
  for (let i = 0; i < nReal; i++) rs.radii2[i] += tol;
  for (let j = 0; j < nFake; j++) fs.radii2[j] += tol;
  let inReal = 0;
  const realCovered = new Uint8Array(nReal);
  forEachDistanceRow(F, nFake, R, nReal, d, (j, d2) => {
    let inside = false;
    const rf = fs.radii2[j];
    for (let i = 0; i < nReal; i++) {
      const v = d2[i];
      if (!inside && v <= rs.radii2[i]) inside = true;
      if (v <= rf) realCovered[i] = 1;
    }
    if (inside) inReal++;
  });
  let covered = 0;
  for (const c of realCovered) covered += c;
  return {
    precision: inReal / nFake,
    recall: covered / nReal,
    k,
    realMeanPairwiseDistance: rs.meanPairwise,
    sampleMeanPairwiseDistance: fs.meanPairwise,
  };
}

// ---------------------------------------------------------------------------------------------------
// Class statistics

export interface ClassStats {
  /** Predicted-class counts. */
  histogram: number[];
  /** Fraction of classes predicted at least once. */
  coverage: number;
  /** Entropy of the predicted-class histogram, nats. */
  entropy: number;
  /** entropy / ln C (1: all classes equally often). */
  entropyNormalized: number;
}

export function classStats(labels: ArrayLike<number>, numClasses: number): ClassStats {
  const histogram = new Array<number>(numClasses).fill(0);
  for (let i = 0; i < labels.length; i++) histogram[labels[i]]++;
  const n = labels.length;
  let entropy = 0;
  for (const c of histogram) if (c > 0) entropy -= (c / n) * Math.log(c / n);
  return {
    histogram,
    coverage: histogram.filter((c) => c > 0).length / numClasses,
    entropy,
    entropyNormalized: numClasses > 1 ? entropy / Math.log(numClasses) : 0,
  };
}

/** n samples as flat rows [n, D] (e.g. z ~ p(z) decoded). */
export type SampleGenerator = (n: number) => Float32Array;
/** n samples of class `label` from a conditional model. */
export type ConditionalGenerator = (n: number, label: number) => Float32Array;

export interface ConditionalResult {
  /** Fraction of all conditional samples classified as their requested label. */
  accuracy: number;
  /** Per requested label. */
  perClass: number[];
  perClassN: number;
}

/** How often the classifier assigns conditional samples to the label they were generated for. */
export function conditionalAccuracy(
  classifier: Classifier,
  generate: ConditionalGenerator,
  perClass: number,
  numClasses = classifier.spec.numClasses,
): ConditionalResult {
  if (!Number.isInteger(perClass) || perClass < 1)
    throw new Error(`conditional accuracy: perClass must be a positive integer, got ${perClass}`);
  const per: number[] = [];
  let ok = 0;
  for (let c = 0; c < numClasses; c++) {
    const x = generate(perClass, c);
    const { labels } = classifier.run(x, perClass);
    let hit = 0;
    for (const l of labels) if (l === c) hit++;
    per.push(hit / perClass);
    ok += hit;
  }
  return { accuracy: ok / (perClass * numClasses), perClass: per, perClassN: perClass };
}

// ---------------------------------------------------------------------------------------------------
// Everything together

export interface SampleQualityOptions {
  classifier: Classifier;
  /** The real images (the test split). */
  real: Split;
  /** The model's samples. */
  generate: SampleGenerator;
  /** How many samples, and how many real images (a seeded subset when the split is larger). Default 10,000. */
  n?: number;
  k?: number;
  rng: Rng;
  /** A second real split (the training split): the Fréchet distance of real vs real at the same n, a floor for FD. */
  reference?: Split;
  /** Conditional models: a generator by label, and samples per label (default ⌈n / C⌉). */
  conditional?: ConditionalGenerator;
  conditionalPerClass?: number;
  /** Generate in chunks of this many (default 1000). */
  chunk?: number;
}

export interface SampleQualityResult {
  nReal: number;
  nSamples: number;
  featureDim: number;
  frechetDistance: number;
  /** FD between n real test and n real training images: the value a perfect model would get at this n. */
  frechetDistanceReference?: number;
  precision: number;
  recall: number;
  k: number;
  diversity: {
    meanPairwiseDistance: number;
    realMeanPairwiseDistance: number;
    classCoverage: number;
    classEntropy: number;
    classEntropyNormalized: number;
    classHistogram: number[];
    realClassEntropy: number;
  };
  conditional?: ConditionalResult;
  seconds: number;
}

function subset(split: Split, n: number, rng: Rng): Float32Array {
  if (n >= split.n) return allRows(split);
  const idx = rng.permutation(split.n).subarray(0, n);
  return gatherRows(
    split,
    Array.from(idx).sort((a, b) => a - b),
  ).x;
}

export function evaluateSampleQuality(opts: SampleQualityOptions): SampleQualityResult {
  const t0 = performance.now();
  const { classifier, real, rng } = opts;
  const D = rowSize(real);
  if (D !== rowSize({ shape: classifier.spec.inputShape }))
    throw new Error(
      `sample quality: the classifier takes ${classifier.spec.inputShape.join('×')} inputs, the data are ${real.shape.join('×')}`,
    );
  const n = opts.n ?? 10000;
  const nReal = Math.min(n, real.n);
  const k = opts.k ?? 3;
  const chunk = opts.chunk ?? 1000;
  const C = classifier.spec.numClasses;
  const F = classifier.spec.featureDim;

  const realOut = classifier.run(subset(real, nReal, rng.fork()), nReal);
  const samples = new Float32Array(n * D);
  for (let s = 0; s < n; s += chunk) {
    const m = Math.min(chunk, n - s);
    const x = opts.generate(m);
    if (x.length !== m * D)
      throw new Error(`sample quality: the generator returned ${x.length} values for ${m} samples of ${D}`);
    samples.set(x, s * D);
  }
  const fakeOut = classifier.run(samples, n);
  const rStats = gaussianStats(realOut.features, nReal, F);
  const fStats = gaussianStats(fakeOut.features, n, F);
  const fd = frechetDistance(rStats, fStats);
  let fdRef: number | undefined;
  if (opts.reference && opts.reference.n >= 2) {
    const nRef = Math.min(nReal, opts.reference.n);
    const refOut = classifier.run(subset(opts.reference, nRef, rng.fork()), nRef);
    fdRef = frechetDistance(rStats, gaussianStats(refOut.features, nRef, F));
  }
  const pr = precisionRecall(realOut.features, nReal, fakeOut.features, n, F, k);
  const cs = classStats(fakeOut.labels, C);
  const rcs = classStats(realOut.labels, C);
  const result: SampleQualityResult = {
    nReal,
    nSamples: n,
    featureDim: F,
    frechetDistance: fd,
    frechetDistanceReference: fdRef,
    precision: pr.precision,
    recall: pr.recall,
    k,
    diversity: {
      meanPairwiseDistance: pr.sampleMeanPairwiseDistance,
      realMeanPairwiseDistance: pr.realMeanPairwiseDistance,
      classCoverage: cs.coverage,
      classEntropy: cs.entropy,
      classEntropyNormalized: cs.entropyNormalized,
      classHistogram: cs.histogram,
      realClassEntropy: rcs.entropy,
    },
    seconds: 0,
  };
  if (opts.conditional)
    result.conditional = conditionalAccuracy(
      classifier,
      opts.conditional,
      opts.conditionalPerClass ?? Math.ceil(n / C),
      C,
    );
  result.seconds = (performance.now() - t0) / 1000;
  return result;
}
