// Reconstruction quality: x̂ = E[x | z = μ(x)] (the decoder mean at the posterior mean), compared with
// x per image and averaged over images:
//   BCE   (binary data)  −Σ_d [x_d log x̂_d + (1 − x_d) log(1 − x̂_d)]   nats per example
//   MSE                  mean_d (x_d − x̂_d)²
//   PSNR                 10 log10(R² / MSE)  dB, R = data range (1); +∞ for an exact reconstruction
//   SSIM                 Wang, Bovik, Sheikh & Simoncelli (2004), as skimage.metrics.structural_similarity
//                        (gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1):
//                        11×11 Gaussian window (σ 1.5, truncated at 3.5σ), 'reflect' borders,
//                        K1 = 0.01, K2 = 0.03, the SSIM map averaged over the pixels at least 5 from
//                        the border, and over channels.
// Everything is computed in Float64.
import * as tf from '@tensorflow/tfjs-core';
import { chunks, rowRange, rowSize } from '../data/split.js';
import type { Split } from '../data/types.js';
import { latentPoint, type LatentVariableModel } from '../models/types.js';

export interface SsimOptions {
  /** Data range R (default 1). */
  dataRange?: number;
  /** Gaussian σ of the window (default 1.5). */
  sigma?: number;
  /** Window radius = int(truncate·σ + 0.5) (default 3.5, scipy's and skimage's). */
  truncate?: number;
  k1?: number;
  k2?: number;
}

/** PSNR values above this count as this in means (an exact reconstruction has PSNR +∞). */
export const PSNR_CAP_DB = 100;

/** Mean squared error of two equally long arrays, in Float64. */
export function mse(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`mse: lengths differ (${a.length} vs ${b.length})`);
  if (a.length === 0) throw new Error('mse: empty input');
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i] - b[i];
    s += d * d;
  }
  return s / a.length;
}

/** Peak signal-to-noise ratio in dB: 10 log10(R² / MSE); +Infinity when the images are identical. */
export function psnr(a: ArrayLike<number>, b: ArrayLike<number>, dataRange = 1): number {
  const m = mse(a, b);
  return m === 0 ? Infinity : 10 * Math.log10((dataRange * dataRange) / m);
}

/** scipy.ndimage's normalised 1-D Gaussian kernel of radius int(truncate·σ + 0.5). */
export function gaussianKernel1d(sigma: number, truncate = 3.5): Float64Array {
  if (!(sigma > 0)) throw new Error(`gaussian kernel: sigma must be positive, got ${sigma}`);
  const r = Math.floor(truncate * sigma + 0.5);
  const k = new Float64Array(2 * r + 1);
  let s = 0;
  for (let i = -r; i <= r; i++) s += k[i + r] = Math.exp((-0.5 * i * i) / (sigma * sigma));
  for (let i = 0; i < k.length; i++) k[i] /= s;
  return k;
}

/** scipy's 'reflect' mode (d c b a | a b c d | d c b a) index for i in (−n, 2n). */
function reflect(i: number, n: number): number {
  // Repeated reflection for windows wider than the image.
  const p = 2 * n;
  let j = ((i % p) + p) % p;
  if (j >= n) j = p - 1 - j;
  return j;
}

/** Separable Gaussian filter of an h×w Float64 image ('reflect' borders), into `out`. */
function gaussianFilter2d(
  img: Float64Array,
  h: number,
  w: number,
  k: Float64Array,
  tmp: Float64Array,
  out: Float64Array,
): void {
  const r = (k.length - 1) / 2;
  // along rows (x), then along columns (y)
  for (let y = 0; y < h; y++) {
    const row = y * w;
    for (let x = 0; x < w; x++) {
      let s = 0;
      for (let t = -r; t <= r; t++) {
        const xx = x + t;
        s += k[t + r] * img[row + (xx >= 0 && xx < w ? xx : reflect(xx, w))];
      }
      tmp[row + x] = s;
    }
  }
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let s = 0;
      for (let t = -r; t <= r; t++) {
        const yy = y + t;
        s += k[t + r] * tmp[(yy >= 0 && yy < h ? yy : reflect(yy, h)) * w + x];
      }
      out[y * w + x] = s;
    }
  }
}

