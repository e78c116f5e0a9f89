// The VQ-VAE objective (van den Oord et al., 2017, eq. 3), per example:
//   z_q  = z_e + sg[e − z_e]                        straight-through: ∂L/∂z_e = ∂L/∂z_q for the reconstruction
//   rec  = −log p(x | z_q)                          Gaussian with fixed σ (½‖x − x̂‖²/σ² + const) or Bernoulli (BCE)
//   codebook   = ‖sg[z_e] − e‖²                     moves the codes (absent with EMA updates, which move them instead)
//   commitment = β ‖z_e − sg[e]‖²                   keeps the encoder near its codes
//   total = rec + codebook + commitment
// Reported with them (batch figures, the same for every example of the batch, so the trainer's mean is the
// batch's): perplexity = exp(−Σ_k p_k log p_k) of the batch's code frequencies p_k (K when all codes are
// used equally, 1 when one is), usage = fraction of the K codes used, restarts = dead codes restarted, and
// mse = mean_d (x_d − x̂_d)² for a Gaussian decoder.
// A training step also updates the codebook outside the gradient (EMA, restarts: model.updateCodebook).
//
// The bound: q(k|x) is a point mass, so −ELBO = −log p(x | k(x)) − log p(k(x)) (KL(q ‖ p) = −log p(k(x));
// M log K under the uniform prior the VQ-VAE is trained with, the learned prior's −log p(k) once fitted).
import * as tf from '@tensorflow/tfjs-core';
import { rowRange, rowSize } from '../data/split.js';
import type { Split } from '../data/types.js';
import type { CodePrior } from '../distributions/codes.js';
import { VQVAE } from '../models/vqvae.js';
import { stopGradient } from '../nn/ops.js';
import type { Rng } from '../rng.js';
import type { LatentVariableModel } from '../models/types.js';
import type { Terms } from './types.js';

export interface VqObjectiveOptions {
  rng: Rng;
  /** Update the codebook outside the gradient (EMA, dead-code restarts): true in training (default), false in evaluation. */
  update?: boolean;
}

/** Perplexity exp(H(p)) and usage (fraction of codes with p_k > 0) of assignment counts n_k. */
export function codeUsage(counts: ArrayLike<number>): { perplexity: number; usage: number } {
  let n = 0;
  let used = 0;
  for (let k = 0; k < counts.length; k++) {
    n += counts[k];
    if (counts[k] > 0) used += 1;
  }
  if (n === 0) return { perplexity: NaN, usage: 0 };
  let h = 0;
  for (let k = 0; k < counts.length; k++) if (counts[k] > 0) h -= (counts[k] / n) * Math.log(counts[k] / n);
  return { perplexity: Math.exp(h), usage: used / counts.length };
}

function countCodes(indices: ArrayLike<number>, K: number): Float64Array {
  const c = new Float64Array(K);
  for (let i = 0; i < indices.length; i++) c[indices[i]] += 1;
  return c;
}

const sumSq = (a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.square(tf.sub(a, b)), [1, 2]) as tf.Tensor1D;

/** The VQ-VAE's loss and its terms, [B] each (see the header). */
export function vqObjective(model: VQVAE, x: tf.Tensor2D, opts: VqObjectiveOptions): Terms {
  const beta = model.config.commitment;
  const update = opts.update ?? true;
  return tf.tidy(() => {
    const B = x.shape[0];
    const zE = model.encodeContinuous(x); //                            z_e(x), [B, M, D]
    const { indices, e } = model.quantize(zE); //                       k = argmin ‖z_e − e_j‖², e = e_k
    const zQ = tf.add(zE, stopGradient(tf.sub(e, zE))) as tf.Tensor3D; // z_q = z_e + sg[e − z_e]
    const px = model.decodeLatent(zQ);
    const rec = tf.neg(px.logProb(x)); //                                −log p(x | z_q)
    const commitment = tf.mul(sumSq(zE, stopGradient(e)), beta) as tf.Tensor1D; // β‖z_e − sg[e]‖²
    const terms: Terms = { total: rec, rec };
    if (!model.config.ema) {
      terms.codebook = sumSq(stopGradient(zE), e); //                   ‖sg[z_e] − e‖²
      terms.total = tf.add(tf.add(rec, terms.codebook), commitment) as tf.Tensor1D;
    } else terms.total = tf.add(rec, commitment) as tf.Tensor1D;
    terms.commitment = commitment;
    if (model.config.likelihood === 'gaussian') terms.mse = tf.mean(tf.square(tf.sub(x, px.mean())), 1) as tf.Tensor1D;
    const batchFigure = (v: number) => tf.fill([B], v) as tf.Tensor1D;
    let counts: Float64Array;
    if (update) {
      const u = model.updateCodebook(zE, indices, opts.rng);
      counts = u.counts;
      if (model.config.restartAfter) terms.restarts = batchFigure(u.restarted.length);
    } else counts = countCodes(indices.dataSync(), model.K);
    const { perplexity, usage } = codeUsage(counts);
    terms.perplexity = batchFigure(perplexity);
    terms.usage = batchFigure(usage);
    return terms;
  });
}

