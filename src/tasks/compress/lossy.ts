// Lossy compression with a VQ-VAE (van den Oord et al., 2017): an image becomes its grid of M code indices
// k(x) (the nearest codebook vectors of the encoder's outputs), and the codes are entropy-coded with rANS under
// the PixelCNN prior, p(k) = Π_i p(k_i | k_<i), in raster order: −log₂ p(k) bits an image (M log₂ K with the
// uniform prior). The decoder pops k_0, k_1, … in order, running the prior autoregressively on what it has
// decoded, then decodes the image from the codes: x̂ = round(255·clamp(mean of p(x | z_q), 0, 1)).
//
// Determinism: the decoder must turn p(k_i | k_<i) into the same integer frequencies the encoder used, so the
// prior runs in exact-prior.ts's fixed-order float64 loops, never on a tfjs backend; the softmax and its
// quantisation to 2^p (quantizeCdf: every code at least 1, so any code can be coded) are plain JS. The
// encoder's nearest codes and the decoder's image use exact-net.ts too, so a file and its images are the same on
// every backend and thread count. One rANS stack holds the set; the encoder pushes the last image's last code
// first, so the decoder pops the first image's first code first; it must end on the empty stack.
import type * as tfl from '@tensorflow/tfjs-layers';
import { checkFingerprint, FormatError, readContainer, writeContainer } from '../../codec/container.js';
import { quantizeCdf, RANS_LOW, RansStack } from '../../codec/rans.js';
import type { LatentVariableModel } from '../../models/types.js';
import type { VqvaeConfig } from '../../models/configs.js';
import { psnrRows, ssimRows } from '../restore/metrics.js';
import { compileExactPrior, type ExactPrior } from './exact-prior.js';
import { compileExact, type ExactNet } from './exact-net.js';
import { modelFingerprint } from './fingerprint.js';

export const LOSSY_METHOD = 'vq-codes';
/** p of the codes' frequencies (K ≤ 256 codes leave 2^16 − K to share by probability). */
export const LOSSY_DEFAULT_PRECISION = 16;

interface VqCoder {
  enc: ExactNet;
  dec: ExactNet;
  prior: ExactPrior | null;
  /** e_k, [K, D]. */
  codebook: Float64Array;
  K: number;
  D: number;
  M: number;
  grid: [number, number];
  shape: number[];
  xDim: number;
  likelihood: string;
}

interface VqLike {
  config: VqvaeConfig;
  codebook: { dataSync(): ArrayLike<number> };
  priorNet: tfl.LayersModel | null;
  grid: [number, number];
  numCodes: number;
  networks(): Record<string, tfl.LayersModel>;
}

/** The model's exact coder, or the one-line error of --lossy with a model that is not a VQ-VAE. */
function vqCoder(model: LatentVariableModel, what: string): VqCoder {
  const c = model.config;
  if (c.kind !== 'vqvae')
    throw new Error(
      `${what}: lossy coding codes a VQ-VAE's code grid; this model is a ${c.kind} (train one with --model vqvae, or leave out --lossy)`,
    );
  const vq = model as unknown as VqLike;
  const nets = vq.networks();
  const K = c.codebookSize;
  const D = c.codeDim;
  const M = vq.numCodes;
  const xDim = c.inputShape.reduce((a, b) => a * b, 1);
  const enc = compileExact(nets.encoder);
  const dec = compileExact(nets.decoder);
  if (enc.inDim !== xDim || enc.outDim !== M * D || dec.inDim !== M * D || dec.outDim !== xDim)
    throw new Error(`${what}: the model's networks do not match its config`);
  return {
    enc,
    dec,
    prior: vq.priorNet ? compileExactPrior(vq.priorNet, vq.grid, K) : null,
    codebook: Float64Array.from(vq.codebook.dataSync()),
    K,
    D,
    M,
    grid: vq.grid,
    shape: c.inputShape,
    xDim,
    likelihood: c.likelihood,
  };
}

/** k(x) for one image: argmin_k ‖e_k‖² − 2 z_e,i·e_k per position (the first minimum on ties). */
function nearest(coder: VqCoder, x: ArrayLike<number>, out: Int32Array): void {
  const { K, D, M, codebook: E } = coder;
  const z = coder.enc.apply(x);
  const ee = new Float64Array(K);
  for (let k = 0; k < K; k++) {
    let s = 0;
    for (let d = 0; d < D; d++) s += E[k * D + d] * E[k * D + d];
    ee[k] = s;
  }
  for (let i = 0; i < M; i++) {
    let best = 0;
    let bestS = Infinity;
    for (let k = 0; k < K; k++) {
      let dot = 0;
      for (let d = 0; d < D; d++) dot += z[i * D + d] * E[k * D + d];
      const s = ee[k] - 2 * dot;
      if (s < bestS) {
        best = k;
        bestS = s;
      }
    }
    out[i] = best;
  }
}

