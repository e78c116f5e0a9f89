// The score-function (REINFORCE, likelihood-ratio) estimator of the ELBO's encoder gradient (Williams 1992;
// Paisley, Blei & Jordan 2012; Ranganath, Gerrish & Blei 2014; Mnih & Gregor 2014 for baselines):
//   ∇φ E_q(z|x)[f(z)] = E_q[f(z) ∇φ log q_φ(z|x)] = E_q[(f(z) − b) ∇φ log q_φ(z|x)]   (b independent of z)
// with f(z) = log p_θ(x|z) and the KL term analytic, as in the reparameterized ELBO (src/objectives/elbo.ts):
//   ELBO = E_q[log p(x|z)] − KL(q ‖ p),   loss = −ELBO with β on the KL.
// It is written as a surrogate whose value is the usual estimate of E_q[f] and whose gradient is the estimator:
//   s = (1/L) Σ_l [ f(z_l) + ⊥(f(z_l) − b_l) · (log q(z_l|x) − ⊥log q(z_l|x)) ],   z_l = ⊥(μ + σ ⊙ ε_l)
// (⊥: stop-gradient). ∇θ s = (1/L) Σ ∇θ log p(x|z_l) (decoder gradients as usual, through f); ∇φ s is the
// score-function estimate, since z carries no gradient. Baselines:
//   none             b_l = 0
//   moving-average   b_l = b̄, an exponential moving average of the batch mean of f over earlier steps
//   leave-one-out    b_l = (1/(L−1)) Σ_{k≠l} f(z_k), the other samples of the same example (L ≥ 2)
// Both are independent of z_l, so the estimator stays unbiased.
import * as tf from '@tensorflow/tfjs-core';
import { DiagGaussian, StdNormal } from '../distributions/gaussian.js';
import type { LatentVariableModel } from '../models/types.js';
import { stopGradient } from '../nn/ops.js';
import type { Rng } from '../rng.js';
import type { Objective, Terms } from './types.js';

export type Baseline = 'none' | 'moving-average' | 'leave-one-out';
export const BASELINES: readonly Baseline[] = ['none', 'moving-average', 'leave-one-out'];

/** An exponential moving average of the mean of f: b ← decay·b + (1 − decay)·mean(f). */
export class MovingAverageBaseline {
  value: number | null = null;
  constructor(readonly decay = 0.9) {
    if (!(decay >= 0 && decay < 1)) throw new Error(`moving-average baseline: decay must be in [0, 1), got ${decay}`);
  }
  /** The baseline for this step (from earlier steps only; 0 before the first). */
  current(): number {
    return this.value ?? 0;
  }
  update(meanF: number): void {
    if (!Number.isFinite(meanF)) return;
    this.value = this.value === null ? meanF : this.decay * this.value + (1 - this.decay) * meanF;
  }
}

/** b_l = (Σ_k f_k − f_l) / (L − 1) over the L samples of each example: f [L, B] → [L, B]. */
export function leaveOneOutBaseline(f: tf.Tensor2D): tf.Tensor2D {
  const L = f.shape[0];
  if (L < 2) throw new Error(`the leave-one-out baseline needs at least 2 samples per example, got ${L}`);
  return tf.tidy(() => tf.div(tf.sub(tf.sum(f, 0, true), f), L - 1) as tf.Tensor2D);
}

/**
 * The surrogate (1/L) Σ_l [f_l + ⊥(f_l − b_l)·(log q_l − ⊥log q_l)] per example, [B]: its value is the mean
 * of f, its gradient (1/L) Σ_l [∇f_l + (f_l − b_l) ∇log q_l]. f and logQ are [L, B]; b is [L, B], a number, or null (0).
 */
export function scoreFunctionSurrogate(f: tf.Tensor2D, logQ: tf.Tensor2D, b: tf.Tensor2D | number | null): tf.Tensor1D {
  return tf.tidy(() => {
    const signal = stopGradient(b === null || b === 0 ? f : tf.sub(f, b)); //      ⊥(f − b)
    const score = tf.sub(logQ, stopGradient(logQ)); //                            log q − ⊥log q: 0 in value, ∇log q in gradient
    return tf.mean(tf.add(f, tf.mul(signal, score)), 0) as tf.Tensor1D;
  });
}

