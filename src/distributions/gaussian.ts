// Diagonal Gaussian N(μ, diag(σ²)) parameterised by μ and log σ², as the encoder q(z|x) produces it,
// and the standard-normal prior N(0, I).
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor, Tensor1D, Tensor2D } from '@tensorflow/tfjs-core';
import type { Rng } from '../rng.js';
import { gaussianKlStdNormal, gaussianNll } from '../backend/fused.js';
import { normalNoise, type Distribution, type MaskedLikelihood } from './types.js';

const LOG_2PI = Math.log(2 * Math.PI);

export class DiagGaussian implements MaskedLikelihood {
  readonly maskable = true;
  /** @param logVar broadcastable to `mu` (e.g. a learned per-pixel log σ² of shape [1, D]). */
  constructor(
    readonly mu: Tensor2D,
    readonly logVar: Tensor2D,
  ) {}

  // z = μ + σ ⊙ ε,  ε ~ N(0, I)   (the reparameterization trick)
  sample(rng: Rng): Tensor2D {
    return tf.tidy(() => {
      const eps = normalNoise(tf, rng, this.mu.shape);
      return tf.add(this.mu, tf.mul(tf.exp(tf.mul(this.logVar, 0.5)), eps)) as Tensor2D;
    });
  }

  // log N(x; μ, σ²) = −½ Σ_d m_d [log 2π + log σ²_d + (x_d − μ_d)² / σ²_d]   (m = 1 without a mask)
  logProb(x: Tensor, mask?: Tensor): Tensor1D {
    return tf.tidy(() => tf.neg(gaussianNll(x as Tensor2D, this.mu, this.logVar, mask)) as Tensor1D);
  }

  mean(): Tensor2D {
    return this.mu;
  }

  /** Repeat every example L times along the batch ([L·B, D], sample-major) for L samples of ε. */
  repeat(L: number): DiagGaussian {
    if (L === 1) return this;
    const lv = this.logVar.shape[0] === this.mu.shape[0] ? tf.tile(this.logVar, [L, 1]) : this.logVar;
    return new DiagGaussian(tf.tile(this.mu, [L, 1]) as Tensor2D, lv as Tensor2D);
  }

  // KL(q ‖ N(0, I)) = ½ Σ_d (μ² + σ² − log σ² − 1)
  klStdNormal(): Tensor1D {
    return gaussianKlStdNormal(this.mu, this.logVar);
  }

  // KL(q ‖ p) = ½ Σ_d (log σ²_p − log σ²_q + (σ²_q + (μ_q − μ_p)²) / σ²_p − 1)
  kl(p: DiagGaussian | StdNormal): Tensor1D {
    if (p instanceof StdNormal) return this.klStdNormal();
    return tf.tidy(() => {
      const d = tf.sub(this.mu, p.mu);
      const t = tf.add(
        tf.sub(p.logVar, this.logVar),
        tf.mul(tf.add(tf.exp(this.logVar), tf.square(d)), tf.exp(tf.neg(p.logVar))),
      );
      return tf.mul(tf.sum(tf.sub(t, 1), -1), 0.5) as Tensor1D;
    });
  }

  /** Per-dimension KL(q ‖ p), [B, D]: the terms that kl(p) sums over the last axis. */
  klPerDim(p: DiagGaussian | StdNormal): Tensor2D {
    if (p instanceof StdNormal) return this.klStdNormalPerDim();
    return tf.tidy(() => {
      const d = tf.sub(this.mu, p.mu);
      const t = tf.add(
        tf.sub(p.logVar, this.logVar),
        tf.mul(tf.add(tf.exp(this.logVar), tf.square(d)), tf.exp(tf.neg(p.logVar))),
      );
      return tf.mul(tf.sub(t, 1), 0.5) as Tensor2D;
    });
  }

  /** Per-dimension KL to N(0, I), [B, D] (for reports of KL per latent unit). */
  klStdNormalPerDim(): Tensor2D {
    return tf.tidy(
      () => tf.mul(tf.sub(tf.sub(tf.add(tf.square(this.mu), tf.exp(this.logVar)), this.logVar), 1), 0.5) as Tensor2D,
    );
  }
}

/** The prior p(z) = N(0, I) over `dim` latent units. */
export class StdNormal implements Distribution {
  constructor(
    readonly batch: number,
    readonly dim: number,
  ) {}

  sample(rng: Rng): Tensor2D {
    return normalNoise(tf, rng, [this.batch, this.dim]) as Tensor2D;
  }

  // log N(z; 0, I) = −½ Σ_d (log 2π + z_d²)
  logProb(z: Tensor): Tensor1D {
    return tf.tidy(() => tf.mul(tf.add(tf.sum(tf.square(z), -1), this.dim * LOG_2PI), -0.5) as Tensor1D);
  }

  mean(): Tensor2D {
    return tf.zeros([this.batch, this.dim]);
  }
}

/**
 * The log σ² of a Gaussian decoder p(x|z) = N(μ(z), σ²I), [1, width]: a fixed σ (a kept constant), or
 * 'learned' (a trainable per-dimension log σ², starting at σ = 1; no fixed name: two models may live at once).
 */
export function decoderLogVariance(sigma: number | 'learned' | undefined, width: number): Tensor2D {
  const s = sigma ?? 1;
  return s === 'learned'
    ? tf.variable(tf.zeros([1, width]), true)
    : tf.keep(tf.fill([1, width], Math.log(s * s)) as Tensor2D);
}
