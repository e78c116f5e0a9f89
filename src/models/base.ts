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
/** The decoder's output width: D, or 2D when a discretized-logistic decoder outputs its log scales too. */
export function decoderWidth(
  c: { likelihood: Likelihood; logisticScale?: 'per-pixel' | 'decoder' },
  D: number,
): number {
  return c.likelihood === 'discretized-logistic' && c.logisticScale === 'decoder' ? 2 * D : D;
}

export const LIKELIHOODS: readonly Likelihood[] = ['bernoulli', 'gaussian', 'discretized-logistic'];

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
