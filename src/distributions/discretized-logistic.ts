// The discretised logistic likelihood over 8-bit pixel values (Salimans et al. 2017, PixelCNN++), for data
// x = k/255, k ∈ {0, …, 255} (the continuous protocol). Each value owns the bin [x − δ, x + δ], δ = 1/(2·255),
// of a logistic with mean μ and scale s; the two end bins take the tails:
//   P(k) = σ(a) − σ(b),   a = (x + δ − μ)/s,  b = (x − δ − μ)/s       (0 < k < 255)
//   P(0) = σ(a),          P(255) = 1 − σ(b)
// computed without cancellation: log(σ(a) − σ(b)) = a − softplus(a) − softplus(b) + log(1 − e^{−(a − b)}), with
// a − b = 2δ/s. log s is clamped to [−12, 1] (s ≤ e is already near-uniform on [0, 1]; it keeps a − b large enough
// for float32). Every branch is finite, so gradients through tf.where stay finite too (the branch conditions
// depend on x only: tfjs has no gradient for comparisons). −log P summed over pixels is an exact code length: NLL/(D ln 2) is bits/dim.
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor, Tensor1D, Tensor2D } from '@tensorflow/tfjs-core';
import { discretizedLogisticLogProbPerDim, discretizedLogisticNll } from '../backend/fused.js';
import type { Rng } from '../rng.js';
import type { MaskedLikelihood } from './types.js';

/** Levels of an 8-bit pixel. */
export const PIXEL_LEVELS = 256;

export class DiscretizedLogistic implements MaskedLikelihood {
  readonly maskable = true;
  /**
   * @param mu    the logistic means [B, D] (the decoder's output, unconstrained)
   * @param logScale  log s, [B, D] or [1, D] (broadcast over the batch)
   */
  constructor(
    readonly mu: Tensor2D,
    readonly logScale: Tensor2D,
  ) {}

  /** log P(x) per pixel [B, D]; x holds values k/255. */
  logProbPerDim(x: Tensor2D): Tensor2D {
    return discretizedLogisticLogProbPerDim(x, this.mu, this.logScale);
  }

  // log p(x) = Σ_d m_d log P(x_d)   (m = 1 without a mask; on the native backend one fused kernel)
  logProb(x: Tensor, mask?: Tensor): Tensor1D {
    return tf.tidy(() => tf.neg(discretizedLogisticNll(x as Tensor2D, this.mu, this.logScale, mask)) as Tensor1D);
  }

  /** The logistic mean clipped to the pixel range (the decoder's point estimate). */
  mean(): Tensor2D {
    return tf.clipByValue(this.mu, 0, 1);
  }

  /** A pixel value per dimension: a logistic draw μ + s·log(u/(1 − u)), clipped and rounded to its bin. */
  sample(rng: Rng): Tensor2D {
    return tf.tidy(() => {
      const u = rng.fillUniform(new Float32Array(this.mu.size));
      for (let i = 0; i < u.length; i++) u[i] = Math.min(Math.max(u[i], 1e-7), 1 - 1e-7);
      const ut = tf.tensor(u, this.mu.shape);
      const draw = tf.add(this.mu, tf.mul(tf.exp(this.logScale), tf.sub(tf.log(ut), tf.log(tf.sub(1, ut)))));
      const levels = PIXEL_LEVELS - 1;
      return tf.div(tf.round(tf.mul(tf.clipByValue(draw, 0, 1), levels)), levels) as Tensor2D;
    });
  }
}

/** The decoder's per-pixel log scale [1, width], trainable, starting at s = 1/16 (a few bins wide on [0, 1]). */
export function decoderLogScale(width: number): tf.Variable {
  return tf.variable(tf.fill([1, width], Math.log(1 / 16)), true);
}
