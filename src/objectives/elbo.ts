// The evidence lower bound (AEVB, Kingma & Welling 2014, eq. 10), estimated with L samples of ε:
//   ELBO(x) = E_q(z|x)[log p(x|z)] − KL(q(z|x) ‖ p(z))
//   loss    = −E_q[log p(x|z)] + β·KL          (β = 1: the plain VAE; β > 1: β-VAE)
// A hierarchical posterior (a tuple of layers z_1 … z_L) has no closed-form KL: it gives the per-layer
// terms at the sample, KL = Σ_l E_q[KL(q(z_l | z_{l+1}, x) ‖ p(z_l | z_{l+1}))], reported as kl1 … klL.
// Free bits (Kingma et al. 2016, "Improved variational inference with inverse autoregressive flow", §C.8):
// with λ > 0 the optimised KL term is Σ_j max(λ, KL̄_j), KL̄_j the analytic KL of latent unit j averaged over
// the minibatch, so no gradient pushes a unit's KL below λ nats; the reported rec and kl stay the true terms.
import * as tf from '@tensorflow/tfjs-core';
import { DiagGaussian, StdNormal } from '../distributions/gaussian.js';
import type { LatentVariableModel } from '../models/types.js';
import type { Rng } from '../rng.js';
import type { Objective, Terms } from './types.js';

export interface ElboOptions {
  beta?: number;
  /** L: samples of ε per example. */
  samples?: number;
  rng: Rng;
  /** Labels [B] for conditional models. */
  y?: tf.Tensor1D;
  /**
   * Free bits λ, nats per latent unit (0: off). The objective's KL becomes Σ_j max(λ, KL̄_j) with KL̄_j the
   * minibatch mean of unit j's KL; needs one Gaussian posterior layer (vae, cvae, seqvae).
   */
  freeBits?: number;
}

/** −ELBO (β-weighted) and its terms: rec = −E_q[log p(x|z)], kl = KL(q ‖ p) (and kl1 … klL for a hierarchy). */
export function elbo(model: LatentVariableModel, x: tf.Tensor2D, opts: ElboOptions): Terms {
  const beta = opts.beta ?? 1;
  const L = opts.samples ?? 1;
  const freeBits = opts.freeBits ?? 0;
  checkFreeBits(freeBits, 'elbo');
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
    let klObjective = kl; // what the optimizer sees: the KL, or its free-bits clamp
    if (freeBits > 0) {
      if (layerKl.length)
        throw new Error(
          'elbo: free bits needs the analytic KL of each latent unit, and a hierarchical posterior gives only per-layer sample estimates (train the hvae without --free-bits)',
        );
      klObjective = freeBitsKl(q, model.prior(B, y), freeBits);
    }
    const total = beta === 1 ? tf.add(rec, klObjective) : tf.add(rec, tf.mul(klObjective, beta));
    const terms = { total, rec, kl } as Terms;
    layerKl.forEach((t, l) => (terms[`kl${l + 1}`] = t));
    return terms;
  });
}

/** An Objective that is the ELBO with L samples, saying so (`elbo.samples`): a trainer may run it as one fused step. */
export type ElboObjective = Objective & { readonly elbo: { readonly samples: number } };

/** The ELBO as the trainer's objective (β, labels and free bits from the step's context). */
export function elboObjective(samples = 1): ElboObjective {
  const f: Objective = (m, x, c) => elbo(m, x, { beta: c.beta, samples, rng: c.rng, y: c.y, freeBits: c.freeBits });
  return Object.assign(f, { elbo: { samples } });
}

/** The ELBO's sample count when `o` was made by elboObjective, else undefined. */
export function elboSamples(o: Objective): number | undefined {
  return (o as Partial<ElboObjective>).elbo?.samples;
}

function analyticKl(q: unknown, p: unknown): tf.Tensor1D {
  if (q instanceof DiagGaussian && (p instanceof StdNormal || p instanceof DiagGaussian)) return q.kl(p);
  throw new Error('elbo: the posterior is one Gaussian layer but the prior is not (or the other way round)');
}

/** An error unless λ is a finite non-negative number (nats per latent unit). */
export function checkFreeBits(freeBits: number, what: string): void {
  if (!(typeof freeBits === 'number' && Number.isFinite(freeBits) && freeBits >= 0))
    throw new Error(`${what}: free bits must be a non-negative number of nats per latent unit, got ${freeBits}`);
}

/**
 * The free-bits KL term, per example [B]: Σ_j c_bj with c_bj = KL_bj where the batch mean KL̄_j > λ, and λ
 * elsewhere, so its batch mean is Σ_j max(λ, KL̄_j) and a unit below λ gets no gradient from it.
 */
export function freeBitsKl(q: unknown, p: unknown, freeBits: number): tf.Tensor1D {
  if (!(q instanceof DiagGaussian && (p instanceof StdNormal || p instanceof DiagGaussian)))
    throw new Error(
      'elbo: free bits needs a diagonal-Gaussian posterior and prior (the analytic KL of each latent unit)',
    );
  return tf.tidy(() => {
    const perUnit = q.klPerDim(p); //                                   KL_bj, [B, d]
    // which units are above λ: read out as numbers, so the mask is a constant (comparisons have no gradient)
    const means = tf.mean(perUnit, 0).dataSync(); //                     KL̄_j
    const above = tf.broadcastTo(
      tf.tensor2d(
        Array.from(means, (m) => m > freeBits),
        [1, means.length],
        'bool',
      ),
      perUnit.shape,
    );
    return tf.sum(tf.where(above, perUnit, tf.fill(perUnit.shape, freeBits)), -1) as tf.Tensor1D;
  });
}

/** Means of every term over the batch, as plain numbers. */
export function meanTerms(terms: Terms): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(terms)) out[k] = tf.tidy(() => tf.mean(v).dataSync()[0]);
  return out;
}
