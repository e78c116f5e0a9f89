// The small base every model stands on (the scaffolding the model files would otherwise each repeat):
//   gaussianHead     [μ | log σ²] = h  →  N(μ, diag σ²)   (an encoder's or a prior network's output)
//   observation      p(x | ·) = Bernoulli(logits = out)  or  N(out, σ²), σ² from decoderLogVar
//   layerParameters  PyTorch-style names `${net}.layers.${i}.weight|bias` for the networks' weights
//   LatentModelBase  variables / namedParameters / dispose from the networks, decoder.log_var and own tensors
// A new model extends LatentModelBase and writes only what its paper says: prior, encode, decode, networks.
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { BernoulliLogits } from '../distributions/bernoulli.js';
import { DiagGaussian } from '../distributions/gaussian.js';
import type { Distribution } from '../distributions/types.js';
import type { Likelihood, ModelConfig } from './configs.js';
import type { LatentVariableModel, Posterior, Prior } from './types.js';

/** N(μ, diag σ²) from h = [μ | log σ²] ([B, 2d]). */
export function gaussianHead(h: tf.Tensor2D): DiagGaussian {
  const d = h.shape[1] / 2;
  const [mu, logVar] = tf.split(h, [d, d], 1) as [tf.Tensor2D, tf.Tensor2D];
  return new DiagGaussian(mu, logVar);
}

/** p(x | ·) from the decoder's output [B, D]: Bernoulli(logits = out), or N(out, σ²) with log σ² = logVar. */
export function observation(likelihood: Likelihood, out: tf.Tensor2D, logVar: tf.Tensor2D | null): Distribution {
  if (likelihood === 'bernoulli') return new BernoulliLogits(out);
  if (!logVar) throw new Error('a Gaussian decoder needs its log σ²');
  return new DiagGaussian(out, logVar);
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
    return { ...out, ...this.ownParameters() };
  }

  variables(): tf.Variable[] {
    return Object.values(this.namedParameters());
  }

  dispose(): void {
    for (const net of Object.values(this.networks())) net.dispose();
    for (const v of Object.values(this.ownParameters())) v.dispose();
    this.decoderLogVar?.dispose();
  }
}
