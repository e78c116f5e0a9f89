// The objective of the VQ-VAE's learned prior: maximum likelihood of the code grids k(x) under p(k).
import * as tf from '@tensorflow/tfjs-core';
import type { VQVAE } from '../models/vqvae.js';
import type { Terms } from './types.js';

/** −log p(k) per example (nats), and the same in bits per code. x: float-valued indices [B, M]. */
export function priorNll(model: VQVAE, codes: tf.Tensor2D): Terms {
  return tf.tidy(() => {
    const k = codes.dtype === 'int32' ? codes : (tf.cast(codes, 'int32') as tf.Tensor2D);
    const nll = tf.neg(model.prior(k.shape[0]).logProb(k));
    return { total: nll, bits_per_code: tf.div(nll, model.numCodes * Math.LN2) as tf.Tensor1D };
  });
}
