// The Variational Autoencoder (Kingma & Welling, 2014), with β (Higgins et al., 2017) as a parameter.
//   prior       p(z)   = N(0, I)
//   encoder     q(z|x) = N(μ(x), diag σ²(x)),  [μ, log σ²] = enc(x)
//   decoder     p(x|z) = Bernoulli(logits = dec(z))   or   N(dec(z), σ² I), σ fixed or learned
// The objective (src/objectives/elbo.ts) is −ELBO = −E_q[log p(x|z)] + β·KL(q(z|x) ‖ p(z)).
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { DiagGaussian, StdNormal } from '../distributions/gaussian.js';
import type { Distribution } from '../distributions/types.js';
import { buildNetworks, initTorchStyle } from '../nn/index.js';
import type { Rng } from '../rng.js';
import { prod } from '../util/math.js';
import { checkLocalMixture, checkRows, decoderWidth, gaussianHead, LatentModelBase, LIKELIHOODS } from './base.js';
import type { VaeConfig } from './configs.js';

export function validateVaeConfig(c: VaeConfig): void {
  const bad = (m: string) => {
    throw new Error(`invalid VAE config: ${m}`);
  };
  if (
    !Array.isArray(c.inputShape) ||
    c.inputShape.length === 0 ||
    !c.inputShape.every((d) => Number.isInteger(d) && d > 0)
  )
    bad(`inputShape must be positive integers, got ${JSON.stringify(c.inputShape)}`);
  if (!Number.isInteger(c.latentDim) || c.latentDim < 1)
    bad(`latentDim must be a positive integer, got ${c.latentDim}`);
  if (!LIKELIHOODS.includes(c.likelihood)) bad(`likelihood must be ${LIKELIHOODS.join(', ')}; got ${c.likelihood}`);
  if (
    c.likelihood === 'gaussian' &&
    c.sigma !== undefined &&
    c.sigma !== 'learned' &&
    !(typeof c.sigma === 'number' && c.sigma > 0)
  )
    bad(`sigma must be a positive number or "learned", got ${c.sigma}`);
  if (c.logisticScale !== undefined && c.logisticScale !== 'per-pixel' && c.logisticScale !== 'decoder')
    bad(`logisticScale must be per-pixel or decoder, got ${String(c.logisticScale)}`);
  if (c.logisticScale === 'decoder' && c.likelihood !== 'discretized-logistic')
    bad('logisticScale is a setting of the discretized-logistic likelihood');
  try {
    checkLocalMixture(c);
  } catch (e) {
    bad((e as Error).message);
  }
}

export class VAE extends LatentModelBase {
  readonly encoder: tfl.LayersModel;
  readonly decoder: tfl.LayersModel;
  private readonly D: number;

  constructor(
    readonly config: VaeConfig,
    rng: Rng,
  ) {
    super();
    validateVaeConfig(config);
    this.D = prod(config.inputShape);
    const nets = buildNetworks(
      config.network,
      config.inputShape,
      2 * config.latentDim,
      config.latentDim,
      decoderWidth(config, this.D),
    );
    this.encoder = nets.encoder;
    this.decoder = nets.decoder;
    initTorchStyle(this.encoder, rng);
    initTorchStyle(this.decoder, rng);
    this.initDecoderScale(config, this.D);
  }

  prior(batch: number): StdNormal {
    return new StdNormal(batch, this.config.latentDim);
  }

  // q(z|x) = N(μ, diag σ²),  [μ, log σ²] = enc(x)
  encode(x: tf.Tensor2D): DiagGaussian {
    checkRows(x, this.D);
    return gaussianHead(this.encoder.apply(x) as tf.Tensor2D);
  }

  // p(x|z): Bernoulli(logits = dec(z))  or  N(dec(z), σ²)
  decode(z: tf.Tensor2D): Distribution {
    return this.observe(this.config.likelihood, this.decoder.apply(z) as tf.Tensor2D);
  }

  networks(): Record<string, tfl.LayersModel> {
    return { encoder: this.encoder, decoder: this.decoder };
  }
}
