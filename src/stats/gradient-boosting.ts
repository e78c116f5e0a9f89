// Gradient boosted trees with scikit-learn GradientBoostingClassifier's defaults: log-loss, 100 stages,
// learning rate 0.1, depth-3 regression trees (./decision-tree.ts) on the negative gradient, one tree per
// class per stage (one in all for 2 classes), Newton leaf values ((K−1)/K · Σ r / Σ p(1−p)), prior init,
// and feature_importances_ = mean over trees with a split of the impurity decrease per feature / n,
// normalised to sum 1 (equal to sklearn's to 1e-12 where no splits tie; sklearn breaks ties by a random
// feature order, so its own importances vary with random_state by about 1e-3). No npm package fits:
// ml-random-forest / ml-cart have no boosting and quadratic split search; ml-xgboost and decision-tree expose
// no sklearn-compatible importances.
//
//   raw₀ = log prior;  each stage: r = onehot(y) − softmax(raw) (sigmoid for 2 classes), tree fit to r,
//   leaf value γ = (K−1)/K · Σ r / Σ p(1 − p),  raw += learningRate · γ(leaf of x).

import { checkCount } from './check.js';
import { classIndex, type Classifier } from './classifier.js';
import { TreeGrower, type Tree } from './decision-tree.js';

export interface GbtOptions {
  nEstimators?: number;
  learningRate?: number;
  maxDepth?: number;
}

export const GBT_DEFAULTS = Object.freeze({ nEstimators: 100, learningRate: 0.1, maxDepth: 3 });

export interface GradientBoostingModel extends Classifier {
  /** sklearn feature_importances_: normalised mean impurity decrease per feature (zeros if no tree split). */
  featureImportances: Float64Array;
  /** predict() of the training rows, from the boosting itself. */
  fittedPredictions: Int32Array;
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
