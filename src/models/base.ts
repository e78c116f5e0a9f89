// The small base every model stands on (the scaffolding the model files would otherwise each repeat):
//   gaussianHead     [μ | log σ²] = h  →  N(μ, diag σ²)   (an encoder's or a prior network's output)
//   observation      p(x | ·) = Bernoulli(logits = out), N(out, σ²) with σ² from decoderLogVar, or the discretised
//                    logistic over 8-bit values with mean out and scale from decoderLogScale
//   layerParameters  PyTorch-style names `${net}.layers.${i}.weight|bias` for the networks' weights
//   LatentModelBase  variables / namedParameters / dispose from the networks, decoder.log_var and own tensors
// A new model extends LatentModelBase and writes only what its paper says: prior, encode, decode, networks.
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { BernoulliLogits } from '../distributions/bernoulli.js';
import { DiscretizedLogistic, decoderLogScale } from '../distributions/discretized-logistic.js';
import { decoderLogVariance, DiagGaussian } from '../distributions/gaussian.js';
import {
  DEFAULT_NEIGHBOURS,
  LocalLogisticMixture,
  localImageSize,
  localParamsPerPixel,
} from '../distributions/local-logistic-mixture.js';
import type { Distribution } from '../distributions/types.js';
import type { Likelihood, ModelConfig } from './configs.js';
import type { LatentVariableModel, Posterior, Prior } from './types.js';

/** N(μ, diag σ²) from h = [μ | log σ²] ([B, 2d]). */
export function gaussianHead(h: tf.Tensor2D): DiagGaussian {
  const d = h.shape[1] / 2;
  const [mu, logVar] = tf.split(h, [d, d], 1) as [tf.Tensor2D, tf.Tensor2D];
  return new DiagGaussian(mu, logVar);
}

/**
 * p(x | ·) from the decoder's output [B, D]: Bernoulli(logits = out), N(out, σ²) with log σ² = logVar, or the
 * discretised logistic with mean out and log scale logScale.
 */
export function observation(
  likelihood: Likelihood,
  out: tf.Tensor2D,
  logVar: tf.Tensor2D | null,
  logScale: tf.Tensor2D | null = null,
): Distribution {
  if (likelihood === 'bernoulli') return new BernoulliLogits(out);
  if (likelihood === 'discretized-logistic') {
    if (!logScale) throw new Error('a discretised-logistic decoder needs its log scale');
    return new DiscretizedLogistic(out, logScale);
  }
  if (!logVar) throw new Error('a Gaussian decoder needs its log σ²');
  return new DiagGaussian(out, logVar);
}

/** The likelihoods an image or vector model accepts, for config validation. */
/**
 * The decoder's output width: D, 2D when a discretized-logistic decoder outputs its log scales too, or
 * D·(3K + 4) for the local-logistic-mixture of K components.
 */
export function decoderWidth(
  c: { likelihood: Likelihood; logisticScale?: 'per-pixel' | 'decoder'; mixtures?: number; neighbours?: number },
  D: number,
): number {
  if (c.likelihood === 'local-logistic-mixture')
    return D * localParamsPerPixel(c.mixtures ?? DEFAULT_MIXTURES, c.neighbours ?? DEFAULT_NEIGHBOURS);
  return c.likelihood === 'discretized-logistic' && c.logisticScale === 'decoder' ? 2 * D : D;
}

/** K of the local-logistic-mixture when the config does not say. */
export const DEFAULT_MIXTURES = 3;

export const LIKELIHOODS: readonly Likelihood[] = [
  'bernoulli',
  'gaussian',
  'discretized-logistic',
  'local-logistic-mixture',
];

/** An error naming the problem unless the local-logistic-mixture settings fit (K a small positive integer, one-channel images). */
export function checkLocalMixture(c: {
  likelihood: Likelihood;
  mixtures?: number;
  neighbours?: number;
  inputShape: number[];
}): void {
  for (const k of ['mixtures', 'neighbours'] as const)
    if (c[k] !== undefined && c.likelihood !== 'local-logistic-mixture')
      throw new Error(`${k} is a setting of the local-logistic-mixture likelihood`);
  if (c.likelihood !== 'local-logistic-mixture') return;
  if (c.neighbours !== undefined && c.neighbours !== 4 && c.neighbours !== 8)
    throw new Error(`neighbours must be 4 or 8, got ${String(c.neighbours)}`);
  if (c.mixtures !== undefined && !(Number.isInteger(c.mixtures) && c.mixtures >= 1 && c.mixtures <= 10))
    throw new Error(`mixtures must be an integer in 1…10, got ${String(c.mixtures)}`);
  localImageSize(c.inputShape);
}

