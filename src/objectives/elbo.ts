// The evidence lower bound (AEVB, Kingma & Welling 2014, eq. 10), estimated with L samples of ε:
//   ELBO(x) = E_q(z|x)[log p(x|z)] − KL(q(z|x) ‖ p(z))
//   loss    = −E_q[log p(x|z)] + β·KL          (β = 1: the plain VAE; β > 1: β-VAE)
// A hierarchical posterior (a tuple of layers z_1 … z_L) has no closed-form KL: it gives the per-layer
// terms at the sample, KL = Σ_l E_q[KL(q(z_l | z_{l+1}, x) ‖ p(z_l | z_{l+1}))], reported as kl1 … klL.
import * as tf from '@tensorflow/tfjs-core';
import { DiagGaussian, StdNormal } from '../distributions/gaussian.js';
import type { LatentVariableModel } from '../models/types.js';
import type { Rng } from '../rng.js';

/** Per-example terms, [B] each; `total` is what the optimizer minimises. */
export interface Terms {
  total: tf.Tensor1D;
  [name: string]: tf.Tensor1D;
}

export interface ElboOptions {
  beta?: number;
  /** L: samples of ε per example. */
  samples?: number;
  rng: Rng;
  /** Labels [B] for conditional models. */
  y?: tf.Tensor1D;
}

/** −ELBO (β-weighted) and its terms: rec = −E_q[log p(x|z)], kl = KL(q ‖ p) (and kl1 … klL for a hierarchy). */
export function elbo(model: LatentVariableModel, x: tf.Tensor2D, opts: ElboOptions): Terms {
  const beta = opts.beta ?? 1;
  const L = opts.samples ?? 1;
  return tf.tidy(() => {
    const B = x.shape[0];
    const { y } = opts;
    const q = model.encode(x, y);
    const qL = q.repeat(L);
    const z = qL.sample(opts.rng); //                                  z = μ + σ ⊙ ε,  [L·B, d]
    const xs = L === 1 ? x : (tf.tile(x, [L, 1]) as tf.Tensor2D);
    const ys = y && L > 1 ? (tf.tile(y, [L]) as tf.Tensor1D) : y;
    const perExample = (t: tf.Tensor1D) => (L === 1 ? t : (tf.mean(tf.reshape(t, [L, B]), 0) as tf.Tensor1D)); // mean over the L samples
    const logPx = model.decode(z, ys).logProb(xs); //                  log p(x|z), [L·B]
    const rec = tf.neg(perExample(logPx));
    const layerKl = 'klTerms' in qL ? qL.klTerms(z).map(perExample) : []; // KL_l at the sample z, per layer
    const kl = layerKl.length ? (tf.addN(layerKl) as tf.Tensor1D) : analyticKl(q, model.prior(B, y)); // KL(q ‖ p)
    const total = beta === 1 ? tf.add(rec, kl) : tf.add(rec, tf.mul(kl, beta));
    const terms = { total, rec, kl } as Terms;
    layerKl.forEach((t, l) => (terms[`kl${l + 1}`] = t));
    return terms;
  });
}

function analyticKl(q: unknown, p: unknown): tf.Tensor1D {
  if (q instanceof DiagGaussian && (p instanceof StdNormal || p instanceof DiagGaussian)) return q.kl(p);
  throw new Error('elbo: the posterior is one Gaussian layer but the prior is not (or the other way round)');
}

/** Means of every term over the batch, as plain numbers. */
export function meanTerms(terms: Terms): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(terms)) out[k] = tf.tidy(() => tf.mean(v).dataSync()[0]);
  return out;
}