/** The image of codes k as 8-bit levels: round(255·clamp(mean, 0, 1)), the mean of p(x | z_q). */
function imageOf(coder: VqCoder, codes: ArrayLike<number>, out: Uint8Array, o: number): void {
  const { D, M, codebook: E } = coder;
  const zq = new Float64Array(M * D);
  for (let i = 0; i < M; i++) for (let d = 0; d < D; d++) zq[i * D + d] = E[codes[i] * D + d];
  const h = coder.dec.apply(zq);
  const bern = coder.likelihood === 'bernoulli';
  for (let j = 0; j < h.length; j++) {
    const v = bern ? 1 / (1 + Math.exp(-h[j])) : h[j];
    out[o + j] = Math.round(255 * (v < 0 ? 0 : v > 1 ? 1 : v));
  }
}

/** p(k_i | k_<i) as a cumulative table at 2^p, none zero (uniform without a prior). */
function cdfAt(coder: VqCoder, i: number, precision: number, w: Float64Array): Uint32Array {
  if (!coder.prior) return quantizeCdf(w.fill(1), precision);
  const l = coder.prior.logits(i);
  let m = -Infinity;
  for (let k = 0; k < l.length; k++) if (l[k] > m) m = l[k];
  for (let k = 0; k < l.length; k++) w[k] = Math.exp(l[k] - m);
  return quantizeCdf(w, precision);
}

export interface LossyStats {
  count: number;
  /** Pixels per image. */
  dims: number;
  /** Codes per image (M) and codebook size (K). */
  codes: number;
  codebookSize: number;
  /** The whole file (header, CRCs, end marker included). */
  fileBytes: number;
  bitsPerImage: number;
  bitsPerDim: number;
  /** The rANS message alone (no container), per image: the headerless figure. */
  payloadBitsPerImage: number;
  /** Σ −log₂ of the coded frequencies / 2^p, per image (what an ideal coder would spend). */
  informationBitsPerImage: number;
  /** Of the 8-bit reconstruction against the input, mean over images (data range 1). */
  psnr: number;
  ssim: number;
}

export interface LossyOptions {
  precision?: number;
  onProgress?: (done: number) => void;
  /** Further header fields, e.g. the model folder (informational: the fingerprint decides). */
  note?: Record<string, string | number>;
}

/** The codes k(x) and the 8-bit reconstructions of `count` images (rows in [0, 1]), with exact networks. */
export function vqCodes(
  model: LatentVariableModel,
  x: ArrayLike<number>,
  count: number,
): { codes: Int32Array; images: Uint8Array } {
  const coder = vqCoder(model, 'compress --lossy');
  if (!(Number.isInteger(count) && count >= 0) || x.length !== count * coder.xDim)
    throw new Error(`compress: expected ${count} images of ${coder.xDim} values, got ${x.length} values`);
  const codes = new Int32Array(count * coder.M);
  const images = new Uint8Array(count * coder.xDim);
  for (let n = 0; n < count; n++) {
    const row = Array.prototype.slice.call(x, n * coder.xDim, (n + 1) * coder.xDim) as number[];
    const k = codes.subarray(n * coder.M, (n + 1) * coder.M);
    nearest(coder, row, k);
    imageOf(coder, k, images, n * coder.xDim);
  }
  return { codes, images };
}

/** The images a VQ-VAE decodes from code grids (count × M indices), as 8-bit levels: the model's reconstruction. */
export function vqDecodeCodes(model: LatentVariableModel, codes: ArrayLike<number>, count: number): Uint8Array {
  const coder = vqCoder(model, 'decode');
  const images = new Uint8Array(count * coder.xDim);
  for (let n = 0; n < count; n++)
    imageOf(
      coder,
      Array.prototype.slice.call(codes, n * coder.M, (n + 1) * coder.M) as number[],
      images,
      n * coder.xDim,
    );
  return images;
}

function checkPrecision(p: number, K: number): void {
  if (!(Number.isInteger(p) && p >= 8 && p <= 16 && 2 ** p >= 2 * K))
    throw new Error(`the codes' precision must be an integer in 8…16 with 2^p ≥ 2K (K = ${K}), got ${p}`);
}