/** An error unless x is [B, D]. */
export function checkRows(x: tf.Tensor, D: number, what = 'encode'): void {
  if (x.rank !== 2 || x.shape[1] !== D) throw new Error(`${what}: expected x of shape [B, ${D}], got [${x.shape}]`);
}

/** `${net}.layers.${i}.weight|bias` for every trainable weight of the networks (Linear/Conv as in PyTorch). */
export function layerParameters(nets: Record<string, tfl.LayersModel>): Record<string, tf.Variable> {
  const out: Record<string, tf.Variable> = {};
  for (const [net, model] of Object.entries(nets)) {
    model.layers.forEach((layer, i) => {
      const names = ['weight', 'bias'];
      layer.trainableWeights.forEach((w, j) => {
        out[`${net}.layers.${i}.${names[j] ?? `p${j}`}`] = w.read() as tf.Variable;
      });
    });
  }
  return out;
}

export abstract class LatentModelBase implements LatentVariableModel {
  abstract readonly config: ModelConfig;
  readonly numClasses?: number;
  /** The Gaussian decoder's log σ² ([1, D]): a trainable variable when σ is learned, a constant otherwise. */
  decoderLogVar: tf.Variable | tf.Tensor2D | null = null;
  /** The discretised-logistic decoder's per-dimension log scale ([1, D], trainable). */
  decoderLogScale: tf.Variable | null = null;

  abstract prior(batch: number, y?: tf.Tensor1D): Prior;
  abstract encode(x: tf.Tensor2D, y?: tf.Tensor1D): Posterior;
  abstract decode(z: tf.Tensor2D, y?: tf.Tensor1D): Distribution;
  abstract networks(): Record<string, tfl.LayersModel>;

  /** Tensors the model holds beyond its networks and decoder.log_var (a codebook, EMA state), by saved name. */
  protected ownParameters(): Record<string, tf.Variable> {
    return {};
  }

  namedParameters(): Record<string, tf.Variable> {
    const out = layerParameters(this.networks());
    if (this.decoderLogVar instanceof tf.Variable) out['decoder.log_var'] = this.decoderLogVar;
    if (this.decoderLogScale) out['decoder.log_scale'] = this.decoderLogScale;
    return { ...out, ...this.ownParameters() };
  }

  variables(): tf.Variable[] {
    return Object.values(this.namedParameters());
  }

  dispose(): void {
    for (const net of Object.values(this.networks())) net.dispose();
    for (const v of Object.values(this.ownParameters())) v.dispose();
    this.decoderLogVar?.dispose();
    this.decoderLogScale?.dispose();
  }

  /** Creates the decoder's scale parameter its likelihood needs: log σ² (Gaussian) or log s (discretised logistic). */
  protected initDecoderScale(
    config: { likelihood: Likelihood; sigma?: number | 'learned'; logisticScale?: 'per-pixel' | 'decoder' },
    width: number,
  ): void {
    if (config.likelihood === 'gaussian') this.decoderLogVar = decoderLogVariance(config.sigma, width);
    if (config.likelihood === 'discretized-logistic' && config.logisticScale !== 'decoder')
      this.decoderLogScale = decoderLogScale(width);
  }

  /** p(x | ·) of this model's likelihood from the decoder's output [B, D] ([B, 2D] of [μ, log s] pairs: logisticScale decoder). */
  protected observe(likelihood: Likelihood, out: tf.Tensor2D): Distribution {
    if (likelihood === 'local-logistic-mixture') {
      const c = this.config as { inputShape: number[]; mixtures?: number; neighbours?: number };
      const [H, W] = localImageSize(c.inputShape);
      return new LocalLogisticMixture(out, H, W, c.mixtures ?? DEFAULT_MIXTURES, c.neighbours ?? DEFAULT_NEIGHBOURS);
    }
    if (likelihood === 'discretized-logistic' && !this.decoderLogScale) {
      const [B, W] = out.shape;
      const [mu, ls] = tf.tidy(() =>
        tf.split(tf.reshape(out, [B, W / 2, 2]), 2, 2).map((t) => tf.reshape(t, [B, W / 2]) as tf.Tensor2D),
      );
      return new DiscretizedLogistic(mu, ls);
    }
    return observation(
      likelihood,
      out,
      this.decoderLogVar as tf.Tensor2D | null,
      this.decoderLogScale as tf.Tensor2D | null,
    );
  }
}
