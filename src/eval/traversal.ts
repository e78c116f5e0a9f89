// Latent traversals: starting from a base code z, sweep one latent dimension at a time over evenly spaced
// values (default −3 … 3) and decode each code to the decoder's mean image. One row per dimension, rows
// ordered by the dimension's KL to the prior (most informative first) when the KL is given.
// A hierarchical VAE (whose decoder reads only z_1) is walked along its generative path: unit u of layer
// l takes μ_p + v·σ_p of p(z_l | z_{l+1}) (v itself at the top layer, whose prior is N(0, I)), the layers
// above stay at the base code and the layers below follow the prior's mean path z_k = μ_p,k(z_{k+1}).
//
//   latentTraversal(model, z, opts) → the decoded images, rows × steps
// The images are returned as pixels; src/io/traversal.ts lays them out as a PNG grid or an animated GIF.

import * as tf from '@tensorflow/tfjs-core';
import { latentDimOf, type LatentVariableModel } from '../models/types.js';
import { HVAE } from '../models/hvae.js';

export interface TraversalOptions {
  /** Values per dimension, evenly spaced over [−limit, limit] (default 11, so 0 is one of them). */
  steps?: number;
  /** Half-width of the sweep (default 3: ±3 prior standard deviations). */
  limit?: number;
  /** Per-dimension KL to the prior (e.g. the latent report's klPerDim): rows sorted by it, largest first. */
  kl?: ArrayLike<number>;
  /** Explicit rows (dimension indices, in order); overrides the KL ordering. */
  dims?: readonly number[];
  /** Keep only the first maxRows rows (after ordering). */
  maxRows?: number;
  /** Class label for conditional models (decode needs y). */
  y?: number;
  /** Codes decoded per call (default 256). */
  batchSize?: number;
}

export interface Traversal {
  /** rows × steps images, each h × w × c, row-major: image (r, s) at ((r · steps + s) · h · w · c). */
  images: Float32Array;
  /** The latent dimension of each row. */
  dims: number[];
  /** The values each dimension takes, left to right. */
  values: number[];
  rows: number;
  steps: number;
  /** [h, w, c] of one image. */
  shape: [number, number, number];
}

/** Row order: by KL (descending, ties to the lower index), else 0 … latentDim − 1. */
export function traversalOrder(
  latentDim: number,
  opts: Pick<TraversalOptions, 'kl' | 'dims' | 'maxRows'> = {},
): number[] {
  let dims: number[];
  if (opts.dims) {
    dims = [...opts.dims];
    for (const d of dims)
      if (!Number.isInteger(d) || d < 0 || d >= latentDim)
        throw new Error(`traversal: dimension ${d} out of range 0..${latentDim - 1}`);
  } else if (opts.kl) {
    const kl = opts.kl;
    if (kl.length !== latentDim)
      throw new Error(`traversal: kl has ${kl.length} values, the model ${latentDim} latent dimensions`);
    dims = Array.from({ length: latentDim }, (_, i) => i).sort((a, b) => kl[b] - kl[a] || a - b);
  } else {
    dims = Array.from({ length: latentDim }, (_, i) => i);
  }
  if (opts.maxRows !== undefined) {
    if (!Number.isInteger(opts.maxRows) || opts.maxRows < 1)
      throw new Error(`traversal: maxRows must be a positive integer, got ${opts.maxRows}`);
    dims = dims.slice(0, opts.maxRows);
  }
  if (dims.length === 0) throw new Error('traversal: no dimensions to traverse');
  return dims;
}

function imageShape(model: LatentVariableModel): [number, number, number] {
  const s = model.config.inputShape;
  if (s.length === 3 && (s[2] === 1 || s[2] === 3)) return [s[0], s[1], s[2]];
  if (s.length === 2) return [s[0], s[1], 1];
  throw new Error(`traversal: the model's inputs [${s.join(', ')}] are not images (need [h, w, 1] or [h, w, 3])`);
}

