// Build any model from its plain-JSON config (the config file of a saved model rebuilds it exactly).
import type { Rng } from '../rng.js';
import type { LatentVariableModel, ModelConfig } from './types.js';
import { VAE } from './vae.js';

export function createModel(config: ModelConfig, rng: Rng): LatentVariableModel {
  switch (config.kind) {
    case 'vae':
      return new VAE(config, rng);
    default:
      throw new Error(`unknown model kind "${(config as { kind: string }).kind}" (expected vae)`);
  }
}

export type { LatentVariableModel, ModelConfig, VaeConfig, Likelihood } from './types.js';
export { VAE } from './vae.js';
