// The measurement model p(y | z) of a degradation, for a model's decoder p(x | z): the likelihood that MAP,
// importance sampling and the inpainting samplers score. With μ, v the decoder's per-value mean and variance:
//   inpaint             log p(y_o | z) = Σ_d m_d log p(x_d = y_d | z)       (the masked likelihood)
//   gaussian noise σ    y ~ N(μ, v + σ²)                                     (x ~ N(μ, v) marginalised out)
//   bit flips p         y ~ Bernoulli(p + (1 − 2p) π),  π = sigmoid(logits)  (x ~ Bernoulli(π) marginalised)
//   salt-and-pepper p   y ~ Bernoulli((1 − p) π + p/2)
//   superres ×f         y ~ N(A μ, s² + A v / f²), A = box average over f×f (s = 0.05: the Gaussian decoder's
//                       v makes it the moment-matched likelihood; a Bernoulli decoder takes s alone, since a
//                       π-dependent variance would reward saturating π)
// A discretised-logistic decoder (8-bit pixels) enters noise and superres as its moment-matched Gaussian:
// mean μ clipped to [0, 1], variance s²π²/3; inpainting scores its own masked likelihood.
import * as tf from '@tensorflow/tfjs-core';
import { BernoulliLogits } from '../../distributions/bernoulli.js';
import { DiscretizedLogistic } from '../../distributions/discretized-logistic.js';
import { DiagGaussian } from '../../distributions/gaussian.js';
import type { Distribution } from '../../distributions/types.js';
import { isMaskedLikelihood } from '../../distributions/types.js';
import type { Degradation, ImageShape } from './degrade.js';

export const SUPERRES_SIGMA = 0.05;
const EPS = 1e-6;

/** The decoder distributions restoration knows; an error otherwise. */
export function decoderKind(p: Distribution): 'bernoulli' | 'gaussian' | 'discretized-logistic' {
  if (p instanceof BernoulliLogits) return 'bernoulli';
  if (p instanceof DiagGaussian) return 'gaussian';
  if (p instanceof DiscretizedLogistic) return 'discretized-logistic';
  throw new Error(
    'restore: the decoder is neither Bernoulli, Gaussian nor discretised logistic (no restoration for this likelihood)',
  );
}

/** A continuous decoder as a Gaussian: itself, or the discretised logistic's moment match; null if binary. */
function asGaussian(p: Distribution): DiagGaussian | null {
  if (p instanceof DiagGaussian) return p;
  if (p instanceof DiscretizedLogistic)
    // Var = s²π²/3: log v = 2 log s + log(π²/3)
    return new DiagGaussian(
      tf.clipByValue(p.mu, 0, 1) as tf.Tensor2D,
      tf.add(tf.mul(p.logScale, 2), Math.log((Math.PI * Math.PI) / 3)) as tf.Tensor2D,
    );
  return null;
}

/** An error naming the mismatch unless the degradation suits a model of this likelihood. */
export function checkDegradationForLikelihood(d: Degradation, likelihood: string): void {
  if (d.task !== 'denoise') return;
  if (d.noise === 'gaussian' && likelihood === 'bernoulli')
    throw new Error(
      'Gaussian noise (--sigma) needs a continuous model; this model is binary (Bernoulli likelihood): use --p for bit flips',
    );
  if (d.noise !== 'gaussian' && likelihood !== 'bernoulli')
    throw new Error(
      `${d.noise} noise (--p) needs a binary model; this model is continuous (${likelihood} likelihood): use --sigma`,
    );
}

/** Per-value mean and variance of the decoder, [B, D] each. */
export function decoderMoments(p: Distribution): { mean: tf.Tensor2D; variance: tf.Tensor2D } {
  return tf.tidy(() => {
    if (p instanceof BernoulliLogits) {
      const pi = tf.sigmoid(p.logits);
      return { mean: pi as tf.Tensor2D, variance: tf.mul(pi, tf.sub(1, pi)) as tf.Tensor2D };
    }
    const g = asGaussian(p);
    if (g) return { mean: g.mu, variance: tf.mul(tf.onesLike(g.mu), tf.exp(g.logVar)) as tf.Tensor2D };
    decoderKind(p);
    throw new Error('unreachable');
  });
}

function avgPool(t: tf.Tensor2D, shape: ImageShape, f: number): tf.Tensor2D {
  const [H, W, C] = shape;
  const B = t.shape[0];
  // [B, h, f, w, f, C] averaged over the two f axes (a reshape and a mean: cheap on every backend)
  const p = tf.mean(tf.reshape(t, [B, H / f, f, W / f, f, C]), [2, 4]);
  return tf.reshape(p, [B, (H / f) * (W / f) * C]) as tf.Tensor2D;
}

/** log Bernoulli(y; q) summed over values, q clipped to [ε, 1 − ε], [B]. */
function bernoulliLogProbOfProbs(y: tf.Tensor2D, q: tf.Tensor): tf.Tensor1D {
  const qc = tf.clipByValue(q, EPS, 1 - EPS);
  return tf.sum(tf.add(tf.mul(y, tf.log(qc)), tf.mul(tf.sub(1, y), tf.log(tf.sub(1, qc)))), 1) as tf.Tensor1D;
}

/**
 * log p(y | z) [B] for the decoder distribution p = decode(z) ([B, D]); y is [B, D], or [B, D/f²] for superres;
 * mask [B, D] for inpainting. Differentiable in the decoder's parameters (MAP's gradient flows through it).
 */
