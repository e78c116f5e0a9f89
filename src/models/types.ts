// The one model interface: every vaekit model is a latent-variable model p(x, z) = p(z) p(x|z)
// with an amortised posterior q(z|x). Objectives, the trainer, eval and the CLI see only this.
import type * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import type { DiagGaussian, StdNormal } from '../distributions/gaussian.js';
import type { Distribution } from '../distributions/types.js';
import type { NetworkSpec } from '../nn/index.js';
import type { Rng } from '../rng.js';
import type { SeqVaeConfig } from './seqvae.js';
import type { CodePrior } from './vq-prior.js';
import type { CodePosterior, VqvaeConfig } from './vqvae.js';

export type Likelihood = 'bernoulli' | 'gaussian';

export interface VaeConfig {
  kind: 'vae';
  /** Per-example shape of x, e.g. [28, 28, 1] or [d]; x travels flat as [B, prod(shape)]. */
  inputShape: number[];
  latentDim: number;
  network: NetworkSpec;
  likelihood: Likelihood;
  /** Gaussian decoder only: a fixed σ, or 'learned' (one log σ² per output dimension). */
  sigma?: number | 'learned';
  /** Weight of the KL term in the objective (β = 1: the plain VAE). */
  beta: number;
}

/** The conditional VAE (src/models/cvae.ts): labels y ∈ {0, …, numClasses − 1} condition q, p(x|·) and the prior. */
export interface CvaeConfig extends Omit<VaeConfig, 'kind'> {
  kind: 'cvae';
  numClasses: number;
  /** How y enters the encoder and decoder: its one-hot row, or a learned embedding of width embeddingDim. */
  labelEncoding: 'onehot' | 'embedding';
  embeddingDim?: number;
  /** p(z|y): N(0, I) ('standard'), or a Gaussian with a learned μ_y and log σ²_y per class ('learned'). */
  prior: 'standard' | 'learned';
}

/** The hierarchical VAE (src/models/hvae.ts): stochastic layers z_1 (next to x) … z_L. */
export interface HvaeConfig extends Omit<VaeConfig, 'kind'> {
  kind: 'hvae';
  /** Widths d_1 … d_L of the stochastic layers, bottom to top (L ≥ 2). */
  latentDims: number[];
  /** Σ_l d_l: z travels flat with the layers side by side, [z_1, …, z_L]. */
  latentDim: number;
  /** Hidden widths of the MLPs between stochastic layers (the network spec is for x ↔ z_1). */
  layerHidden: number[];
}

/** Every model's config is plain JSON with a `kind`; createModel (src/models/index.ts) dispatches on it. */
export type ModelConfig = VaeConfig | CvaeConfig | HvaeConfig | SeqVaeConfig | VqvaeConfig;
/** The configs of models with a continuous latent z of `latentDim` units (all but the VQ-VAE's discrete code grid). */
export type ContinuousModelConfig = Exclude<ModelConfig, VqvaeConfig>;

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
