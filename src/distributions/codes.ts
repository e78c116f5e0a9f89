// Distributions over a VQ-VAE's grid of M discrete codes k ∈ {0, …, K−1}^M (van den Oord et al., 2017):
//   CodePosterior  q(k|x) = δ(k = k(x)), the point mass on the encoder's nearest codes
//   CodePrior      p(k) = Π_i p(k_i | k_<i) under a PixelCNN (src/nn/pixelcnn.ts), or uniform K^−M without one
// Their values are one-hot grids [B, M·K] (what VQVAE.decode takes); logProb also takes int32 indices [B, M].
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import type { Rng } from '../rng.js';
import type { Distribution } from './types.js';

/** int32 code indices [B, M] from either form of z: indices [B, M] (int32 or integer-valued floats) or a one-hot [B, M·K]. */
export function codeIndices(z: tf.Tensor, M: number, K: number): tf.Tensor2D {
  if (z.rank === 2 && z.shape[1] === M)
    return (z.dtype === 'int32' ? z : tf.tidy(() => tf.cast(tf.round(z), 'int32'))) as tf.Tensor2D;
  if (z.rank === 2 && z.shape[1] === M * K)
    return tf.tidy(() => tf.argMax(tf.reshape(z, [z.shape[0], M, K]), 2) as tf.Tensor2D);
  throw new Error(`expected codes as indices [B, ${M}] or a one-hot [B, ${M * K}], got [${z.shape}]`);
}

/** onehot(k) flat [B, M·K] (float32) of int32 indices [B, M]. (Cast, not oneHot's dtype argument: tfjs-wasm 4.22 writes int32 bits into a float32 oneHot.) */
export function oneHotCodes(k: tf.Tensor2D, K: number): tf.Tensor2D {
  return tf.tidy(
    () =>
      tf.reshape(tf.cast(tf.oneHot(tf.reshape(k, [-1]) as tf.Tensor1D, K), 'float32'), [
        k.shape[0],
        k.shape[1] * K,
      ]) as tf.Tensor2D,
  );
}

/** One draw from Categorical(softmax(logits / T)) per row of a [rows, K] array, by inversion with the explicit RNG. */
export function sampleCategorical(logits: Float32Array, K: number, rng: Rng, temperature = 1): Int32Array {
  if (!(temperature > 0)) throw new Error(`temperature must be positive, got ${temperature}`);
  const rows = logits.length / K;
  const out = new Int32Array(rows);
  const p = new Float64Array(K);
  for (let r = 0; r < rows; r++) {
    let m = -Infinity;
    for (let k = 0; k < K; k++) m = Math.max(m, logits[r * K + k] / temperature);
    let s = 0;
    for (let k = 0; k < K; k++) s += p[k] = Math.exp(logits[r * K + k] / temperature - m);
    let u = rng.uniform() * s;
    let k = 0;
    while (k < K - 1 && (u -= p[k]) >= 0) k++;
    out[r] = k;
  }
  return out;
}

/**
 * p(k) over the code grid, for a batch of `batch` examples: the PixelCNN (net) or the uniform prior
 * p(k) = K^−M (net null). As a Distribution its values are one-hot grids [B, M·K] (what the posterior
 * samples and VQVAE.decode takes); logProb also takes int32 indices [B, M].
 */
export class CodePrior implements Distribution {
  readonly M: number;

  constructor(
    readonly net: tfl.LayersModel | null,
    readonly batch: number,
    readonly grid: [number, number],
    readonly K: number,
  ) {
    this.M = grid[0] * grid[1];
  }

  /** Logits of p(k_i | k_<i), [B, M, K], for all positions at once (teacher forcing). */
  logits(k: tf.Tensor2D): tf.Tensor3D {
    return tf.tidy(() => {
      const B = k.shape[0];
      if (!this.net) return tf.zeros([B, this.M, this.K]) as tf.Tensor3D;
      return tf.reshape(this.net.apply(oneHotCodes(k, this.K)) as tf.Tensor2D, [B, this.M, this.K]) as tf.Tensor3D;
    });
  }

