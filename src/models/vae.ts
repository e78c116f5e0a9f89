// The Variational Autoencoder (Kingma & Welling, 2014), with β (Higgins et al., 2017) as a parameter.
//   prior       p(z)   = N(0, I)
//   encoder     q(z|x) = N(μ(x), diag σ²(x)),  [μ, log σ²] = enc(x)
//   decoder     p(x|z) = Bernoulli(logits = dec(z))   or   N(dec(z), σ² I), σ fixed or learned
// The objective (src/objectives/elbo.ts) is −ELBO = −E_q[log p(x|z)] + β·KL(q(z|x) ‖ p(z)).
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { BernoulliLogits } from '../distributions/bernoulli.js';
import { decoderLogVariance, DiagGaussian, StdNormal } from '../distributions/gaussian.js';
import type { Distribution } from '../distributions/types.js';
import { buildNetworks, initTorchStyle } from '../nn/index.js';
import type { Rng } from '../rng.js';
import { prod } from '../util/math.js';
import type { LatentVariableModel, VaeConfig } from './types.js';

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
  if (c.likelihood !== 'bernoulli' && c.likelihood !== 'gaussian')
    bad(`likelihood must be bernoulli or gaussian, got ${c.likelihood}`);
  if (!(Number.isFinite(c.beta) && c.beta >= 0)) bad(`beta must be a non-negative number, got ${c.beta}`);
  if (
    c.likelihood === 'gaussian' &&
    c.sigma !== undefined &&
    c.sigma !== 'learned' &&
    !(typeof c.sigma === 'number' && c.sigma > 0)
  )
    bad(`sigma must be a positive number or "learned", got ${c.sigma}`);
}

export class VAE implements LatentVariableModel {
  readonly encoder: tfl.LayersModel;
  readonly decoder: tfl.LayersModel;
  /** Gaussian decoder's log σ², [1, D]: a trainable variable when σ is learned, a constant otherwise. */
  readonly decoderLogVar: tf.Variable | tf.Tensor2D | null = null;
  private readonly D: number;

  constructor(
    readonly config: VaeConfig,
    rng: Rng,
  ) {
    validateVaeConfig(config);
    this.D = prod(config.inputShape);
    const nets = buildNetworks(config.network, config.inputShape, 2 * config.latentDim, config.latentDim, this.D);
    this.encoder = nets.encoder;
    this.decoder = nets.decoder;
    initTorchStyle(this.encoder, rng);
    initTorchStyle(this.decoder, rng);
    if (config.likelihood === 'gaussian') this.decoderLogVar = decoderLogVariance(config.sigma, this.D);
  }

  prior(batch: number): StdNormal {
    return new StdNormal(batch, this.config.latentDim);
  }

  // q(z|x) = N(μ, diag σ²),  [μ, log σ²] = enc(x)
  encode(x: tf.Tensor2D): DiagGaussian {
    if (x.rank !== 2 || x.shape[1] !== this.D)
      throw new Error(`encode: expected x of shape [B, ${this.D}], got [${x.shape}]`);
    const h = this.encoder.apply(x) as tf.Tensor2D;
    const d = this.config.latentDim;
    const [mu, logVar] = tf.split(h, [d, d], 1) as [tf.Tensor2D, tf.Tensor2D];
    return new DiagGaussian(mu, logVar);
  }

  // p(x|z): Bernoulli(logits = dec(z))  or  N(dec(z), σ²)
  decode(z: tf.Tensor2D): Distribution {
    const out = this.decoder.apply(z) as tf.Tensor2D;
    if (this.config.likelihood === 'bernoulli') return new BernoulliLogits(out);
    return new DiagGaussian(out, this.decoderLogVar as tf.Tensor2D);
  }

  variables(): tf.Variable[] {
    return Object.values(this.namedParameters());
  }

  networks(): Record<string, tfl.LayersModel> {
    return { encoder: this.encoder, decoder: this.decoder };
  }

  namedParameters(): Record<string, tf.Variable> {
    const out: Record<string, tf.Variable> = {};
    for (const [net, model] of Object.entries(this.networks())) {
      model.layers.forEach((layer, i) => {
        const ws = layer.trainableWeights;
        if (ws.length === 0) return;
        const names = ['weight', 'bias'];
        ws.forEach((w, j) => {
          out[`${net}.layers.${i}.${names[j] ?? `p${j}`}`] = w.read() as tf.Variable;
        });
      });
    }
    if (this.decoderLogVar instanceof tf.Variable) out['decoder.log_var'] = this.decoderLogVar;
    return out;
  }

  dispose(): void {
    this.encoder.dispose();
    this.decoder.dispose();
    this.decoderLogVar?.dispose();
  }
}