/** Reusable SSIM of h×w×c images (channels interleaved, as vaekit's image rows are). */
export class Ssim {
  readonly kernel: Float64Array;
  readonly pad: number;
  private readonly c1: number;
  private readonly c2: number;
  private readonly bufs: Float64Array[];

  constructor(
    readonly h: number,
    readonly w: number,
    readonly c: number,
    opts: SsimOptions = {},
  ) {
    const sigma = opts.sigma ?? 1.5;
    this.kernel = gaussianKernel1d(sigma, opts.truncate ?? 3.5);
    const win = this.kernel.length;
    this.pad = (win - 1) / 2;
    if (h < win || w < win) throw new Error(`SSIM: images of ${h}×${w} are smaller than the ${win}×${win} window`);
    const R = opts.dataRange ?? 1;
    this.c1 = ((opts.k1 ?? 0.01) * R) ** 2;
    this.c2 = ((opts.k2 ?? 0.03) * R) ** 2;
    this.bufs = Array.from({ length: 12 }, () => new Float64Array(h * w));
  }

  /** Mean SSIM of two images (flat h·w·c arrays); 1 for identical images. */
  compute(a: ArrayLike<number>, b: ArrayLike<number>): number {
    const { h, w, c } = this;
    const n = h * w;
    if (a.length !== n * c || b.length !== n * c)
      throw new Error(`SSIM: expected ${n * c} values per image, got ${a.length} and ${b.length}`);
    const [x, y, xx, yy, xy, ux, uy, uxx, uyy, uxy, tmp] = this.bufs;
    const { c1, c2, pad, kernel } = this;
    let total = 0;
    for (let ch = 0; ch < c; ch++) {
      for (let i = 0; i < n; i++) {
        const av = a[i * c + ch];
        const bv = b[i * c + ch];
        x[i] = av;
        y[i] = bv;
        xx[i] = av * av;
        yy[i] = bv * bv;
        xy[i] = av * bv;
      }
      gaussianFilter2d(x, h, w, kernel, tmp, ux);
      gaussianFilter2d(y, h, w, kernel, tmp, uy);
      gaussianFilter2d(xx, h, w, kernel, tmp, uxx);
      gaussianFilter2d(yy, h, w, kernel, tmp, uyy);
      gaussianFilter2d(xy, h, w, kernel, tmp, uxy);
      let s = 0;
      let cnt = 0;
      for (let r = pad; r < h - pad; r++) {
        for (let q = pad; q < w - pad; q++) {
          const i = r * w + q;
          const mx = ux[i];
          const my = uy[i];
          const vx = uxx[i] - mx * mx;
          const vy = uyy[i] - my * my;
          const vxy = uxy[i] - mx * my;
          s += ((2 * mx * my + c1) * (2 * vxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2));
          cnt++;
        }
      }
      total += s / cnt;
    }
    return total / c;
  }
}

/** SSIM of two h×w×c images (see the file header for the exact definition). */
export function ssim(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  shape: [number, number, number] | [number, number],
  opts: SsimOptions = {},
): number {
  const [h, w, c = 1] = shape;
  return new Ssim(h, w, c, opts).compute(a, b);
}

/** True when every value is exactly 0 or 1. */
export function isBinaryData(x: ArrayLike<number>): boolean {
  for (let i = 0; i < x.length; i++) if (x[i] !== 0 && x[i] !== 1) return false;
  return true;
}

export interface ReconstructionResult {
  n: number;
  /** Binary data only: mean over examples of the summed binary cross-entropy, nats per example. */
  bce?: number;
  /** Mean over examples of the per-example mean squared error. */
  mse: number;
  /** Images only: mean over images of PSNR (each capped at {@link PSNR_CAP_DB}), dB. */
  psnr?: number;
  /** Images only: how many images were reconstructed exactly (PSNR +∞, counted as the cap). */
  psnrExact?: number;
  /** Images only (at least 11×11): mean SSIM over images. */
  ssim?: number;
  dataRange: number;
  seconds: number;
}

