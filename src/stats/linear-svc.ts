// scikit-learn LinearSVC(C, class_weight = 'balanced') on a single feature: liblinear's L2-regularised
// squared-hinge problem with the intercept as a regularised feature (intercept_scaling 1), one-vs-rest for
// K > 2 (the class weight on the positive class only, as liblinear does), balanced weights n / (K · n_c).
// Solved exactly (Newton on the 2 parameters) rather than to liblinear's 1e-4 tolerance: the coefficients
// equal sklearn's at tol 1e-10 to 1e-12 (test/disentanglement.test.ts). No npm package has liblinear
// (libsvm-js is libsvm only).

import { classIndex } from './classifier.js';

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
