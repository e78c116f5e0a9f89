// The conditional VAE (Sohn, Lee & Yan, 2015; the label-conditioned p(x|y,z) of Kingma et al., 2014, M2),
// with the label y ∈ {0, …, K−1} observed for every example:
//   prior       p(z|y)   = N(0, I)                  ('standard')
//                       or N(μ_y, diag σ²_y)          ('learned': μ_y, log σ²_y are parameters of class y)
//   encoder     q(z|x,y) = N(μ, diag σ²),  [μ, log σ²] = enc(x, c(y))
//   decoder     p(x|z,y) = Bernoulli(logits = dec(z, c(y)))   or   N(dec(z, c(y)), σ² I)
//   c(y)        = onehot(y), or a learned embedding E·onehot(y) ('embedding'; each network has its own E)
// The objectives are the VAE's given y: −ELBO(x|y) = −E_q[log p(x|z,y)] + β·KL(q(z|x,y) ‖ p(z|y)).
//
// Every network is a tfjs-layers model with two inputs, [x or z, onehot(y)], so the saved browser model
// takes the label as a one-hot row; the learned prior is the network `prior`: onehot(y) → [μ_y, log σ²_y].
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { DiagGaussian, StdNormal } from '../distributions/gaussian.js';
import type { Distribution } from '../distributions/types.js';
import { buildDecoderNet, buildEncoderNet, initTorchStyle, netBody, type Conditioning } from '../nn/index.js';
import type { Rng } from '../rng.js';
import { checkRows, gaussianHead, LatentModelBase } from './base.js';
import type { CvaeConfig } from './configs.js';
import { validateVaeConfig } from './vae.js';
import { prod } from '../util/math.js';

export function validateCvaeConfig(c: CvaeConfig): void {
  const bad = (m: string) => {
    throw new Error(`invalid CVAE config: ${m}`);
  };
  try {
    validateVaeConfig({ ...c, kind: 'vae' });
    if (c.logisticScale === 'decoder') throw new Error('logisticScale decoder is a setting of the vae and hvae models');
    if (c.likelihood === 'local-logistic-mixture')
      throw new Error('the local-logistic-mixture likelihood is a setting of the vae and hvae models');
  } catch (e) {
    bad((e as Error).message.replace(/^invalid VAE config: /, ''));
  }
  if (!Number.isInteger(c.numClasses) || c.numClasses < 2)
    bad(`numClasses must be an integer ≥ 2, got ${c.numClasses}`);
  if (c.labelEncoding !== 'onehot' && c.labelEncoding !== 'embedding')
    bad(`labelEncoding must be onehot or embedding, got ${c.labelEncoding}`);
  if (c.labelEncoding === 'embedding' && !(Number.isInteger(c.embeddingDim) && (c.embeddingDim as number) > 0))
    bad(`embeddingDim must be a positive integer for labelEncoding "embedding", got ${c.embeddingDim}`);
  if (c.prior !== 'standard' && c.prior !== 'learned') bad(`prior must be standard or learned, got ${c.prior}`);
}

export class CVAE extends LatentModelBase {
  readonly encoder: tfl.LayersModel;
  readonly decoder: tfl.LayersModel;
  /** onehot(y) → [μ_y, log σ²_y] of the learned prior; null for p(z|y) = N(0, I). */
  readonly priorNet: tfl.LayersModel | null = null;
  override readonly numClasses: number;
  private readonly D: number;

  constructor(
    readonly config: CvaeConfig,
    rng: Rng,
  ) {
    super();
    validateCvaeConfig(config);
    this.D = prod(config.inputShape);
    this.numClasses = config.numClasses;
    const d = config.latentDim;
    const body = netBody(config.network);
    const cond: Conditioning = {
      classes: config.numClasses,
      embed: config.labelEncoding === 'embedding' ? config.embeddingDim : undefined,
    };
    this.encoder = buildEncoderNet('encoder', body, config.inputShape, 2 * d, cond);
    this.decoder = buildDecoderNet('decoder', body, d, config.inputShape, cond);
    initTorchStyle(this.encoder, rng);
    initTorchStyle(this.decoder, rng);
    if (config.prior === 'learned') {
      // one row [μ_y, log σ²_y] per class, starting at N(0, I)
      const y = tfl.input({ shape: [config.numClasses], name: 'prior_label' });
      const out = tfl.layers
        .dense({ units: 2 * d, useBias: false, kernelInitializer: 'zeros', name: 'prior_out' })
        .apply(y) as tfl.SymbolicTensor;
      this.priorNet = tfl.model({ inputs: y, outputs: out, name: 'prior' });
    }
    this.initDecoderScale(config, this.D);
  }

  /** onehot(y) as float rows [B, K]; y: int32 labels [B]. */
  private onehot(y: tf.Tensor1D | undefined, B: number, what: string): tf.Tensor2D {
    if (!y)
      throw new Error(
        `${what}: the CVAE needs the labels y (train and evaluate on labelled data; sample with a label)`,
      );
    if (y.rank !== 1 || y.shape[0] !== B)
      throw new Error(`${what}: expected labels y of shape [${B}], got [${y.shape}]`);
    return tf.tidy(
      () =>
        tf.cast(tf.oneHot(y.dtype === 'int32' ? y : tf.cast(y, 'int32'), this.numClasses), 'float32') as tf.Tensor2D,
    );
  }

  // p(z|y) = N(0, I)   or   N(μ_y, diag σ²_y)
  prior(batch: number, y?: tf.Tensor1D): StdNormal | DiagGaussian {
    if (!this.priorNet) return new StdNormal(batch, this.config.latentDim);
    return gaussianHead(this.priorNet.apply(this.onehot(y, batch, 'prior')) as tf.Tensor2D);
  }

  // q(z|x,y) = N(μ, diag σ²),  [μ, log σ²] = enc(x, c(y))
  encode(x: tf.Tensor2D, y?: tf.Tensor1D): DiagGaussian {
    checkRows(x, this.D);
    return gaussianHead(this.encoder.apply([x, this.onehot(y, x.shape[0], 'encode')]) as tf.Tensor2D);
  }

  // p(x|z,y): Bernoulli(logits = dec(z, c(y)))  or  N(dec(z, c(y)), σ²)
  decode(z: tf.Tensor2D, y?: tf.Tensor1D): Distribution {
    const out = this.decoder.apply([z, this.onehot(y, z.shape[0], 'decode')]) as tf.Tensor2D;
    return this.observe(this.config.likelihood, out);
  }

  networks(): Record<string, tfl.LayersModel> {
    return { encoder: this.encoder, decoder: this.decoder, ...(this.priorNet ? { prior: this.priorNet } : {}) };
  }
}
