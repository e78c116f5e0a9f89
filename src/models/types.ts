// The one model interface: every vaekit model is a latent-variable model p(x, z) = p(z) p(x|z)
// with an amortised posterior q(z|x). Objectives, the trainer, eval and the CLI see only this.
import type * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import type { DiagGaussian, StdNormal } from '../distributions/gaussian.js';
import type { Distribution } from '../distributions/types.js';
import type { NetworkSpec } from '../nn/index.js';

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

/** Every model's config is plain JSON with a `kind`; createModel (src/models/index.ts) dispatches on it. */
export type ModelConfig = VaeConfig;

export interface LatentVariableModel {
  readonly config: ModelConfig;
  /** p(z) (or p(z | y)) for a batch of `batch` examples. */
  prior(batch: number, y?: tf.Tensor1D): StdNormal | DiagGaussian;
  /** q(z | x[, y]), x flat [B, D]; y: int32 labels [B] for conditional models. */
  encode(x: tf.Tensor2D, y?: tf.Tensor1D): DiagGaussian;
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
