// The evidence lower bound (AEVB, Kingma & Welling 2014, eq. 10), estimated with L samples of ε:
//   ELBO(x) = E_q(z|x)[log p(x|z)] − KL(q(z|x) ‖ p(z))
//   loss    = −E_q[log p(x|z)] + β·KL          (β = 1: the plain VAE; β > 1: β-VAE)
import * as tf from '@tensorflow/tfjs-core';
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

/** −ELBO (β-weighted) and its two terms: rec = −E_q[log p(x|z)], kl = KL(q ‖ p). */
export function elbo(model: LatentVariableModel, x: tf.Tensor2D, opts: ElboOptions): Terms {
  const beta = opts.beta ?? 1;
  const L = opts.samples ?? 1;
  return tf.tidy(() => {
    const B = x.shape[0];
    const { y } = opts;
    const q = model.encode(x, y);
    const z = q.repeat(L).sample(opts.rng); //                         z = μ + σ ⊙ ε,  [L·B, d]
    const xs = L === 1 ? x : (tf.tile(x, [L, 1]) as tf.Tensor2D);
    const ys = y && L > 1 ? (tf.tile(y, [L]) as tf.Tensor1D) : y;
    const logPx = model.decode(z, ys).logProb(xs); //                  log p(x|z), [L·B]
    const rec = L === 1 ? tf.neg(logPx) : tf.neg(tf.mean(tf.reshape(logPx, [L, B]), 0));
    const kl = q.kl(model.prior(B, y)); //                             analytic KL(q ‖ p)
    const total = beta === 1 ? tf.add(rec, kl) : tf.add(rec, tf.mul(kl, beta));
    return { total, rec, kl } as Terms;
  });
}

/** Means of every term over the batch, as plain numbers. */
export function meanTerms(terms: Terms): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(terms)) out[k] = tf.tidy(() => tf.mean(v).dataSync()[0]);
  return out;
}
