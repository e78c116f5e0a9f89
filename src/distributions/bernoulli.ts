// Bernoulli observations parameterised by logits (numerically stable: never forms log(sigmoid(l))).
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor, Tensor1D, Tensor2D } from '@tensorflow/tfjs-core';
import type { Rng } from '../rng.js';
import { bernoulliNllWithLogits } from '../backend/fused.js';
import type { MaskedLikelihood } from './types.js';

export class BernoulliLogits implements MaskedLikelihood {
  readonly maskable = true;
  constructor(readonly logits: Tensor2D) {}

  // log p(x) = Σ_d m_d [x_d·l_d − softplus(l_d)]   (m = 1 without a mask; m_d = 0: x_d missing)
  logProb(x: Tensor, mask?: Tensor): Tensor1D {
    return tf.tidy(() => tf.neg(bernoulliNllWithLogits(this.logits, x as Tensor2D, mask)) as Tensor1D);
  }

  mean(): Tensor2D {
    return tf.sigmoid(this.logits);
  }

  sample(rng: Rng): Tensor2D {
    return tf.tidy(() => {
      const u = tf.tensor(rng.fillUniform(new Float32Array(this.logits.size)), this.logits.shape);
      return tf.cast(tf.less(u, tf.sigmoid(this.logits)), 'float32') as Tensor2D;
    });
  }
}
