// A local autoregressive decoder over 8-bit pixels (the PixelVAE idea, Gulrajani et al. 2017, with a
// PixelCNN++-style linear dependence, Salimans et al. 2017, taken across space): pixel d of an H×W image is a
// mixture of K discretised logistics whose means move linearly with its causal neighbours in raster order,
//   P(x_d | z, x_<d) = Σ_j π_j(z) · DLogistic(x_d; μ_dj, s_j(z)),
//   μ_dj = m_j(z) + a_1(z)·x_left + a_2(z)·x_up + a_3(z)·x_upleft + a_4(z)·x_upright
// (a neighbour outside the image is 0; 8 neighbours add the pixels two to the left, two up, and up-and-two-left/right). Every parameter is the decoder's output, once per image from z; the
// neighbours are pixel values. Training is teacher-forced: every neighbour is known, so all pixels are scored in
// parallel. Sampling and coding go pixel by pixel in raster order (src/tasks/compress codes it exactly in
// float64 with localPixelCdf). The decoder's output for pixel d is P = 3K + 4 numbers, pixel-major
// (out[d·P + ·]): K mixture logits, K means m_j, K log scales (clamped to [−12, 1] as the discretised logistic's),
// then the N neighbour coefficients (N = 4 or 8). −log P summed over pixels is an exact code length: NLL/(D ln 2) is bits/dim.
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor, Tensor1D, Tensor2D } from '@tensorflow/tfjs-core';
import type { Rng } from '../rng.js';
import type { MaskedLikelihood } from './types.js';

const HALF_BIN = 1 / 510;
const MIN_LOG_SCALE = -12;
const MAX_LOG_SCALE = 1;
/**
 * The causal neighbours, in the order of their coefficients: [row offset, column offset]. A model uses the
 * first N (4 by default: left, up, up-left, up-right; 8 adds two left, two up, up and two left, up and two right).
 */
export const LOCAL_NEIGHBOURS: readonly (readonly [number, number])[] = [
  [0, -1],
  [-1, 0],
  [-1, -1],
  [-1, 1],
  [0, -2],
  [-2, 0],
  [-1, -2],
  [-1, 2],
];

/** Neighbours a model uses when its config does not say. */
export const DEFAULT_NEIGHBOURS = 4;

/** Decoder outputs per pixel for K components and N neighbours. */
export function localParamsPerPixel(K: number, N = DEFAULT_NEIGHBOURS): number {
  return 3 * K + N;
}

/** H×W of an image shape [H, W] or [H, W, 1]; an error for anything else (the neighbours are spatial). */
export function localImageSize(shape: readonly number[]): [number, number] {
  if ((shape.length === 2 || (shape.length === 3 && shape[2] === 1)) && shape[0] > 0 && shape[1] > 0)
    return [shape[0], shape[1]];
  throw new Error(
    `the local-logistic-mixture likelihood needs one-channel images [H, W, 1], got [${shape.join(', ')}]`,
  );
}

export class LocalLogisticMixture implements MaskedLikelihood {
  readonly maskable = true;
  /**
   * @param out  the decoder's output [B, D·(3K + 4)], pixel-major
   * @param H, W the image size (D = H·W)
   * @param K    mixture components
   * @param N    neighbours (the first N of LOCAL_NEIGHBOURS)
   */
  constructor(
    readonly out: Tensor2D,
    readonly H: number,
    readonly W: number,
    readonly K: number,
    readonly N = DEFAULT_NEIGHBOURS,
  ) {
    if (out.shape[1] !== H * W * localParamsPerPixel(K, N))
      throw new Error(`local-logistic-mixture: ${out.shape[1]} decoder outputs for ${H}×${W} pixels and K = ${K}`);
  }

