// Build any model from its plain-JSON config (the config file of a saved model rebuilds it exactly).
import type { Rng } from '../rng.js';
import { CVAE } from './cvae.js';
import { HVAE } from './hvae.js';
import type { LatentVariableModel, ModelConfig } from './types.js';
import { VAE } from './vae.js';
import { SeqVAE } from './seqvae.js';
import { VQVAE } from './vqvae.js';

export function createModel(config: ModelConfig, rng: Rng): LatentVariableModel {
  switch (config.kind) {
    case 'vae':
      return new VAE(config, rng);
    case 'cvae':
      return new CVAE(config, rng);
    case 'hvae':
      return new HVAE(config, rng);
    case 'seqvae':
      return new SeqVAE(config, rng);
    case 'vqvae':
      return new VQVAE(config, rng);
    default:
      throw new Error(
        `unknown model kind "${(config as { kind: string }).kind}" (expected vae, cvae, hvae, seqvae or vqvae)`,
      );
  }
}

export type {
  LatentVariableModel,
  ModelConfig,
  ContinuousModelConfig,
  VaeConfig,
  CvaeConfig,
  HvaeConfig,
  Likelihood,
  Posterior,
  GaussianPosterior,
  Prior,
  LayeredLatent,
  LayeredPosterior,
} from './types.js';
export { isCodePosterior, latentPoint, gaussianPosterior, latentDimOf } from './types.js';
export { VAE } from './vae.js';
export { CVAE } from './cvae.js';
export { HVAE, HierarchicalPosterior, HierarchicalPrior } from './hvae.js';
export { SeqVAE } from './seqvae.js';
export { VQVAE, VQVAE_DEFAULTS } from './vqvae.js';
export type { SeqVaeConfig, VqvaeConfig } from './configs.js';
export { CodePosterior, CodePrior } from '../distributions/codes.js';
export { DEFAULT_VQ_PRIOR, type VqPriorConfig } from '../nn/pixelcnn.js';
