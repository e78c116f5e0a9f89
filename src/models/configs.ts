// Every model's config: plain JSON with a `kind` (config.json's `config`), from which createModel
// (src/models/index.ts) rebuilds the model exactly. Objective settings (β, KL warm-up, free bits, word
// dropout) are not here: they belong to the training run (src/objectives/config.ts), not to the model.
import type { NetworkSpec } from '../nn/index.js';
import type { VqPriorConfig } from '../nn/pixelcnn.js';
import type { RnnSpec } from '../nn/rnn.js';

/** p(x|z): Bernoulli (binary data), Gaussian, or the discretised logistic over 8-bit values (continuous protocol). */
export type Likelihood = 'bernoulli' | 'gaussian' | 'discretized-logistic' | 'local-logistic-mixture';

export interface VaeConfig {
  kind: 'vae';
  /** Per-example shape of x, e.g. [28, 28, 1] or [d]; x travels flat as [B, prod(shape)]. */
  inputShape: number[];
  latentDim: number;
  network: NetworkSpec;
  likelihood: Likelihood;
  /** Gaussian decoder only: a fixed σ, or 'learned' (one log σ² per output dimension). */
  sigma?: number | 'learned';
  /**
   * Discretized-logistic decoder only (vae, hvae): 'per-pixel' (the default) learns one log scale per pixel
   * (decoder.log_scale); 'decoder' makes the decoder output [μ, log s] for every pixel of every image (2D
   * outputs, pairs: out[2d] = μ_d, out[2d + 1] = log s_d).
   */
  logisticScale?: 'per-pixel' | 'decoder';
  /**
   * local-logistic-mixture decoder only (vae, hvae): K, the discretised logistics in each pixel's mixture
   * (default 3); their means move with the causal neighbours (src/distributions/local-logistic-mixture.ts).
   */
  mixtures?: number;
  /** local-logistic-mixture only: the causal neighbours its means follow, 4 (default) or 8. */
  neighbours?: number;
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

export interface SeqVaeConfig {
  kind: 'seqvae';
  /** [T, W]: T steps of W values, a one-hot token over W = V (categorical) or W = C channels (gaussian). */
  inputShape: [number, number];
  latentDim: number;
  network: RnnSpec;
  likelihood: 'categorical' | 'gaussian';
  /** categorical: the characters of tokens 1 … V−1 (token 0 ends and pads a sequence); V = length + 1. */
  vocabulary?: string;
  /** gaussian: a fixed σ, or 'learned' (one log σ² per channel). */
  sigma?: number | 'learned';
}

export interface VqvaeConfig {
  kind: 'vqvae';
  /** Per-example shape of x, e.g. [28, 28, 1] or [d]; x travels flat as [B, prod(shape)]. */
  inputShape: number[];
  /**
   * mlp: x → hidden… → M·D.  conv: strided convolutions (channels, kernel, stride), then the dense widths
   * as 1×1 convolutions (per grid position), then a 1×1 convolution to D; the decoder mirrors it.
   */
  network: NetworkSpec;
  likelihood: Likelihood;
  /** Gaussian decoder: its fixed σ (default 1). */
  sigma?: number;
  /** K: codebook size. */
  codebookSize: number;
  /** D: code vector size. */
  codeDim: number;
  /** M: codes per example for MLP networks (a conv network's grid fixes it: h·w of its last feature map). */
  numCodes?: number;
  /** β: weight of the commitment term (0.25 in the paper). */
  commitment: number;
  /** EMA codebook updates instead of the codebook loss (decay γ = 0.99, Laplace ε = 1e-5 in the paper / Sonnet). */
  ema?: { decay: number; epsilon: number } | null;
  /** Move a code unused for this many training steps to a random encoder output of the batch (0 / absent: never). */
  restartAfter?: number;
  /** The autoregressive prior over the code grid (null: uniform only). */
  prior: VqPriorConfig | null;
}