  /** log P(x_d | z, x_<d) per pixel [B, D]; x holds values k/255, teacher-forced. */
  logProbPerDim(x: Tensor2D): Tensor2D {
    const { H, W, K, N } = this;
    const B = x.shape[0];
    const D = H * W;
    const hood = LOCAL_NEIGHBOURS.slice(0, N);
    return tf.tidy(() => {
      const p = tf.reshape(this.out, [B, D, localParamsPerPixel(K, N)]);
      const logits = tf.slice(p, [0, 0, 0], [B, D, K]);
      const m = tf.slice(p, [0, 0, K], [B, D, K]);
      const ls = tf.clipByValue(tf.slice(p, [0, 0, 2 * K], [B, D, K]), MIN_LOG_SCALE, MAX_LOG_SCALE);
      const coef = tf.slice(p, [0, 0, 3 * K], [B, D, N]);
      // the neighbours by shifting the zero-padded image: padded[r + 2][c + 2] = x[r][c]
      const padded = tf.pad(tf.reshape(x, [B, H, W]), [
        [0, 0],
        [2, 0],
        [2, 2],
      ]);
      const nb = tf.stack(
        hood.map(([dr, dc]) => tf.slice(padded, [0, 2 + dr, 2 + dc], [B, H, W])),
        3,
      );
      const shift = tf.sum(tf.mul(coef, tf.reshape(nb, [B, D, N])), 2, true);
      const mu = tf.add(m, shift); // [B, D, K]
      const xb = tf.reshape(x, [B, D, 1]);
      const invS = tf.exp(tf.neg(ls));
      const c = tf.sub(xb, mu);
      const a = tf.mul(tf.add(c, HALF_BIN), invS);
      const b = tf.mul(tf.sub(c, HALF_BIN), invS);
      // log(σ(a) − σ(b)) = a − softplus(a) − softplus(b) + log(1 − e^{−(a − b)}), a − b = 2δ/s
      const mid = tf.add(
        tf.sub(tf.sub(a, tf.softplus(a)), tf.softplus(b)),
        tf.log(tf.sub(1, tf.exp(tf.mul(invS, -2 * HALF_BIN)))),
      );
      const low = tf.neg(tf.softplus(tf.neg(a))); // log σ(a): level 0 takes the lower tail
      const high = tf.neg(tf.softplus(b)); // log(1 − σ(b)): level 255 the upper
      // the branch depends on x only: blend with 0/1 weights (every branch finite, so are the gradients)
      const isLow = tf.cast(tf.less(xb, HALF_BIN), 'float32');
      const isHigh = tf.cast(tf.greater(xb, 1 - HALF_BIN), 'float32');
      const lp = tf.add(
        tf.add(tf.mul(isLow, low), tf.mul(isHigh, high)),
        tf.mul(tf.sub(1, tf.add(isLow, isHigh)), mid),
      );
      return tf.logSumExp(tf.add(lp, tf.logSoftmax(logits)), 2) as Tensor2D;
    });
  }

  // log p(x | z) = Σ_d m_d log P(x_d | z, x_<d)   (m = 1 without a mask)
  logProb(x: Tensor, mask?: Tensor): Tensor1D {
    return tf.tidy(() => {
      const lp = this.logProbPerDim(x as Tensor2D);
      return tf.sum(mask ? tf.mul(lp, mask) : lp, 1) as Tensor1D;
    });
  }

  /** Pixel by pixel in raster order: each pixel's mixture mean given the means before it, clipped to [0, 1]. */
  mean(): Tensor2D {
    return this.sequential((cdfMean) => cdfMean);
  }

  /** A draw pixel by pixel in raster order (ancestral: each pixel given the drawn ones), as levels k/255. */
  sample(rng: Rng): Tensor2D {
    const [B] = this.out.shape;
    const u = rng.fillUniform(new Float32Array(B * this.H * this.W));
    let i = 0;
    return this.sequential((_mean, cdf) => {
      const t = u[i++] * cdf[256];
      let k = 0;
      while (k < 255 && cdf[k + 1] <= t) k++;
      return k / 255;
    });
  }

  private sequential(pick: (mean: number, cdf: Float64Array) => number): Tensor2D {
    const { H, W, K, N } = this;
    const [B] = this.out.shape;
    const D = H * W;
    const P = localParamsPerPixel(K, N);
    const out = this.out.dataSync();
    const x = new Float64Array(B * D);
    const cdf = new Float64Array(257);
    const pix = new LocalPixel(K, N);
    for (let b = 0; b < B; b++) {
      const row = out.subarray(b * D * P, (b + 1) * D * P);
      const xb = x.subarray(b * D, (b + 1) * D);
      for (let d = 0; d < D; d++) {
        pix.set(row, xb, d, H, W);
        const mean = pix.mean();
        // a real-valued table (no quantisation): 2^30 as the total
        pix.cdf(2 ** 30, cdf);
        xb[d] = pick(Math.min(1, Math.max(0, mean)), cdf);
      }
    }
    return tf.tensor2d(Float32Array.from(x), [B, D]);
  }
}

