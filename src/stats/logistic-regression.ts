// Multinomial logistic regression with scikit-learn LogisticRegression's defaults: L2 penalty ½‖W‖² +
// C·Σ cross-entropy, intercept unpenalised, solved to convergence by Newton's method (L-BFGS past 256
// parameters). sklearn stops lbfgs after 100 iterations at tol 1e-4; the coefficients agree to 1e-4
// (test/disentanglement.test.ts, against scikit-learn 1.2.1). No sound npm package does this:
// ml-logistic-regression is unregularised fixed-step one-vs-rest gradient descent without intercept.
//
//   p(k | x) = softmax_k(W x + b);   minimise  (1/n) Σᵢ −log p(yᵢ | xᵢ) + (1 / (2 C n)) ‖W‖²
//   ∇ = (1/n) Σᵢ (p − onehot(yᵢ)) x̃ᵢᵀ + λ W,   H = (1/n) Σᵢ (diag p − p pᵀ) ⊗ x̃ᵢ x̃ᵢᵀ + λ I_W,  x̃ = [x, 1]

import { classIndex, type Classifier } from './classifier.js';
import { lbfgs, newton } from './optimize.js';

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
