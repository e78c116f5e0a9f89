// Importance weighting (Burda et al., 2016). With z_1..z_k ~ q(z|x):
//   log w_i = log p(x|z_i) + log p(z_i) − log q(z_i|x)
//   (for a tuple of layers, log p(z) and log q(z|x) are sums over the layers: the distributions do that)
//   L_k(x)  = log (1/k) Σ_i w_i  ≤ log p(x),  L_1 = ELBO, L_k → log p(x) as k → ∞
import * as tf from '@tensorflow/tfjs-core';
import type { LatentVariableModel, Posterior } from '../models/types.js';
import type { Rng } from '../rng.js';
import type { Terms } from './types.js';

/** log w for k samples per example: [k, B]. `q` may be passed when already computed. */
export function logImportanceWeights(
  model: LatentVariableModel,
  x: tf.Tensor2D,
  k: number,
  rng: Rng,
  q?: Posterior,
  y?: tf.Tensor1D,
): tf.Tensor2D {
  return tf.tidy(() => {
    const B = x.shape[0];
    const post = q ?? model.encode(x, y);
    const qk = post.repeat(k);
    const z = qk.sample(rng); //                                          [k·B, d]
    const xs = k === 1 ? x : (tf.tile(x, [k, 1]) as tf.Tensor2D);
    const ys = y && k > 1 ? (tf.tile(y, [k]) as tf.Tensor1D) : y;
    const logPxz = model.decode(z, ys).logProb(xs);
    const logPz = model.prior(k * B, ys).logProb(z);
    const logQz = qk.logProb(z);
    return tf.reshape(tf.sub(tf.add(logPxz, logPz), logQz), [k, B]) as tf.Tensor2D;
  });
}

/** log-mean-exp over the k samples: [B]. */
export function logMeanExp(logW: tf.Tensor2D): tf.Tensor1D {
  return tf.tidy(() => tf.sub(tf.logSumExp(logW, 0), Math.log(logW.shape[0])) as tf.Tensor1D);
}

/** The IWAE bound as a training objective: total = −L_k(x) per example. */
export function iwae(
  model: LatentVariableModel,
  x: tf.Tensor2D,
  opts: { k: number; rng: Rng; y?: tf.Tensor1D },
): Terms {
  return tf.tidy(() => {
    const total = tf.neg(
      logMeanExp(logImportanceWeights(model, x, opts.k, opts.rng, undefined, opts.y)),
    ) as tf.Tensor1D;
    return { total };
  });
}