const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));

/**
 * One pixel's mixture in plain float64 arithmetic with one fixed order of operations, so that an encoder and a
 * decoder that call it with the same numbers get the same table on every machine (the bits-back coder's
 * likelihood step; also mean() and sample()).
 */
export class LocalPixel {
  readonly pi: Float64Array;
  readonly mu: Float64Array;
  readonly invS: Float64Array;
  constructor(
    readonly K: number,
    readonly N = DEFAULT_NEIGHBOURS,
  ) {
    this.pi = new Float64Array(K);
    this.mu = new Float64Array(K);
    this.invS = new Float64Array(K);
  }

  /** The parameters of pixel d from one image's decoder output and its pixel values x (k/255) before d. */
  set(out: ArrayLike<number>, x: ArrayLike<number>, d: number, H: number, W: number): void {
    const { K, N, pi, mu, invS } = this;
    const o = d * localParamsPerPixel(K, N);
    const r = Math.floor(d / W);
    const c = d - r * W;
    let shift = 0;
    for (let n = 0; n < N; n++) {
      const rr = r + LOCAL_NEIGHBOURS[n][0];
      const cc = c + LOCAL_NEIGHBOURS[n][1];
      if (rr >= 0 && rr < H && cc >= 0 && cc < W) shift += out[o + 3 * K + n] * x[rr * W + cc];
    }
    let max = -Infinity;
    for (let j = 0; j < K; j++) if (out[o + j] > max) max = out[o + j];
    let sum = 0;
    for (let j = 0; j < K; j++) {
      pi[j] = Math.exp(out[o + j] - max);
      sum += pi[j];
    }
    for (let j = 0; j < K; j++) {
      pi[j] /= sum;
      mu[j] = out[o + K + j] + shift;
      invS[j] = Math.exp(-Math.min(MAX_LOG_SCALE, Math.max(MIN_LOG_SCALE, out[o + 2 * K + j])));
    }
  }

  /** The mixture's mean of the (unclipped) logistic means. */
  mean(): number {
    let m = 0;
    for (let j = 0; j < this.K; j++) m += this.pi[j] * this.mu[j];
    return m;
  }

  /**
   * Entry k of the 256 levels' cumulative table at total M with none zero: C(k) = round(F_k·(M − 256)) + k,
   * F_k = Σ_j π_j σ((k/255 − δ − μ_j)/s_j); C(0) = 0, C(256) = M. Each entry is computed on its own (a coder
   * needs two to push and about eight to pop). F is non-decreasing in k: consecutive arguments differ by
   * (1/255)/s ≥ 1.4e-3, far beyond the rounding of exp, and sums and products of non-negative terms round
   * monotonically; so every level's frequency C(k + 1) − C(k) is at least 1.
   */
  cdfAt(k: number, M: number): number {
    if (k <= 0) return 0;
    if (k >= 256) return M;
    const { K, pi, mu, invS } = this;
    const e = k / 255 - HALF_BIN;
    let v = 0;
    for (let j = 0; j < K; j++) v += pi[j] * sigmoid((e - mu[j]) * invS[j]);
    return Math.round(v * (M - 256)) + k;
  }

  /** The whole table (cdf[0 … 256]) by cdfAt. */
  cdf(M: number, cdf: Float64Array): void {
    for (let k = 0; k <= 256; k++) cdf[k] = this.cdfAt(k, M);
  }

  /** The level k with C(k) ≤ s < C(k + 1), by bisection on cdfAt; [k, C(k), C(k + 1)]. */
  find(s: number, M: number): [number, number, number] {
    let lo = 0;
    let hi = 256;
    let clo = 0;
    let chi = M;
    while (hi - lo > 1) {
      const mid = (lo + hi) >>> 1;
      const c = this.cdfAt(mid, M);
      if (c <= s) {
        lo = mid;
        clo = c;
      } else {
        hi = mid;
        chi = c;
      }
    }
    return [lo, clo, chi];
  }
}
