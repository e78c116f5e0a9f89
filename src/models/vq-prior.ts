// The learned prior of a VQ-VAE (van den Oord et al., 2017, §3.2): an autoregressive distribution over
// the grid of code indices, fitted after the VQ-VAE to the codes its encoder gives the training data.
//   p(k) = Π_i p(k_i | k_<i)            (raster order over the h×w code grid; an MLP's M codes are a 1×M grid)
//   p(k_i | k_<i) = Categorical(softmax(f(k_<i)_i))
// f is a small PixelCNN without blind spot (van den Oord et al., 2016; the shifted convolutions of
// PixelCNN++, Salimans et al., 2017) built from standard tfjs layers only (zero-padding, 'valid'
// convolutions, cropping), so the saved tfjs model runs in the browser as is:
//   u  = ↓(conv_{2×3}(x))                              vertical stack: sees the rows above
//   ul = ↓(conv_{1×3}(x)) + →(conv_{2×1}(x))           horizontal stack: rows above + left in the row
//   L× u  ← u  + conv_{2×3}(elu(u))
//      ul ← ul + conv_{2×2}(elu(ul)) + nin(elu(u))
//   logits = nin(elu(ul))                              [h, w, K]
// where x = onehot(k), conv_{a×b} is padded a−1 rows on top (and (b−1)/2 columns each side, or b−1 on the
// left for the 2×2/2×1 ones) so that it never looks down or right, ↓ shifts one row down and → one
// column right (so that position i never sees k_i itself).
// Before it is trained (or with `prior: null`) the prior is the uniform one the VQ-VAE is trained with.
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { Distribution } from '../distributions/types.js';
import type { Rng } from '../rng.js';
import { isPosInt } from '../util/math.js';

/** The PixelCNN prior's shape (saved in the VQ-VAE's config). */
export interface VqPriorConfig {
  type: 'pixelcnn';
  /** Feature maps of both stacks. */
  channels: number;
  /** Residual layers (each widens the receptive field by one row up and one column left/right). */
  layers: number;
}

export const DEFAULT_VQ_PRIOR: VqPriorConfig = { type: 'pixelcnn', channels: 64, layers: 5 };

export function validateVqPriorConfig(c: VqPriorConfig): void {
  if (c.type !== 'pixelcnn')
    throw new Error(`invalid VQ prior: type must be "pixelcnn", got ${JSON.stringify(c.type)}`);
  if (!isPosInt(c.channels))
    throw new Error(`invalid VQ prior: channels must be a positive integer, got ${c.channels}`);
  if (!Number.isInteger(c.layers) || c.layers < 0)
    throw new Error(`invalid VQ prior: layers must be a non-negative integer, got ${c.layers}`);
}

/** The PixelCNN as a tfjs-layers model: flat onehot(k) [B, h·w·K] → flat logits [B, h·w·K] (position-major). */
export function buildPixelCnn(name: string, grid: [number, number], K: number, cfg: VqPriorConfig): tfl.LayersModel {
  validateVqPriorConfig(cfg);
  const [h, w] = grid;
  const C = cfg.channels;
  let n = 0;
  const id = (what: string) => `${name}_${what}${n++}`;
  const apply = (layer: tfl.layers.Layer, t: tfl.SymbolicTensor | tfl.SymbolicTensor[]) =>
    layer.apply(t) as tfl.SymbolicTensor;
  const pad = (t: tfl.SymbolicTensor, p: [[number, number], [number, number]]) =>
    apply(tfl.layers.zeroPadding2d({ padding: p, name: id('pad') }), t);
  const crop = (t: tfl.SymbolicTensor, c: [[number, number], [number, number]]) =>
    apply(tfl.layers.cropping2D({ cropping: c, name: id('crop') }), t);
  const conv = (t: tfl.SymbolicTensor, filters: number, k: [number, number]) =>
    apply(tfl.layers.conv2d({ filters, kernelSize: k, padding: 'valid', name: id('conv') }), t);
  const elu = (t: tfl.SymbolicTensor) => apply(tfl.layers.activation({ activation: 'elu', name: id('elu') }), t);
  const add = (ts: tfl.SymbolicTensor[]) => apply(tfl.layers.add({ name: id('add') }), ts);
  // a kh×kw convolution that sees rows r−kh+1 … r and columns c ± (kw−1)/2
  const downConv = (t: tfl.SymbolicTensor, f: number, kh: number, kw: number) =>
    conv(
      pad(t, [
        [kh - 1, 0],
        [(kw - 1) / 2, (kw - 1) / 2],
      ]),
      f,
      [kh, kw],
    );
  // a kh×kw convolution that sees rows r−kh+1 … r and columns c−kw+1 … c
  const downRightConv = (t: tfl.SymbolicTensor, f: number, kh: number, kw: number) =>
    conv(
      pad(t, [
        [kh - 1, 0],
        [kw - 1, 0],
      ]),
      f,
      [kh, kw],
    );
  const downShift = (t: tfl.SymbolicTensor) =>
    crop(
      pad(t, [
        [1, 0],
        [0, 0],
      ]),
      [
        [0, 1],
        [0, 0],
      ],
    );
  const rightShift = (t: tfl.SymbolicTensor) =>
    crop(
      pad(t, [
        [0, 0],
        [1, 0],
      ]),
      [
        [0, 0],
        [0, 1],
      ],
    );
  const nin = (t: tfl.SymbolicTensor, f: number) => conv(t, f, [1, 1]);

  const input = tfl.input({ shape: [h * w * K], name: `${name}_codes` });
  const x = apply(tfl.layers.reshape({ targetShape: [h, w, K], name: `${name}_grid` }), input);
  let u = downShift(downConv(x, C, 2, 3)); //                              rows < r
  let ul = add([downShift(downConv(x, C, 1, 3)), rightShift(downRightConv(x, C, 2, 1))]); // rows < r, or row r and columns < c
  for (let l = 0; l < cfg.layers; l++) {
    u = add([u, downConv(elu(u), C, 2, 3)]);
    ul = add([ul, downRightConv(elu(ul), C, 2, 2), nin(elu(u), C)]);
  }
  const logits = nin(elu(ul), K);
  const out = apply(tfl.layers.flatten({ name: `${name}_flatten` }), logits);
  return tfl.model({ inputs: input, outputs: out, name });
}

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
