// Classical restorations without a model, the peers of the learned prior in the bench:
//   denoising    median filter (k×k, edges replicated); Gaussian blur (separable, σ, radius ⌈3σ⌉)
//   superres     nearest-neighbour and bicubic upsampling (Keys 1981, a = −0.5, pixel centres aligned,
//                edges replicated, clipped to [0, 1])
//   inpainting   harmonic fill: the missing values solve Laplace's equation Δu = 0 with the known pixels
//                fixed (4-neighbour stencil, only in-image neighbours: a reflecting border), by SOR
// All take flat rows [n, H·W·C] (HWC) and return new rows; none changes its input.
import type { ImageShape } from './degrade.js';
import { nearestUpsample } from './degrade.js';

export { nearestUpsample };

/** Median of the k×k neighbourhood (k odd), per channel, edges replicated. */
export function medianFilter(x: ArrayLike<number>, n: number, shape: ImageShape, k = 3): Float32Array {
  if (!(Number.isInteger(k) && k >= 1 && k % 2 === 1)) throw new Error(`median filter: k must be odd, got ${k}`);
  const [H, W, C] = shape;
  const r = (k - 1) / 2;
  const out = new Float32Array(n * H * W * C);
  const win = new Float64Array(k * k);
  for (let i = 0; i < n; i++) {
    const base = i * H * W * C;
    for (let y = 0; y < H; y++)
      for (let xx = 0; xx < W; xx++)
        for (let c = 0; c < C; c++) {
          let m = 0;
          for (let dy = -r; dy <= r; dy++)
            for (let dx = -r; dx <= r; dx++) {
              const yy = Math.min(H - 1, Math.max(0, y + dy)),
                x2 = Math.min(W - 1, Math.max(0, xx + dx));
              win[m++] = x[base + (yy * W + x2) * C + c];
            }
          const s = win.subarray(0, m).sort();
          out[base + (y * W + xx) * C + c] = s[(m - 1) / 2];
        }
  }
  return out;
}

/** Separable Gaussian blur with standard deviation σ (pixels), kernel radius ⌈3σ⌉, normalised, edges replicated. */
export function gaussianBlur(x: ArrayLike<number>, n: number, shape: ImageShape, sigma = 1): Float32Array {
  if (!(sigma > 0)) throw new Error(`gaussian blur: sigma must be positive, got ${sigma}`);
  const [H, W, C] = shape;
  const r = Math.ceil(3 * sigma);
  const w = new Float64Array(2 * r + 1);
  let s = 0;
  for (let j = -r; j <= r; j++) s += w[j + r] = Math.exp(-(j * j) / (2 * sigma * sigma));
  for (let j = 0; j < w.length; j++) w[j] /= s;
  const tmp = new Float64Array(H * W * C);
  const out = new Float32Array(n * H * W * C);
  for (let i = 0; i < n; i++) {
    const base = i * H * W * C;
    for (let y = 0; y < H; y++)
      for (let xx = 0; xx < W; xx++)
        for (let c = 0; c < C; c++) {
          let a = 0;
          for (let j = -r; j <= r; j++)
            a += w[j + r] * x[base + (y * W + Math.min(W - 1, Math.max(0, xx + j))) * C + c];
          tmp[(y * W + xx) * C + c] = a;
        }
    for (let y = 0; y < H; y++)
      for (let xx = 0; xx < W; xx++)
        for (let c = 0; c < C; c++) {
          let a = 0;
          for (let j = -r; j <= r; j++) a += w[j + r] * tmp[(Math.min(H - 1, Math.max(0, y + j)) * W + xx) * C + c];
          out[base + (y * W + xx) * C + c] = a;
        }
  }
  return out;
}

/** Keys' cubic convolution kernel with a = −0.5 (what bicubic resizing in most libraries uses). */
export function cubicKernel(t: number, a = -0.5): number {
  const u = Math.abs(t);
  if (u <= 1) return (a + 2) * u ** 3 - (a + 3) * u ** 2 + 1;
  if (u < 2) return a * u ** 3 - 5 * a * u ** 2 + 8 * a * u - 4 * a;
  return 0;
}