/** Decodes the traversal codes of `z` (length latentDim) to the decoder's mean images. */
export function latentTraversal(
  model: LatentVariableModel,
  z: ArrayLike<number>,
  opts: TraversalOptions = {},
): Traversal {
  const latentDim = latentDimOf(model.config, 'traversal');
  if (z.length !== latentDim)
    throw new Error(`traversal: base z has ${z.length} values, the model ${latentDim} latent dimensions`);
  for (let i = 0; i < z.length; i++)
    if (!Number.isFinite(z[i])) throw new Error(`traversal: base z[${i}] is not finite`);
  const steps = opts.steps ?? 11;
  const limit = opts.limit ?? 3;
  if (!Number.isInteger(steps) || steps < 2) throw new Error(`traversal: steps must be an integer >= 2, got ${steps}`);
  if (!(limit > 0) || !Number.isFinite(limit))
    throw new Error(`traversal: limit must be a positive number, got ${limit}`);
  const bs = opts.batchSize ?? 256;
  if (model.numClasses !== undefined && opts.y === undefined)
    throw new Error('traversal: a conditional model needs a class label (y)');
  const shape = imageShape(model);
  const D = shape[0] * shape[1] * shape[2];
  const dims = traversalOrder(latentDim, opts);
  const values = Array.from({ length: steps }, (_, s) => -limit + (2 * limit * s) / (steps - 1));
  values[steps - 1] = limit;
  const rows = dims.length;
  const total = rows * steps;
  const codes = new Float32Array(total * latentDim);
  for (let r = 0; r < rows; r++) {
    for (let s = 0; s < steps; s++) {
      const o = (r * steps + s) * latentDim;
      for (let j = 0; j < latentDim; j++) codes[o + j] = z[j];
      codes[o + dims[r]] = values[s];
    }
  }
  if (model instanceof HVAE) hierarchicalCodes(model, codes, z, dims, values);
  const images = new Float32Array(total * D);
  for (let a = 0; a < total; a += bs) {
    const m = Math.min(bs, total - a);
    const px = tf.tidy(() => {
      const zt = tf.tensor2d(codes.subarray(a * latentDim, (a + m) * latentDim), [m, latentDim]);
      const y = opts.y !== undefined ? tf.tensor1d(new Int32Array(m).fill(opts.y), 'int32') : undefined;
      return model.decode(zt, y).mean().dataSync();
    });
    if (px.length !== m * D)
      throw new Error(`traversal: the decoder returned ${px.length} values for ${m} images of ${D}`);
    images.set(px, a * D);
  }
  return { images, dims, values, rows, steps, shape };
}

/** Rewrites the codes of each row (one unit of one layer swept over `values`) along the HVAE's generative path. */
function hierarchicalCodes(
  model: HVAE,
  codes: Float32Array,
  z: ArrayLike<number>,
  dims: number[],
  values: number[],
): void {
  const layers = model.config.latentDims;
  const offsets = layers.map((_, l) => layers.slice(0, l).reduce((a, b) => a + b, 0));
  const latentDim = offsets[layers.length - 1] + layers[layers.length - 1];
  const steps = values.length;
  const zb = Float32Array.from(z);
  dims.forEach((d, r) => {
    let l = layers.length - 1;
    while (offsets[l] > d) l--;
    const u = d - offsets[l];
    const rows = tf.tidy(() => {
      const base = (k: number) =>
        tf.tile(tf.tensor2d(zb.subarray(offsets[k], offsets[k] + layers[k]), [1, layers[k]]), [
          steps,
          1,
        ]) as tf.Tensor2D;
      const zs: tf.Tensor2D[] = layers.map((_, k) => base(k));
      // unit u of layer l: v at the top, μ_p + v·σ_p of p(z_l | z_{l+1}) (at the base code above) below
      let loc = tf.zeros([steps, 1]);
      let scale = tf.ones([steps, 1]);
      if (l < layers.length - 1) {
        const p = model.conditionalPrior(l, zs[l + 1]);
        loc = tf.slice(p.mu, [0, u], [steps, 1]);
        scale = tf.exp(tf.mul(tf.slice(p.logVar, [0, u], [steps, 1]), 0.5));
      }
      const unit = tf.add(loc, tf.mul(scale, tf.tensor2d(values, [steps, 1])));
      const parts = [
        tf.slice(zs[l], [0, 0], [steps, u]),
        unit,
        tf.slice(zs[l], [0, u + 1], [steps, layers[l] - u - 1]),
      ];
      zs[l] = tf.concat(parts, 1) as tf.Tensor2D;
      for (let k = l - 1; k >= 0; k--) zs[k] = model.conditionalPrior(k, zs[k + 1]).mu;
      return tf.concat(zs, 1).dataSync() as Float32Array;
    });
    codes.set(rows, r * steps * latentDim);
  });
}
