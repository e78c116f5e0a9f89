// Image quality of a restoration against the clean image, per image then averaged (data range 1):
//   PSNR = 10 log10(1 / MSE)   (capped at 100 dB for an exact copy)
//   SSIM (Wang et al. 2004): mean over 11×11 Gaussian windows (σ = 1.5, the window cut to the image when it is
//        smaller) inside the image ("valid"), per channel, of
//        (2 μx μy + C1)(2 σxy + C2) / ((μx² + μy² + C1)(σx² + σy² + C2)),  C1 = (0.01)², C2 = (0.03)²
//   Pearson correlation of two flat series (the uncertainty map against the per-pixel error).
import type { ImageShape } from './degrade.js';

export const PSNR_CAP = 100;

/** Per-image mean squared error, [n]. */
export function mseRows(a: ArrayLike<number>, b: ArrayLike<number>, n: number): Float64Array {
  if (a.length !== b.length || a.length % n !== 0) throw new Error(`mse: ${a.length} vs ${b.length} values, n = ${n}`);
  const D = a.length / n;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = i * D; j < (i + 1) * D; j++) s += (a[j] - b[j]) ** 2;
    out[i] = s / D;
  }
  return out;
}

/** PSNR in dB of each image (data range 1), [n]. */
export function psnrRows(a: ArrayLike<number>, b: ArrayLike<number>, n: number): Float64Array {
  return mseRows(a, b, n).map((m) => (m === 0 ? PSNR_CAP : Math.min(PSNR_CAP, -10 * Math.log10(m))));
}

function gaussianWindow(size: number, sigma: number): Float64Array {
  const w = new Float64Array(size);
  const c = (size - 1) / 2;
  let s = 0;
  for (let i = 0; i < size; i++) s += w[i] = Math.exp(-((i - c) ** 2) / (2 * sigma * sigma));
  return w.map((v) => v / s);
}

/** SSIM of each image pair (see the top of the file), [n]. */
export function ssimRows(a: ArrayLike<number>, b: ArrayLike<number>, n: number, shape: ImageShape): Float64Array {
  const [H, W, C] = shape;
  const D = H * W * C;
  if (a.length !== n * D || b.length !== n * D) throw new Error(`ssim: expected ${n} images of [${shape}]`);
  const kh = Math.min(11, H),
    kw = Math.min(11, W);
  const wy = gaussianWindow(kh, 1.5),
    wx = gaussianWindow(kw, 1.5);
  const C1 = 0.01 ** 2,
    C2 = 0.03 ** 2;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const base = i * D;
    let total = 0,
      count = 0;
    for (let c = 0; c < C; c++)
      for (let r0 = 0; r0 + kh <= H; r0++)
        for (let c0 = 0; c0 + kw <= W; c0++) {
          let mx = 0,
            my = 0,
            xx = 0,
            yy = 0,
            xy = 0;
          for (let u = 0; u < kh; u++)
            for (let v = 0; v < kw; v++) {
              const g = wy[u] * wx[v];
              const j = base + ((r0 + u) * W + c0 + v) * C + c;
              const p = a[j],
                q = b[j];
              mx += g * p;
              my += g * q;
              xx += g * p * p;
              yy += g * q * q;
              xy += g * p * q;
            }
          const vx = xx - mx * mx,
            vy = yy - my * my,
            cxy = xy - mx * my;
          total += ((2 * mx * my + C1) * (2 * cxy + C2)) / ((mx * mx + my * my + C1) * (vx + vy + C2));
          count++;
        }
    out[i] = total / count;
  }
  return out;
}

export const mean = (v: ArrayLike<number>): number => {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i];
  return v.length ? s / v.length : NaN;
};

/** Pearson correlation of a and b over the indices where `keep` is true (all when absent); NaN if either is constant. */
export function pearson(a: ArrayLike<number>, b: ArrayLike<number>, keep?: (i: number) => boolean): number {
  if (a.length !== b.length) throw new Error(`pearson: ${a.length} vs ${b.length} values`);
  let n = 0,
    sa = 0,
    sb = 0;
  for (let i = 0; i < a.length; i++)
    if (!keep || keep(i)) {
      n++;
      sa += a[i];
      sb += b[i];
    }
  const ma = sa / n,
    mb = sb / n;
  let cab = 0,
    caa = 0,
    cbb = 0;
  for (let i = 0; i < a.length; i++)
    if (!keep || keep(i)) {
      const da = a[i] - ma,
        db = b[i] - mb;
      cab += da * db;
      caa += da * da;
      cbb += db * db;
    }
  return caa > 0 && cbb > 0 ? cab / Math.sqrt(caa * cbb) : NaN;
}

export interface QualityScores {
  /** Mean over images. */
  psnr: number;
  ssim: number;
  mse: number;
  n: number;
}

/** Mean PSNR, SSIM and MSE of n restorations against the clean images. */
export function quality(
  restored: ArrayLike<number>,
  clean: ArrayLike<number>,
  n: number,
  shape: ImageShape,
): QualityScores {
  return {
    psnr: mean(psnrRows(restored, clean, n)),
    ssim: mean(ssimRows(restored, clean, n, shape)),
    mse: mean(mseRows(restored, clean, n)),
    n,
  };
}