/** vqObjective as the shared trainer calls objectives: train(model, data, vqTrainingObjective, opts). */
export function vqTrainingObjective(model: LatentVariableModel, x: tf.Tensor2D, ctx: { rng: Rng }): Terms {
  if (!(model instanceof VQVAE)) throw new Error(`the VQ objective trains a VQ-VAE, not a ${model.config.kind}`);
  return vqObjective(model, x, { rng: ctx.rng });
}

/** −ELBO = rec + kl, kl = KL(q ‖ p) = −log p(k(x)) under the model's prior (learned, or uniform: M log K). */
export function vqElbo(model: VQVAE, x: tf.Tensor2D, prior?: CodePrior): Terms {
  return tf.tidy(() => {
    const q = model.encode(x);
    const rec = tf.neg(model.decode(q.indices).logProb(x));
    const kl = q.kl(prior ?? model.prior(x.shape[0]));
    return { total: tf.add(rec, kl) as tf.Tensor1D, rec, kl };
  });
}

export interface VqEvaluation {
  /** Mean −log p(x | k(x)), nats per example. */
  rec: number;
  /** Mean KL(q ‖ p) = −log p(k(x)) under the model's prior, nats per example. */
  kl: number;
  /** rec + kl: the −ELBO, an upper bound on −log p(x) (nats per example). */
  bound: number;
  /** Mean squared error of the decoder mean, per pixel (mean over images), and the mean per-image PSNR (dB, data range 1). */
  mse: number;
  psnr: number;
  /** Perplexity and usage of the code frequencies over the whole split. */
  perplexity: number;
  usage: number;
  n: number;
}

/**
 * Held-out figures of a VQ-VAE over (the first `limit` rows of) a split. `withPrior: false` skips the
 * prior's −log p(k(x)) (kl and bound are then NaN): the per-epoch figures while the VQ-VAE trains, before
 * any prior is fitted.
 */
export function evaluateVq(
  model: VQVAE,
  split: Split,
  opts: { batchSize?: number; limit?: number; withPrior?: boolean } = {},
): VqEvaluation {
  const withPrior = opts.withPrior ?? true;
  const n = Math.min(split.n, opts.limit ?? Infinity);
  const bs = opts.batchSize ?? 500;
  const D = rowSize(split);
  const counts = new Float64Array(model.K);
  let rec = 0;
  let kl = 0;
  let mse = 0;
  let psnr = 0;
  for (let s = 0; s < n; s += bs) {
    const e = Math.min(n, s + bs);
    const xs = rowRange(split, s, e);
    const { k, r, l, xhat } = tf.tidy(() => {
      const x = tf.tensor2d(xs, [e - s, D]);
      const q = model.encode(x);
      const px = model.decode(q.indices);
      return {
        k: q.indices.dataSync(),
        r: tf.sum(tf.neg(px.logProb(x))).dataSync()[0],
        l: withPrior ? tf.sum(q.kl(model.prior(e - s))).dataSync()[0] : NaN,
        xhat: px.mean().dataSync() as Float32Array,
      };
    });
    for (let i = 0; i < k.length; i++) counts[k[i]] += 1;
    rec += r;
    kl += l;
    for (let b = 0; b < e - s; b++) {
      let m = 0;
      for (let d = 0; d < D; d++) {
        const diff = xs[b * D + d] - xhat[b * D + d];
        m += diff * diff;
      }
      m /= D;
      mse += m;
      psnr += m === 0 ? 100 : Math.min(100, -10 * Math.log10(m));
    }
  }
  const { perplexity, usage } = codeUsage(counts);
  return { rec: rec / n, kl: kl / n, bound: (rec + kl) / n, mse: mse / n, psnr: psnr / n, perplexity, usage, n };
}