const BCE_EPS = 1e-7;

/** Labels s..e as a tensor for a conditional model (one with numClasses), else undefined. */
export function conditionalLabels(
  model: LatentVariableModel,
  labels: Int32Array | undefined,
  s: number,
  e: number,
): tf.Tensor1D | undefined {
  if (model.numClasses === undefined) return undefined;
  if (!labels) throw new Error('a conditional model needs labelled data to encode');
  return tf.tensor1d(labels.subarray(s, e), 'int32');
}

/**
 * Reconstruction figures of a model on (the first `limit` examples of) a split. Reconstructions are
 * the decoder mean at z = μ(x). BCE is reported for binary data (exactly −log p(x | μ(x)) for a
 * Bernoulli decoder); PSNR and SSIM for image data, with data range 1.
 */
export function evaluateReconstruction(
  model: LatentVariableModel,
  split: Split,
  opts: { limit?: number; batchSize?: number; dataRange?: number; y?: Int32Array } = {},
): ReconstructionResult {
  const t0 = performance.now();
  const n = Math.min(split.n, opts.limit ?? Infinity);
  if (n < 1) throw new Error('reconstruction: no examples to evaluate');
  const D = rowSize(split);
  const bs = opts.batchSize ?? 500;
  const R = opts.dataRange ?? 1;
  const isImage = split.shape.length === 3;
  const ssimer =
    isImage && split.shape[0] >= 11 && split.shape[1] >= 11
      ? new Ssim(split.shape[0], split.shape[1], split.shape[2], { dataRange: R })
      : null;
  let binary = true; // a first pass: a view per chunk in memory, rows read twice when lazy
  for (const c of chunks(split, bs, n)) if (!(binary = isBinaryData(c.x))) break;
  const bernoulli = model.config.likelihood === 'bernoulli';
  let sumMse = 0;
  let sumPsnr = 0;
  let exact = 0;
  let sumSsim = 0;
  let sumBce = 0;
  const labels = opts.y ?? split.y;
  for (let s = 0; s < n; s += bs) {
    const e = Math.min(n, s + bs);
    const xs = rowRange(split, s, e);
    const { mean, logp } = tf.tidy(() => {
      const x = tf.tensor2d(xs, [e - s, D]);
      const y = conditionalLabels(model, labels, s, e);
      const q = model.encode(x, y);
      const px = model.decode(latentPoint(q), y);
      return {
        mean: px.mean().dataSync() as Float32Array,
        logp: binary && bernoulli ? (px.logProb(x).dataSync() as Float32Array) : undefined,
      };
    });
    for (let b = 0; b < e - s; b++) {
      const xa = xs.subarray(b * D, (b + 1) * D);
      const xr = mean.subarray(b * D, (b + 1) * D);
      const m = mse(xa, xr);
      sumMse += m;
      if (isImage) {
        const p = m === 0 ? Infinity : 10 * Math.log10((R * R) / m);
        if (p === Infinity) exact++;
        sumPsnr += Math.min(p, PSNR_CAP_DB);
        if (ssimer) sumSsim += ssimer.compute(xa, xr);
      }
      if (binary) {
        if (logp) sumBce -= logp[b];
        else {
          let l = 0;
          for (let d = 0; d < D; d++) {
            const p = Math.min(1 - BCE_EPS, Math.max(BCE_EPS, xr[d]));
            l -= xa[d] === 1 ? Math.log(p) : Math.log(1 - p);
          }
          sumBce += l;
        }
      }
    }
  }
  const out: ReconstructionResult = { n, mse: sumMse / n, dataRange: R, seconds: 0 };
  if (binary) out.bce = sumBce / n;
  if (isImage) {
    out.psnr = sumPsnr / n;
    out.psnrExact = exact;
  }
  if (ssimer) out.ssim = sumSsim / n;
  out.seconds = (performance.now() - t0) / 1000;
  return out;
}