  // log p(k) = Σ_i log softmax(f(k_<i)_i)[k_i]
  logProb(z: tf.Tensor): tf.Tensor1D {
    return tf.tidy(() => {
      const k = codeIndices(z, this.M, this.K);
      if (!this.net) return tf.fill([k.shape[0]], -this.M * Math.log(this.K)) as tf.Tensor1D;
      const logp = tf.logSoftmax(this.logits(k), -1);
      return tf.sum(tf.mul(logp, tf.cast(tf.oneHot(k, this.K), 'float32')), [1, 2]) as tf.Tensor1D;
    });
  }

  /** k ~ p(k) ancestrally in raster order (M passes of the network), int32 [B, M]; T scales the logits. */
  sampleIndices(rng: Rng, temperature = 1): tf.Tensor2D {
    const { batch: B, M, K } = this;
    const codes = new Int32Array(B * M);
    if (!this.net) {
      for (let i = 0; i < codes.length; i++) codes[i] = rng.int(K);
      return tf.tensor2d(codes, [B, M], 'int32');
    }
    for (let i = 0; i < M; i++) {
      const li = tf.tidy(() => {
        const all = this.logits(tf.tensor2d(codes, [B, M], 'int32'));
        return tf.reshape(tf.slice(all, [0, i, 0], [B, 1, K]), [B, K]).dataSync() as Float32Array;
      });
      const ki = sampleCategorical(li, K, rng, temperature);
      for (let b = 0; b < B; b++) codes[b * M + i] = ki[b];
    }
    return tf.tensor2d(codes, [B, M], 'int32');
  }

  /** A sample as the one-hot grid [B, M·K] that VQVAE.decode takes (as generate() uses it). */
  sample(rng: Rng): tf.Tensor2D {
    return tf.tidy(() => oneHotCodes(this.sampleIndices(rng), this.K));
  }

  /** E[onehot(k)]: 1/K everywhere for the uniform prior; an autoregressive prior's marginals have no closed form. */
  mean(): tf.Tensor2D {
    if (this.net)
      throw new Error(
        'the mean of an autoregressive code prior (its per-position marginals) has no closed form; draw samples instead',
      );
    return tf.fill([this.batch, this.M * this.K], 1 / this.K) as tf.Tensor2D;
  }
}

/**
 * q(k|x) = δ(k = k(x)): the VQ posterior, a point mass on the code grid k(x). Its values are one-hot grids
 * [B, M·K]; `indices` holds k(x) as int32 [B, M].
 */
export class CodePosterior implements Distribution {
  constructor(
    readonly indices: tf.Tensor2D,
    readonly K: number,
  ) {}

  get M(): number {
    return this.indices.shape[1];
  }

  /** The point mass's only value, onehot(k(x)) [B, M·K] (no randomness; rng unused). */
  sample(_rng?: Rng): tf.Tensor2D {
    return oneHotCodes(this.indices, this.K);
  }

  /** E_q[onehot(k)] = onehot(k(x)). */
  mean(): tf.Tensor2D {
    return oneHotCodes(this.indices, this.K);
  }

  // log q(k|x) = 0 if k = k(x), −∞ otherwise
  logProb(z: tf.Tensor): tf.Tensor1D {
    return tf.tidy(() => {
      const same = tf.all(tf.equal(codeIndices(z, this.M, this.K), this.indices), 1);
      return tf.where(
        same,
        tf.zeros([this.indices.shape[0]]),
        tf.fill([this.indices.shape[0]], -Infinity),
      ) as tf.Tensor1D;
    });
  }

  /** Every example repeated L times along the batch (sample-major). */
  repeat(L: number): CodePosterior {
    return L === 1 ? this : new CodePosterior(tf.tile(this.indices, [L, 1]) as tf.Tensor2D, this.K);
  }

  // KL(q ‖ p) = Σ_k q(k) log q(k)/p(k) = −log p(k(x))   (q is a point mass; M log K under the uniform prior)
  kl(p: CodePrior): tf.Tensor1D {
    return tf.tidy(() => tf.neg(p.logProb(this.indices)));
  }
}