export interface ScoreFunctionOptions {
  beta?: number;
  /** L: samples of z per example. */
  samples?: number;
  rng: Rng;
  y?: tf.Tensor1D;
  baseline?: Baseline;
  /** The moving-average baseline's state, kept across steps (required for 'moving-average'). */
  movingAverage?: MovingAverageBaseline;
}

/** −ELBO (β-weighted) with the score-function encoder gradient; terms as elbo's: total, rec, kl. */
export function scoreFunctionElbo(model: LatentVariableModel, x: tf.Tensor2D, opts: ScoreFunctionOptions): Terms {
  const beta = opts.beta ?? 1;
  const L = opts.samples ?? 1;
  const baseline = opts.baseline ?? 'none';
  if (!BASELINES.includes(baseline))
    throw new Error(`score-function: unknown baseline "${baseline}" (expected ${BASELINES.join(', ')})`);
  if (baseline === 'leave-one-out' && L < 2)
    throw new Error('score-function: the leave-one-out baseline needs --samples 2 or more');
  if (baseline === 'moving-average' && !opts.movingAverage)
    throw new Error('score-function: the moving-average baseline needs its state (movingAverage)');
  return tf.tidy(() => {
    const B = x.shape[0];
    const { y } = opts;
    const q = model.encode(x, y);
    if (!(q instanceof DiagGaussian))
      throw new Error('score-function: needs a single Gaussian posterior q(z|x) (not a hierarchical one)');
    const qL = q.repeat(L);
    const z = stopGradient(qL.sample(opts.rng)); //                        z_l ~ q(z|x), no pathwise gradient
    const xs = L === 1 ? x : (tf.tile(x, [L, 1]) as tf.Tensor2D);
    const ys = y && L > 1 ? (tf.tile(y, [L]) as tf.Tensor1D) : y;
    const f = tf.reshape(model.decode(z, ys).logProb(xs), [L, B]) as tf.Tensor2D; // f(z_l) = log p(x|z_l)
    const logQ = tf.reshape(qL.logProb(z), [L, B]) as tf.Tensor2D; //               log q(z_l|x)
    let b: tf.Tensor2D | number | null = null;
    if (baseline === 'leave-one-out') b = leaveOneOutBaseline(f);
    else if (baseline === 'moving-average') {
      const ma = opts.movingAverage!;
      b = ma.current();
      ma.update(tf.mean(f).dataSync()[0]);
    }
    const rec = tf.neg(scoreFunctionSurrogate(f, logQ, b)) as tf.Tensor1D; //     value: −(1/L) Σ log p(x|z_l)
    const p = model.prior(B, y);
    if (!(p instanceof StdNormal || p instanceof DiagGaussian))
      throw new Error('score-function: needs a Gaussian prior');
    const kl = q.kl(p); //                                                        KL(q ‖ p), analytic
    const total = (beta === 1 ? tf.add(rec, kl) : tf.add(rec, tf.mul(kl, beta))) as tf.Tensor1D;
    return { total, rec, kl };
  });
}

/** A training objective for train(): the ELBO with score-function encoder gradients (`--estimator score`). */
export function scoreFunctionObjective(
  opts: { samples?: number; baseline?: Baseline; decay?: number } = {},
): Objective {
  const movingAverage = opts.baseline === 'moving-average' ? new MovingAverageBaseline(opts.decay ?? 0.9) : undefined;
  return (model, x, ctx) => {
    if (ctx.freeBits)
      throw new Error('--free-bits does not combine with --estimator score: free bits needs the reparameterized ELBO');
    return scoreFunctionElbo(model, x, {
      beta: ctx.beta,
      samples: opts.samples,
      rng: ctx.rng,
      y: ctx.y,
      baseline: opts.baseline,
      movingAverage,
    });
  };
}
