// Using a trained model: generation from the prior, reconstruction, latent interpolation and encoding.
// Inputs and outputs are flat Float32Array rows; images are made from them in src/io.
import * as tf from '@tensorflow/tfjs-core';
import { gaussianPosterior, isCodePosterior, latentPoint, type LatentVariableModel } from '../models/types.js';
import { pathWeights } from '../models/latent-path.js';
import type { Rng } from '../rng.js';

/** Labels as an int32 tensor for a conditional model (required there, checked against its classes); else undefined. */
function labelTensor(model: LatentVariableModel, y: ArrayLike<number> | undefined, n: number): tf.Tensor1D | undefined {
  const K = model.numClasses;
  if (!K) return undefined;
  if (!y) throw new Error(`this ${model.config.kind} is conditioned on a label: give one per example (0 … ${K - 1})`);
  if (y.length !== n) throw new Error(`expected ${n} labels, got ${y.length}`);
  for (let i = 0; i < n; i++)
    if (!Number.isInteger(y[i]) || y[i] < 0 || y[i] >= K)
      throw new Error(`label ${y[i]} is out of range (the model has classes 0 … ${K - 1})`);
  return tf.tensor1d(Int32Array.from(y), 'int32');
}

/**
 * n new examples: z ~ p(z) (p(z|y) given labels `y` for a conditional model), then the decoder's mean
 * (or a sample of p(x|z) with `sampleX`).
 */
export function generate(
  model: LatentVariableModel,
  n: number,
  rng: Rng,
  opts: { sampleX?: boolean; temperature?: number; y?: ArrayLike<number> } = {},
): Float32Array {
  return tf.tidy(() => {
    const y = labelTensor(model, opts.y, n);
    let z = model.prior(n, y).sample(rng) as tf.Tensor2D;
    if (opts.temperature !== undefined && opts.temperature !== 1) z = tf.mul(z, opts.temperature) as tf.Tensor2D;
    const px = model.decode(z, y);
    return (opts.sampleX ? px.sample(rng) : px.mean()).dataSync() as Float32Array;
  });
}

/** The decoder's mean at the posterior mean: x̂ = E[x | z = μ(x)] (given the labels `y` for a conditional model; a VQ-VAE: at its codes k(x)). */
export function reconstruct(
  model: LatentVariableModel,
  x: Float32Array,
  n: number,
  y?: ArrayLike<number>,
): Float32Array {
  return tf.tidy(() => {
    const yt = labelTensor(model, y, n);
    const q = model.encode(tf.tensor2d(x, [n, x.length / n]), yt);
    return model.decode(latentPoint(q), yt).mean().dataSync() as Float32Array;
  });
}

/** Posterior means and log-variances of q(z|x) (q(z|x,y) given labels), [n, d] each. */
export function encode(
  model: LatentVariableModel,
  x: Float32Array,
  n: number,
  y?: ArrayLike<number>,
): { mu: Float32Array; logVar: Float32Array; dim: number } {
  return tf.tidy(() => {
    const q = gaussianPosterior(model.encode(tf.tensor2d(x, [n, x.length / n]), labelTensor(model, y, n)), 'encode');
    return { mu: q.mu.dataSync() as Float32Array, logVar: q.logVar.dataSync() as Float32Array, dim: q.mu.shape[1] };
  });
}

/** A VQ-VAE's code grids k(x): int32 indices, [n, M] (M codes per example, raster order over its h×w grid). */
export function encodeCodes(
  model: LatentVariableModel,
  x: Float32Array,
  n: number,
): { codes: Int32Array; dim: number } {
  return tf.tidy(() => {
    const q = model.encode(tf.tensor2d(x, [n, x.length / n]));
    if (!isCodePosterior(q))
      throw new Error(`encodeCodes: this ${model.config.kind} has a continuous latent (use encode)`);
    return { codes: q.indices.dataSync() as Int32Array, dim: q.indices.shape[1] };
  });
}

/** The points latentPoint(q(·|x)) of n inputs, [n, d]: μ(x), or a VQ-VAE's one-hot code grids. */
function latentPoints(
  model: LatentVariableModel,
  x: Float32Array,
  n: number,
  y?: ArrayLike<number>,
): { mu: Float32Array; dim: number } {
  return tf.tidy(() => {
    const z = latentPoint(model.encode(tf.tensor2d(x, [n, x.length / n]), labelTensor(model, y, n)));
    return { mu: z.dataSync() as Float32Array, dim: z.shape[1] };
  });
}

/**
 * Decoded points on the path between the posterior means of two inputs: linear, or spherical
 * (slerp, which keeps the norm typical of the Gaussian prior). A VQ-VAE's path runs between the one-hot
 * grids of its two code grids: the decoder sees mixtures of the two codes at each position.
 *
 * A conditional model needs `labels`, [label of xa, label of xb]: each end is encoded with its own label
 * (q(z|x, y)), and the whole path is decoded with the first's (p(x|z, y_a)).
 */
export function interpolate(
  model: LatentVariableModel,
  xa: Float32Array,
  xb: Float32Array,
  steps: number,
  method: 'linear' | 'slerp' = 'linear',
  labels?: readonly [number, number],
): Float32Array {
  if (!Number.isInteger(steps) || steps < 2) throw new Error(`interpolation needs at least 2 steps, got ${steps}`);
  const { mu, dim } = latentPoints(model, concat(xa, xb), 2, labels);
  const a = mu.subarray(0, dim);
  const b = mu.subarray(dim);
  const { wa, wb } = pathWeights(a, b, steps, method); // z(t) = w_a(t) μ_a + w_b(t) μ_b
  const z = new Float32Array(steps * dim);
  for (let s = 0; s < steps; s++) for (let i = 0; i < dim; i++) z[s * dim + i] = wa[s] * a[i] + wb[s] * b[i];
  return tf.tidy(
    () =>
      model
        .decode(
          tf.tensor2d(z, [steps, dim]),
          labelTensor(model, labels && new Array<number>(steps).fill(labels[0]), steps),
        )
        .mean()
        .dataSync() as Float32Array,
  );
}

function concat(a: Float32Array, b: Float32Array): Float32Array {
  const out = new Float32Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
