// Categorical distributions at each of T steps over a vocabulary of V tokens, parameterised by logits,
// for one-hot sequences that travel flat: x [B, T·V], step-major (x[t·V + v]).
//   p(x)      = Π_t Cat(x_t; softmax(l_t))
//   log p(x)  = Σ_t m_t Σ_v x_tv (l_tv − logsumexp_v l_t)        (log-softmax: never forms log(softmax))
//   m_t       = 1 up to and including the first end token of x, 0 after it (padding), when an end token is named
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor, Tensor1D, Tensor2D } from '@tensorflow/tfjs-core';
import type { Rng } from '../rng.js';
import type { Distribution } from './types.js';

export class Categorical implements Distribution {
  readonly steps: number;

  /**
   * @param logits [B, T·V] unnormalised log-probabilities
   * @param vocab V, the tokens per step
   * @param endToken index of the end/pad token: steps after its first occurrence in x are padding and not scored
   */
  constructor(
    readonly logits: Tensor2D,
    readonly vocab: number,
    readonly endToken: number | null = null,
  ) {
    if (logits.rank !== 2 || logits.shape[1] % vocab !== 0)
      throw new Error(`Categorical: logits [${logits.shape}] are not [B, T·${vocab}]`);
    if (endToken !== null && !(Number.isInteger(endToken) && endToken >= 0 && endToken < vocab))
      throw new Error(`Categorical: endToken ${endToken} is not a token of ${vocab}`);
    this.steps = logits.shape[1] / vocab;
  }

  // log softmax(l)_tv = l_tv − logsumexp_v l_t,  [B, T, V]
  logSoftmax(): tf.Tensor3D {
    return tf.tidy(() => {
      const l = tf.reshape(this.logits, [-1, this.steps, this.vocab]);
      return tf.sub(l, tf.logSumExp(l, -1, true)) as tf.Tensor3D;
    });
  }

  /** m [B, T]: 1 for the steps that count (up to and including the first end token), 0 for padding. */
  mask(x: Tensor): Tensor2D {
    return tf.tidy(() => {
      const B = x.shape[0];
      if (this.endToken === null) return tf.ones([B, this.steps]) as Tensor2D;
      const isEnd = tf.reshape(
        tf.slice(tf.reshape(x, [B, this.steps, this.vocab]), [0, 0, this.endToken], [B, this.steps, 1]),
        [B, this.steps],
      );
      const endsBefore = tf.cumsum(isEnd, 1, true); //                    Σ_{s<t} [x_s = end]
      return tf.cast(tf.lessEqual(endsBefore, 0.5), 'float32') as Tensor2D;
    });
  }

  // log p(x) = Σ_t m_t Σ_v x_tv log softmax(l_t)_v,  [B]
  logProb(x: Tensor): Tensor1D {
    if (x.rank !== 2 || x.shape[1] !== this.logits.shape[1] || x.shape[0] !== this.logits.shape[0])
      throw new Error(`Categorical.logProb: x [${x.shape}] does not match the logits [${this.logits.shape}]`);
    return tf.tidy(() => {
      const B = x.shape[0];
      const perStep = tf.sum(tf.mul(tf.reshape(x, [B, this.steps, this.vocab]), this.logSoftmax()), -1); // [B, T]
      return tf.sum(this.endToken === null ? perStep : tf.mul(perStep, this.mask(x)), -1) as Tensor1D;
    });
  }

  /** softmax(l_t) per step, [B, T·V]. */
  probs(): Tensor2D {
    return tf.tidy(() => tf.reshape(tf.exp(this.logSoftmax()), this.logits.shape) as Tensor2D);
  }

  /** E[x] (x one-hot): the probabilities, [B, T·V]. */
  mean(): Tensor2D {
    return this.probs();
  }

  /** The most probable token at each step, one-hot [B, T·V]. */
  mode(): Tensor2D {
    return tf.tidy(() => {
      const idx = tf.argMax(tf.reshape(this.logits, [-1, this.steps, this.vocab]), -1);
      return tf.reshape(tf.oneHot(idx, this.vocab, 1, 0, 'float32'), this.logits.shape) as Tensor2D;
    });
  }

  /** One token per step drawn from softmax(l_t) (inverse CDF on the explicit RNG), one-hot [B, T·V]. Not reparameterizable. */
  sample(rng: Rng): Tensor2D {
    const p = this.probs();
    const pv = p.dataSync();
    p.dispose();
    const out = new Float32Array(pv.length);
    for (let row = 0; row < pv.length; row += this.vocab) out[row + drawToken(pv, row, this.vocab, rng.uniform())] = 1;
    return tf.tensor2d(out, this.logits.shape);
  }
}

/** Inverse CDF: the token k with Σ_{j<k} p_j ≤ u < Σ_{j≤k} p_j, for probabilities p[offset … offset+V−1]. */
export function drawToken(p: ArrayLike<number>, offset: number, V: number, u: number): number {
  let total = 0;
  for (let v = 0; v < V; v++) total += p[offset + v];
  let acc = 0;
  const target = u * total; // the probabilities of float32 softmax sum to 1 ± ε
  for (let v = 0; v < V; v++) {
    acc += p[offset + v];
    if (target < acc) return v;
  }
  for (let v = V - 1; v >= 0; v--) if (p[offset + v] > 0) return v;
  return V - 1;
}