/** Compresses `count` images (rows of values in [0, 1]) into a lossy .vkz file of their VQ-VAE codes. */
export function compressLossy(
  model: LatentVariableModel,
  x: ArrayLike<number>,
  count: number,
  options: LossyOptions = {},
): { bytes: Uint8Array; stats: LossyStats; codes: Int32Array; images: Uint8Array } {
  const coder = vqCoder(model, 'compress --lossy');
  const p = options.precision ?? LOSSY_DEFAULT_PRECISION;
  checkPrecision(p, coder.K);
  for (let i = 0; i < x.length; i++)
    if (!(x[i] >= 0 && x[i] <= 1))
      throw new Error(
        `compress --lossy: value ${x[i]} at pixel ${i % coder.xDim} of image ${Math.floor(i / coder.xDim)} is not in [0, 1]`,
      );
  const { codes, images } = vqCodes(model, x, count);
  const { M, K } = coder;
  const w = new Float64Array(K);
  const tables: Uint32Array[] = new Array(M);
  const m = new RansStack();
  let info = 0;
  for (let n = count - 1; n >= 0; n--) {
    const k = codes.subarray(n * M, (n + 1) * M);
    coder.prior?.reset();
    for (let i = 0; i < M; i++) {
      tables[i] = cdfAt(coder, i, p, w);
      coder.prior?.set(i, k[i]);
    }
    for (let i = M - 1; i >= 0; i--) {
      const c = tables[i];
      m.pushCdf(c, k[i], p);
      info += p - Math.log2(c[k[i] + 1] - c[k[i]]);
    }
    options.onProgress?.(count - n);
  }
  const header = {
    ...options.note,
    mode: 'lossy' as const,
    method: LOSSY_METHOD,
    fingerprint: modelFingerprint(model),
    shape: coder.shape,
    count,
    grid: coder.grid,
    codebookSize: K,
    prior: coder.prior ? 'pixelcnn' : 'uniform',
    precision: p,
  };
  const bytes = writeContainer(header, m.toBytes());
  const xs = Float64Array.from(x);
  const xr = Float64Array.from(images, (v) => v / 255);
  const [H, W, C = 1] = coder.shape.length === 3 ? coder.shape : [1, coder.xDim, 1];
  const mean = (a: Float64Array) => (a.length ? a.reduce((s, v) => s + v, 0) / a.length : 0);
  const stats: LossyStats = {
    count,
    dims: coder.xDim,
    codes: M,
    codebookSize: K,
    fileBytes: bytes.length,
    bitsPerImage: count ? (8 * bytes.length) / count : 0,
    bitsPerDim: count ? (8 * bytes.length) / (count * coder.xDim) : 0,
    payloadBitsPerImage: count ? m.bits / count : 0,
    informationBitsPerImage: count ? info / count : 0,
    psnr: count ? mean(psnrRows(xs, xr, count)) : 0,
    ssim: count && H >= 2 && W >= 2 ? mean(ssimRows(xs, xr, count, [H, W, C])) : NaN,
  };
  return { bytes, stats, codes, images };
}

/** The code grids and the 8-bit images of a lossy .vkz file written with this model. */
export function decompressLossy(
  model: LatentVariableModel,
  bytes: Uint8Array,
  onProgress?: (done: number) => void,
): { codes: Int32Array; images: Uint8Array; count: number; shape: number[] } {
  const { header, payload } = readContainer(bytes);
  if (header.mode !== 'lossy' || header.method !== LOSSY_METHOD)
    throw new FormatError(`this .vkz file holds ${header.mode} "${header.method}" data, not a VQ-VAE's lossy codes`);
  checkFingerprint(header, modelFingerprint(model));
  const coder = vqCoder(model, 'decompress');
  const p = header.precision as number;
  const grid = header.grid as unknown;
  if (
    !Array.isArray(grid) ||
    grid[0] !== coder.grid[0] ||
    grid[1] !== coder.grid[1] ||
    header.codebookSize !== coder.K ||
    header.shape.reduce((a, b) => a * b, 1) !== coder.xDim
  )
    throw new FormatError('corrupted .vkz file: its code grid, codebook size or image shape does not fit the model');
  try {
    checkPrecision(p, coder.K);
  } catch (e) {
    throw new FormatError(`corrupted .vkz file: ${(e as Error).message}`);
  }
  const count = header.count;
  const { M, K } = coder;
  const corrupt = () => new FormatError('corrupted .vkz file: the bit stream does not decode to the header’s codes');
  let m: RansStack;
  try {
    m = RansStack.fromBytes(payload);
  } catch {
    throw corrupt();
  }
  const codes = new Int32Array(count * M);
  const w = new Float64Array(K);
  try {
    for (let n = 0; n < count; n++) {
      coder.prior?.reset();
      for (let i = 0; i < M; i++) {
        const k = m.popCdf(cdfAt(coder, i, p, w), p);
        if (m.borrowed) throw corrupt();
        codes[n * M + i] = k;
        coder.prior?.set(i, k);
      }
      onProgress?.(n + 1);
    }
  } catch (e) {
    throw e instanceof FormatError ? e : corrupt();
  }
  if (m.head !== RANS_LOW || m.tailLength !== 0) throw corrupt();
  const images = new Uint8Array(count * coder.xDim);
  for (let n = 0; n < count; n++) imageOf(coder, codes.subarray(n * M, (n + 1) * M), images, n * coder.xDim);
  return { codes, images, count, shape: header.shape };
}