export function measurementLogLik(
  p: Distribution,
  y: tf.Tensor2D,
  d: Degradation,
  shape: ImageShape,
  mask?: tf.Tensor2D,
): tf.Tensor1D {
  return tf.tidy(() => {
    if (d.task === 'inpaint') {
      if (!mask) throw new Error('inpainting needs its mask');
      if (!isMaskedLikelihood(p)) throw new Error('restore: this decoder has no masked likelihood');
      return p.logProb(y, mask);
    }
    if (d.task === 'denoise') {
      if (d.noise === 'gaussian') {
        const g = asGaussian(p);
        if (!g) throw new Error('Gaussian noise needs a continuous decoder, this one is Bernoulli');
        const lv = tf.log(tf.add(tf.exp(g.logVar), d.sigma * d.sigma)) as tf.Tensor2D;
        return new DiagGaussian(g.mu, lv).logProb(y);
      }
      if (!(p instanceof BernoulliLogits)) throw new Error(`${d.noise} noise needs a binary (Bernoulli) decoder`);
      const pi = tf.sigmoid(p.logits);
      const q = d.noise === 'bit-flip' ? tf.add(d.p, tf.mul(1 - 2 * d.p, pi)) : tf.add(tf.mul(1 - d.p, pi), d.p / 2);
      return bernoulliLogProbOfProbs(y, q);
    }
    const f = d.factor;
    const { mean, variance } = decoderMoments(p);
    const s2 = SUPERRES_SIGMA * SUPERRES_SIGMA;
    const v =
      p instanceof BernoulliLogits
        ? tf.fill([1, y.shape[1]], s2)
        : tf.add(s2, tf.div(avgPool(variance, shape, f), f * f));
    return new DiagGaussian(avgPool(mean, shape, f), tf.log(v) as tf.Tensor2D).logProb(y);
  });
}

/**
 * Moments of x given the observation y and z, [B, D] each: the decoder's p(x | z) updated by the
 * measurement, per value (x_d independent given z), so the estimate agrees with what was observed:
 *   gaussian noise σ   precision 1/v + 1/σ², mean (μ/v + y/σ²) / precision
 *   bit flips, s&p     π' = π a₁ / (π a₁ + (1 − π) a₀), a_x = p(y | x): bit flips 1 − p (y = x) or p;
 *                      salt-and-pepper (1 − p)[y = x] + p/2; variance π'(1 − π')
 *   superres ×f        the Gaussian (v = π(1 − π) for a Bernoulli decoder) conditioned on its block's mean
 *                      y_b = Σ_{i∈b} x_i / f² + N(0, s²): x̂_i = μ_i + (v_i/f²)(y_b − ȳ_b(μ)) / V_b,
 *                      v'_i = v_i − (v_i/f²)² / V_b, V_b = Σ_{j∈b} v_j / f⁴ + s²
 *   inpaint            the decoder's moments (the caller clamps the known values)
 * yFull: y at the clean size for denoising ([B, D]), the low-res y for superres.
 */
export function conditionalMoments(
  p: Distribution,
  y: tf.Tensor2D,
  d: Degradation,
  shape: ImageShape,
): { mean: tf.Tensor2D; variance: tf.Tensor2D } {
  return tf.tidy(() => {
    const { mean, variance } = decoderMoments(p);
    if (d.task === 'inpaint') return { mean, variance };
    if (d.task === 'denoise') {
      if (d.noise === 'gaussian') {
        const s2 = d.sigma * d.sigma;
        const v = tf.maximum(variance, 1e-8);
        const prec = tf.add(tf.div(1, v), 1 / s2);
        const m = tf.div(tf.add(tf.div(mean, v), tf.div(y, s2)), prec) as tf.Tensor2D;
        return { mean: m, variance: tf.div(1, prec) as tf.Tensor2D };
      }
      const same = d.noise === 'bit-flip' ? 1 - d.p : 1 - d.p / 2;
      const other = d.noise === 'bit-flip' ? d.p : d.p / 2;
      // a_1 = p(y | x = 1), a_0 = p(y | x = 0)
      const a1 = tf.add(tf.mul(y, same), tf.mul(tf.sub(1, y), other));
      const a0 = tf.add(tf.mul(y, other), tf.mul(tf.sub(1, y), same));
      const num = tf.mul(mean, a1);
      const post = tf.div(num, tf.maximum(tf.add(num, tf.mul(tf.sub(1, mean), a0)), 1e-12)) as tf.Tensor2D;
      return { mean: post, variance: tf.mul(post, tf.sub(1, post)) as tf.Tensor2D };
    }
    const f = d.factor;
    const [H, W, C] = shape;
    const B = mean.shape[0];
    const up = (t: tf.Tensor) => {
      // [B, h·w·C] → [B, H·W·C], each block's value repeated over its f×f pixels
      const t6 = tf.reshape(t, [B, H / f, 1, W / f, 1, C]);
      return tf.reshape(tf.tile(t6, [1, 1, f, 1, f, 1]), [B, H * W * C]);
    };
    const s2 = SUPERRES_SIGMA * SUPERRES_SIGMA;
    const Vb = tf.add(tf.div(avgPool(variance, shape, f), f * f), s2); // Σ_j v_j / f⁴ + s²
    const gain = tf.div(tf.div(variance, f * f), up(Vb)); // (v_i / f²) / V_b
    const m = tf.add(mean, tf.mul(gain, up(tf.sub(y, avgPool(mean, shape, f))))) as tf.Tensor2D;
    const v = tf.relu(tf.sub(variance, tf.mul(gain, tf.div(variance, f * f)))) as tf.Tensor2D;
    return { mean: m, variance: v };
  });
}
