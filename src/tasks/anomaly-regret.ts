// Likelihood regret (Xiao, Yan and Amit 2020): how much the ELBO of one input gains when its posterior is fitted
// to that input alone instead of taken from the amortised encoder. An encoder trained on the in-distribution data
// is close to optimal there; on an outlier the per-input fit gains more, so the gain flags it.
//
//   ELBO_ε(x; μ, log σ²) = (1/S) Σ_s log p(x | μ + σ ⊙ ε_s) − KL(N(μ, σ²) ‖ p(z))      (S draws ε_s fixed per row)
//   regret(x) = max_t ELBO_ε(x; μ_t, log σ²_t) − ELBO_ε(x; μ_0, log σ²_0)               (nats, ≥ 0)
//
// (μ_0, log σ²_0) = encode(x); t = 0 … steps runs Adam on −ELBO_ε over the posterior's parameters of that row (the
// "refit q(z|x)" variant of the paper, which refits the encoder's weights instead; with one row per fit the two
// search the same family). The draws ε are fixed for the whole fit, so ELBO_ε is one deterministic function of
// (μ, log σ²) and the best iterate, the start included, can only gain: the regret is ≥ 0 exactly. Rows of a batch
// are fitted together: their objectives share no parameter and Adam is elementwise, so that is the same fit as one
// row at a time. Models with one Gaussian latent layer (vae, conv, cvae with labels); the prior's KL is analytic.
import * as tf from '@tensorflow/tfjs-core';
import { DiagGaussian, StdNormal } from '../distributions/gaussian.js';
import { normalNoise } from '../distributions/types.js';
import type { LatentVariableModel } from '../models/types.js';
import type { Rng } from '../rng.js';

export interface RegretOptions {
  rng: Rng;
  /** Adam steps of the per-row fit (default 20). */
  steps?: number;
  /** Adam's learning rate (default 0.05). */
  lr?: number;
  /** Draws ε per row in ELBO_ε (default 4). */
  samples?: number;
  /** Labels [n] for a conditional model. */
  y?: Int32Array;
}

export interface RegretResult {
  /** −ELBO_ε at the encoder's posterior and at the best fitted one, and their difference (the regret), nats. */
  before: Float64Array;
  after: Float64Array;
  regret: Float64Array;
}

/** An error unless the model has one Gaussian posterior layer with a Gaussian (or standard normal) prior. */
export function checkRegretModel(model: LatentVariableModel): void {
  const kind = model.config.kind;
  if (kind !== 'vae' && kind !== 'cvae')
    throw new Error(
      `likelihood regret refits one Gaussian posterior layer (vae, conv, cvae); this model is a ${kind === 'vqvae' ? 'vqvae with discrete codes' : kind}`,
    );
}

/** Likelihood regret of m rows x [m, D] (see the header). */
export function likelihoodRegret(model: LatentVariableModel, x: tf.Tensor2D, opts: RegretOptions): RegretResult {
  checkRegretModel(model);
  const steps = opts.steps ?? 20;
  const lr = opts.lr ?? 0.05;
  const S = opts.samples ?? 4;
  for (const [name, v] of [
    ['steps', steps],
    ['samples', S],
  ] as const)
    if (!Number.isInteger(v) || v < (name === 'steps' ? 0 : 1))
      throw new Error(`regret ${name} must be an integer ≥ ${name === 'steps' ? 0 : 1}, got ${v}`);
  if (!(lr > 0) || !Number.isFinite(lr)) throw new Error(`regret lr must be a positive number, got ${lr}`);
  const m = x.shape[0];
  if (opts.y && opts.y.length !== m) throw new Error(`${m} rows but ${opts.y.length} labels`);
  const y = opts.y ? tf.tensor1d(opts.y, 'int32') : undefined;
  const q0 = tf.tidy(() => {
    const q = model.encode(x, y);
    if (!(q instanceof DiagGaussian)) throw new Error('likelihood regret: the posterior is not one Gaussian layer');
    return [q.mu, q.logVar.shape[0] === m ? q.logVar : tf.tile(q.logVar, [m, 1])] as tf.Tensor2D[];
  });
  const d = q0[0].shape[1];
  const mu = tf.variable(q0[0]);
  const logVar = tf.variable(q0[1]);
  tf.dispose(q0);
  const eps = normalNoise(tf, opts.rng, [S * m, d]) as tf.Tensor2D; // sample-major: draw s of row i at s·m + i
  const xs = S === 1 ? x : (tf.tile(x, [S, 1]) as tf.Tensor2D);
  const ys = y && S > 1 ? (tf.tile(y, [S]) as tf.Tensor1D) : y;
  const negElbo = (): tf.Tensor1D =>
    tf.tidy(() => {
      const sd = tf.exp(tf.mul(logVar, 0.5));
      const z = tf.add(tf.tile(mu, [S, 1]), tf.mul(tf.tile(sd, [S, 1]), eps)) as tf.Tensor2D;
      const logPx = model.decode(z, ys).logProb(xs);
      const rec = S === 1 ? logPx : tf.mean(tf.reshape(logPx, [S, m]), 0);
      const prior = model.prior(m, y);
      if (!(prior instanceof StdNormal || prior instanceof DiagGaussian))
        throw new Error('likelihood regret: the prior is not one Gaussian layer');
      return tf.sub(new DiagGaussian(mu, logVar).kl(prior), rec) as tf.Tensor1D;
    });
  const before = new Float64Array(m);
  const best = new Float64Array(m);
  const optimizer = tf.train.adam(lr);
  try {
    for (let t = 0; t <= steps; t++) {
      let per: tf.Tensor1D | undefined;
      const { grads, value } = tf.variableGrads(() => {
        per = tf.keep(negElbo());
        return tf.sum(per);
      }, [mu, logVar]);
      const v = per!.dataSync();
      per!.dispose();
      value.dispose();
      for (let i = 0; i < m; i++) {
        if (!Number.isFinite(v[i])) continue; // a diverged step never counts as a gain
        if (t === 0) before[i] = best[i] = v[i];
        else if (v[i] < best[i]) best[i] = v[i];
      }
      if (t === 0)
        for (let i = 0; i < m; i++)
          if (!Number.isFinite(v[i])) throw new Error(`likelihood regret: row ${i} has a −ELBO of ${v[i]}`);
      if (t < steps) optimizer.applyGradients(grads as unknown as Parameters<typeof optimizer.applyGradients>[0]);
      tf.dispose(grads);
    }
  } finally {
    optimizer.dispose();
    tf.dispose([mu, logVar, eps]);
    y?.dispose();
    if (S > 1) tf.dispose([xs, ys]);
  }
  const regret = new Float64Array(m);
  for (let i = 0; i < m; i++) regret[i] = before[i] - best[i];
  return { before, after: best, regret };
}
