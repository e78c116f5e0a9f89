import type { Tensor, Tensor1D } from '@tensorflow/tfjs-core';
import type { Rng } from '../rng.js';

/** A distribution over a batch: every method answers one value per example (event dims summed). */
export interface Distribution {
  /** A sample [B, ...event]; reparameterized (differentiable in the parameters) where the family allows. */
  sample(rng: Rng): Tensor;
  /** log p(x) summed over the event dimensions: [B]. */
  logProb(x: Tensor): Tensor1D;
  /** The mean [B, ...event]. */
  mean(): Tensor;
}

/**
 * An observation model p(x | z) that can score the observed dimensions only (inpainting, MIWAE):
 *   log p(x_o | z) = Σ_d m_d log p(x_d | z),   m [B, D] or [1, D]: 1 observed, 0 missing.
 * Without a mask it is logProb(x); a mask of ones gives the same value. New likelihoods (the discretised
 * logistic) implement this signature and set `maskable`.
 */
export interface MaskedLikelihood extends Distribution {
  readonly maskable: true;
  logProb(x: Tensor, mask?: Tensor): Tensor1D;
}

/** True for a likelihood whose logProb takes an observation mask. */
export function isMaskedLikelihood(d: Distribution): d is MaskedLikelihood {
  return (d as Partial<MaskedLikelihood>).maskable === true;
}

/** Standard-normal draws as a tensor, from the explicit RNG (never tfjs's hidden global state). */
export function normalNoise(tf: typeof import('@tensorflow/tfjs-core'), rng: Rng, shape: number[]): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(rng.fillNormal(new Float32Array(n)), shape, 'float32');
}
