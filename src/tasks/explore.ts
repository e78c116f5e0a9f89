// What the latent-space explorer (web/, `vaekit serve`) asks of a model, as flat arrays in and out:
//
//   decodeLatent      x̂ = E[x | z] for given points z (the decoder's mean; given labels y for a conditional model)
//   klPerUnit         mean over examples of KL(q(z_i|x) ‖ N(0, 1)) = ½ (μ_i² + σ_i² − log σ_i² − 1), per unit i
//   unitsByUse        the units in order of decreasing KL (the most-used first: one slider each)
//   pcaMap            a 2-D map of points μ(x): the top two principal axes of their covariance (power iteration
//                     with deflation, Float64), the projection (μ − m)·a_k and its inverse m + u a_1 + v a_2
//
// A UMAP map is made in the page (umap-js, seeded); its inverse there is an inverse-distance blend of the
// nearest examples' μ. Everything here is browser-safe (no node:, no native backend).
import * as tf from '@tensorflow/tfjs-core';
import type { LatentVariableModel } from '../models/types.js';

/** Labels as an int32 tensor for a conditional model (required there, in range); else undefined. */
function labels(model: LatentVariableModel, y: ArrayLike<number> | undefined, n: number): tf.Tensor1D | undefined {
  const K = model.numClasses;
  if (!K) return undefined;
  if (!y) throw new Error(`this ${model.config.kind} is conditioned on a label: give one per row (0 … ${K - 1})`);
  if (y.length !== n) throw new Error(`expected ${n} labels, got ${y.length}`);
  for (let i = 0; i < n; i++)
    if (!Number.isInteger(y[i]) || y[i] < 0 || y[i] >= K)
      throw new Error(`label ${y[i]} is out of range (the model has classes 0 … ${K - 1})`);
  return tf.tensor1d(Int32Array.from(y), 'int32');
}

/** The width of z decode takes: latentDim (an HVAE's Σ d_l); an error for the VQ-VAE (it decodes code grids). */
export function decodeWidth(model: LatentVariableModel): number {
  const c = model.config;
  if (c.kind === 'vqvae') throw new Error('decoding a point z needs a continuous latent; a VQ-VAE decodes code grids');
  return c.latentDim;
}

/** The decoder's mean at n points z [n × width] (labels y for a conditional model). */
export function decodeLatent(
  model: LatentVariableModel,
  z: Float32Array,
  n: number,
  y?: ArrayLike<number>,
): Float32Array {
  const d = decodeWidth(model);
  if (!Number.isInteger(n) || n < 1 || z.length !== n * d)
    throw new Error(`expected ${n} latent points of ${d} values (${n * d} numbers), got ${z.length}`);
  return tf.tidy(
    () =>
      model
        .decode(tf.tensor2d(z, [n, d]), labels(model, y, n))
        .mean()
        .dataSync() as Float32Array,
  );
}

/** Mean per-unit KL(q(z_i|x) ‖ N(0,1)) over n rows of posterior means and log-variances [n × d]. */
export function klPerUnit(mu: ArrayLike<number>, logVar: ArrayLike<number>, n: number, d: number): Float64Array {
  const kl = new Float64Array(d);
  for (let r = 0; r < n; r++)
    for (let i = 0; i < d; i++) {
      const m = mu[r * d + i];
      const lv = logVar[r * d + i];
      kl[i] += 0.5 * (m * m + Math.exp(lv) - lv - 1);
    }
  for (let i = 0; i < d; i++) kl[i] /= Math.max(1, n);
  return kl;
}

/** Unit indices by decreasing KL (ties: lower index first). */
export function unitsByUse(kl: ArrayLike<number>): number[] {
  return Array.from({ length: kl.length }, (_, i) => i).sort((a, b) => kl[b] - kl[a] || a - b);
}

export interface PcaMap {
  /** The mean m of the points [d]. */
  mean: Float64Array;
  /** The two unit axes a_1, a_2 [d] each (for d = 1 the second is zero). */
  axes: [Float64Array, Float64Array];
  /** The points' coordinates [n × 2]. */
  points: Float32Array;
}

/** The principal 2-D map of n points [n × d] (see the header); deterministic (fixed start vectors). */
export function pcaMap(x: ArrayLike<number>, n: number, d: number): PcaMap {
  if (n < 1 || x.length !== n * d) throw new Error(`pcaMap: expected ${n} × ${d} values, got ${x.length}`);
  const mean = new Float64Array(d);
  for (let r = 0; r < n; r++) for (let i = 0; i < d; i++) mean[i] += x[r * d + i] / n;
  const C = new Float64Array(d * d);
  for (let r = 0; r < n; r++)
    for (let i = 0; i < d; i++) {
      const a = x[r * d + i] - mean[i];
      for (let j = 0; j < d; j++) C[i * d + j] += (a * (x[r * d + j] - mean[j])) / n;
    }
  const axis = (): Float64Array => {
    let v = new Float64Array(d).map((_, i) => 1 + i / d);
    for (let it = 0; it < 500; it++) {
      const w = new Float64Array(d);
      for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) w[i] += C[i * d + j] * v[j];
      const norm = Math.hypot(...w);
      if (norm < 1e-12) return new Float64Array(d);
      w.forEach((_, i) => (w[i] /= norm));
      const moved = w.reduce((s, wi, i) => s + Math.abs(wi - v[i]), 0);
      v = w;
      if (moved < 1e-12) break;
    }
    // deflate: C ← C − λ v vᵀ
    let lambda = 0;
    for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) lambda += v[i] * C[i * d + j] * v[j];
    for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) C[i * d + j] -= lambda * v[i] * v[j];
    return v;
  };
  const a1 = axis();
  const a2 = d > 1 ? axis() : new Float64Array(d);
  const points = new Float32Array(n * 2);
  for (let r = 0; r < n; r++)
    for (let i = 0; i < d; i++) {
      const c = x[r * d + i] - mean[i];
      points[r * 2] += c * a1[i];
      points[r * 2 + 1] += c * a2[i];
    }
  return { mean, axes: [a1, a2], points };
}

/** The point m + u a_1 + v a_2 of latent space at map coordinates (u, v). */
export function pcaInverse(map: PcaMap, u: number, v: number): Float32Array {
  return Float32Array.from(map.mean, (m, i) => m + u * map.axes[0][i] + v * map.axes[1][i]);
}

/**
 * The k rows of points [n × d] nearest to q (Euclidean), nearest first (ties: the lower index first), with
 * their distances; `skip` leaves one index out (a query that is itself a row).
 */
export function nearestRows(
  points: ArrayLike<number>,
  n: number,
  d: number,
  q: ArrayLike<number>,
  k: number,
  skip = -1,
): { index: number[]; distance: number[] } {
  if (points.length !== n * d || q.length !== d)
    throw new Error(
      `nearestRows: ${n} points of ${d} values and a query of ${d}, got ${points.length} and ${q.length}`,
    );
  const dist: [number, number][] = [];
  for (let i = 0; i < n; i++) {
    if (i === skip) continue;
    let s = 0;
    for (let j = 0; j < d; j++) s += (points[i * d + j] - q[j]) ** 2;
    dist.push([Math.sqrt(s), i]);
  }
  dist.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const top = dist.slice(0, Math.max(0, k));
  return { index: top.map((t) => t[1]), distance: top.map((t) => t[0]) };
}