/**
 * Bicubic upsampling by f: output pixel (r, c) samples the low-res image at ((r + ½)/f − ½, (c + ½)/f − ½)
 * (pixel centres aligned), 4×4 taps, edges replicated, clipped to [0, 1].
 */
export function bicubicUpsample(y: ArrayLike<number>, n: number, low: ImageShape, f: number): Float32Array {
  const [h, w, C] = low;
  const H = h * f,
    W = w * f;
  const out = new Float32Array(n * H * W * C);
  // the taps and weights along one axis depend only on the output index
  const taps = (N: number, M: number) =>
    Array.from({ length: M }, (_, o) => {
      const p = (o + 0.5) / f - 0.5;
      const p0 = Math.floor(p);
      const idx: number[] = [],
        wt: number[] = [];
      for (let j = -1; j <= 2; j++) {
        idx.push(Math.min(N - 1, Math.max(0, p0 + j)));
        wt.push(cubicKernel(p - (p0 + j)));
      }
      return { idx, wt };
    });
  const rows = taps(h, H),
    cols = taps(w, W);
  for (let i = 0; i < n; i++) {
    const ib = i * h * w * C,
      ob = i * H * W * C;
    for (let r = 0; r < H; r++)
      for (let c = 0; c < W; c++)
        for (let k = 0; k < C; k++) {
          let a = 0;
          for (let u = 0; u < 4; u++)
            for (let v = 0; v < 4; v++)
              a += rows[r].wt[u] * cols[c].wt[v] * y[ib + (rows[r].idx[u] * w + cols[c].idx[v]) * C + k];
          out[ob + (r * W + c) * C + k] = a < 0 ? 0 : a > 1 ? 1 : a;
        }
  }
  return out;
}

/**
 * Harmonic (Laplace) fill: every missing value becomes the mean of its in-image 4-neighbours, iterated by
 * successive over-relaxation (ω = 1.9) from the mean of the known values until the largest change is under
 * `tol` (or `maxIter` sweeps). Known values (mask 1) are returned exactly.
 */
export function harmonicFill(
  y: ArrayLike<number>,
  mask: ArrayLike<number>,
  n: number,
  shape: ImageShape,
  opts: { tol?: number; maxIter?: number; omega?: number } = {},
): Float32Array {
  const [H, W, C] = shape;
  const tol = opts.tol ?? 1e-6,
    maxIter = opts.maxIter ?? 5000,
    omega = opts.omega ?? 1.9;
  const D = H * W * C;
  const out = new Float32Array(n * D);
  const u = new Float64Array(D);
  for (let i = 0; i < n; i++) {
    const base = i * D;
    for (let c = 0; c < C; c++) {
      let s = 0,
        cnt = 0;
      for (let j = c; j < D; j += C)
        if (mask[base + j]) {
          s += y[base + j];
          cnt++;
        }
      const fill = cnt ? s / cnt : 0.5;
      for (let j = c; j < D; j += C) u[j] = mask[base + j] ? y[base + j] : fill;
      for (let it = 0; it < maxIter; it++) {
        let change = 0;
        for (let r = 0; r < H; r++)
          for (let q = 0; q < W; q++) {
            const j = (r * W + q) * C + c;
            if (mask[base + j]) continue;
            let a = 0,
              m = 0;
            if (r > 0) {
              a += u[j - W * C];
              m++;
            }
            if (r < H - 1) {
              a += u[j + W * C];
              m++;
            }
            if (q > 0) {
              a += u[j - C];
              m++;
            }
            if (q < W - 1) {
              a += u[j + C];
              m++;
            }
            const next = u[j] + omega * (a / m - u[j]);
            change = Math.max(change, Math.abs(next - u[j]));
            u[j] = next;
          }
        if (change < tol) break;
      }
      for (let j = c; j < D; j += C) out[base + j] = mask[base + j] ? y[base + j] : u[j];
    }
  }
  return out;
}
