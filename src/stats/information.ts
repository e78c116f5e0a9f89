// Discrete information measures and the histogram discretisation disentanglement_lib uses before them:
//   histogramDiscretize  numpy digitize(x, histogram(x, bins)[1][:-1]): equal-width bins, values 1..bins
//   discreteMutualInfo   I(A; B) = Σ p(a, b) log(p(a, b) / (p(a) p(b)))  (nats; sklearn mutual_info_score)
//   discreteEntropy      H(A) = −Σ p(a) log p(a)  (nats)
//   entropyBase          scipy.stats.entropy(p, base): H of normalised non-negative weights, log base `base`

import { checkCount } from './check.js';

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

/** scipy.stats.entropy(p, base) of non-negative weights (normalised here). */
export function entropyBase(p: ArrayLike<number>, base: number): number {
  let s = 0;
  for (let i = 0; i < p.length; i++) s += p[i];
  let h = 0;
  for (let i = 0; i < p.length; i++) {
    const q = p[i] / s;
    if (q > 0) h -= q * Math.log(q);
  }
  return h / Math.log(base);
}
