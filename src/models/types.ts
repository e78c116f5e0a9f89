// The one model interface: every vaekit model is a latent-variable model p(x, z) = p(z) p(x|z)
// with an amortised posterior q(z|x). Objectives, the trainer, eval and the CLI see only this.
import type * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import type { CodePosterior, CodePrior } from '../distributions/codes.js';
import type { DiagGaussian, StdNormal } from '../distributions/gaussian.js';
import type { Distribution } from '../distributions/types.js';
import type { Rng } from '../rng.js';
import type { ModelConfig } from './configs.js';

export type {
  ContinuousModelConfig,
  CvaeConfig,
  HvaeConfig,
  Likelihood,
  ModelConfig,
  SeqVaeConfig,
  VaeConfig,
  VqvaeConfig,
} from './configs.js';

/**
 * A distribution over a tuple of latent layers [z_1, …, z_L], z flat [B, Σ d_l] with the layers side by
 * side: a hierarchical model's prior p(z) = p(z_L) Π p(z_l | z_{l+1}).
 */
export interface LayeredLatent extends Distribution {
  readonly dims: number[];
  sample(rng: Rng): tf.Tensor2D;
  mean(): tf.Tensor2D;
}

/**
 * A hierarchical posterior q(z|x) over a tuple of layers. Its KL to the prior has no closed form, so it
 * answers the per-layer terms at a sample of itself (the ELBO reports them as kl1 … klL).
 */
export interface LayeredPosterior extends LayeredLatent {
  /** Every example repeated L times along the batch (sample-major), for L samples per example. */
  repeat(L: number): LayeredPosterior;
  /** Per-unit means and log-variances [B, Σ d_l]; a layer's at the means of the layers above it. */
  readonly mu: tf.Tensor2D;
  readonly logVar: tf.Tensor2D;
  /** Per-layer KL terms [kl_1, …, kl_L] ([B] each) at z, a sample of this q; Σ_l kl_l estimates KL(q ‖ p). */
  klTerms(z: tf.Tensor2D): tf.Tensor1D[];
  /** Per-unit KL to the prior [B, Σ d_l] along the mean path (as DiagGaussian's, for latent diagnostics). */
  klStdNormalPerDim(): tf.Tensor2D;
}

/**
 * What encode returns: one diagonal-Gaussian layer (VAE, CVAE), a tuple of layers (HVAE), or the VQ-VAE's
 * point mass on a grid of code indices (no μ, no log σ²: see latentPoint in src/models/index.ts, and
 * isCodePosterior).
 */
export type Posterior = DiagGaussian | LayeredPosterior | CodePosterior;
/** What prior returns (CodePrior: the VQ-VAE's uniform or PixelCNN prior over code grids). */
export type Prior = StdNormal | DiagGaussian | LayeredLatent | CodePrior;

/** A posterior with per-unit means and log-variances (every model's but the VQ-VAE's). */
export type GaussianPosterior = Exclude<Posterior, CodePosterior>;

/** True for the VQ-VAE's point-mass posterior over code indices (it has `indices`, not μ / log σ²). */
export function isCodePosterior(q: Posterior): q is CodePosterior {
  return 'indices' in q;
}

/**
 * The point of latent space that stands for x in reconstructions and interpolations: the posterior mean μ(x),
 * or for the VQ-VAE the one-hot grid of its codes k(x) (q.mean(), which decode takes, and which mixes codes
 * when interpolated).
 */
export function latentPoint(q: Posterior): tf.Tensor2D {
  return isCodePosterior(q) ? q.mean() : q.mu;
}

/** μ(x) of a posterior, or an error naming the model when it has none (the VQ-VAE's codes are discrete). */
export function gaussianPosterior(q: Posterior, what: string): GaussianPosterior {
  if (isCodePosterior(q))
    throw new Error(
      `${what}: the VQ-VAE's posterior is a point mass on discrete codes, with no per-unit μ or σ (use its code indices instead)`,
    );
  return q;
}

/** The latent width of a model with continuous latents, or an error naming the VQ-VAE. */
export function latentDimOf(config: ModelConfig, what: string): number {
  if (config.kind === 'vqvae')
    throw new Error(`${what}: needs a continuous latent z; a VQ-VAE's latent is a grid of discrete codes`);
  return config.latentDim;
}

export interface LatentVariableModel {
  readonly config: ModelConfig;
  /** Conditional models: how many classes y ranges over (encode, decode and prior then need y). */
  readonly numClasses?: number;
  /** p(z) (or p(z | y)) for a batch of `batch` examples. */
  prior(batch: number, y?: tf.Tensor1D): Prior;
  /** q(z | x[, y]), x flat [B, D]; y: int32 labels [B] for conditional models. */
  encode(x: tf.Tensor2D, y?: tf.Tensor1D): Posterior;
  /** p(x | z[, y]), z [B, latentDim]. */
  decode(z: tf.Tensor2D, y?: tf.Tensor1D): Distribution;
  /** Everything the optimizer updates, in a fixed order. */
  variables(): tf.Variable[];
  /** Named networks (tfjs-layers models), saved in the tfjs format for the browser. */
  networks(): Record<string, tfl.LayersModel>;
  /** Named parameters in PyTorch-style naming (safetensors), same tensors as variables(). */
  namedParameters(): Record<string, tf.Variable>;
  dispose(): void;
}
