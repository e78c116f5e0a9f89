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

/** Standard-normal draws as a tensor, from the explicit RNG (never tfjs's hidden global state). */
export function normalNoise(tf: typeof import('@tensorflow/tfjs-core'), rng: Rng, shape: number[]): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(rng.fillNormal(new Float32Array(n)), shape, 'float32');
}
