// Lossless compression of binary images with a VAE by bits-back coding with ANS (BB-ANS; Townsend, Bird &
// Barber 2019). One rANS stack holds the whole set; for each image x_i in turn the coder
//
//   pops   z ~ Q(z | x_i)      (a sample bought with bits already on the stack: −log Q(z|x) bits *taken off*)
//   pushes x_i under P(x | z)  (−log P(x|z) bits)
//   pushes z under P(z)        (b bits a latent unit: buckets of equal prior mass)
//
// so each image adds −log P(x|z) − log P(z) + log Q(z|x) bits, the −ELBO of the discretised model in
// expectation. The decoder runs the steps backwards, last image first: pop z under P(z), pop x under P(x|z),
// push z back under Q(z|x) (which returns the bits the encoder took). The first image has nothing on the stack
// to pop z with: its pops read zero words (RansStack.borrowed), so it costs its full −log P(x, z): BB-ANS's
// start-up bits, inside the file size; the decoder checks it ends on exactly those zero words.
//
// Encoder and decoder must compute identical frequencies, so the networks run in exact-net.ts's fixed-order
// float64 loops (never the tfjs backend: its sums move with the backend and thread count), and every
// distribution is turned into integers by the same plain-JS arithmetic: the likelihood at 2^p with no zero
// frequency (a Bernoulli p₁ becomes round(p₁·2^p) clamped to 1 … 2^p − 1, since it codes whatever pixel comes),
// the posterior at 2^p with zero frequency in its far tails, never popped and so never pushed (buckets.ts).
// A discretized-logistic decoder codes 8-bit pixels instead (values k/255 in, levels k out): each pixel's 256
// levels as a table at 2^16 with none zero. A local-logistic-mixture decoder (each pixel a mixture whose
// means follow its causal neighbours, src/distributions/local-logistic-mixture.ts) codes the pixels in reverse
// raster order, so that the decoder pops them in raster order and has every pixel's neighbours when it needs
// them; its tables come from LocalPixel, the same float64 arithmetic at both ends.
import { checkFingerprint, FormatError, readContainer, writeContainer } from '../../codec/container.js';
import { RANS_LOW, RansStack } from '../../codec/rans.js';
import {
  DEFAULT_NEIGHBOURS,
  LocalPixel,
  localImageSize,
  localParamsPerPixel,
} from '../../distributions/local-logistic-mixture.js';
import { DEFAULT_MIXTURES } from '../../models/base.js';
import type { LatentVariableModel } from '../../models/types.js';
import { gaussianBuckets, type Buckets } from './buckets.js';
import type { ExactNet } from './exact-net.js';
import { latentCoderFor, PRIOR_PRECISION, type LatentCoder } from './latents.js';
import { modelFingerprint } from './fingerprint.js';

export interface BitsBackSettings {
  /** b: latent buckets per unit 2^b (equal mass under the prior). */
  latentBits: number;
  /** p of the posterior's frequencies. */
  posteriorPrecision: number;
  /** p of the likelihood's frequencies. */
  likelihoodPrecision: number;
}

export const BITS_BACK_DEFAULTS: BitsBackSettings = { latentBits: 10, posteriorPrecision: 14, likelihoodPrecision: 14 };

export interface CompressStats {
  count: number;
  /** Values per image. */
  dims: number;
  /** The whole file (header, CRCs, end marker included). */
  fileBytes: number;
  bitsPerDim: number;
  bytesPerImage: number;
  /** The rANS message alone, in bits. */
  messageBits: number;
  /** Zero words the first pops borrowed (16 bits each): the start-up cost, already inside the file size. */
  startupBits: number;
}

type CodedLikelihood = 'bernoulli' | 'discretized-logistic' | 'local-logistic-mixture';

interface Coder {
  likelihood: CodedLikelihood;
  /** discretized-logistic: log s per pixel, clamped to [−12, 1] as the distribution clamps it (null: the decoder outputs it). */
  logScale: Float64Array | null;
  /** discretized-logistic with logisticScale decoder: the decoder outputs [μ, log s] pairs. */
  pairs: boolean;
  latents: LatentCoder;
  dec: ExactNet;
  D: number;
  shape: number[];
  /** local-logistic-mixture: one pixel's mixture (K components) and the image's H×W. */
  local: { pix: LocalPixel; H: number; W: number } | null;
}

function coderFor(model: LatentVariableModel, what: string, B: Buckets, posteriorPrecision: number): Coder {
  const c = model.config;
  if (c.kind !== 'vae' && c.kind !== 'hvae')
    throw new Error(
      `${what}: bits-back coding supports the vae (mlp or conv networks) and hvae models; this model is a ${c.kind}`,
    );
  if (
    c.likelihood !== 'bernoulli' &&
    c.likelihood !== 'discretized-logistic' &&
    c.likelihood !== 'local-logistic-mixture'
  )
    throw new Error(
      `${what}: lossless coding needs a Bernoulli decoder (binary images) or a discretized-logistic or local-logistic-mixture one (8-bit); this model's likelihood is ${c.likelihood}`,
    );
  const ls = (model as { decoderLogScale?: { dataSync(): ArrayLike<number> } | null }).decoderLogScale;
  const logScale =
    c.likelihood === 'discretized-logistic' && ls ? Float64Array.from(ls.dataSync(), clampLogScale) : null;
  const pairs = c.likelihood === 'discretized-logistic' && c.logisticScale === 'decoder';
  if (c.likelihood === 'discretized-logistic' && !logScale && !pairs)
    throw new Error(`${what}: the model has no decoder log scale`);
  const { latents, dec, inDim } = latentCoderFor(model, B, posteriorPrecision, what);
  const D = c.inputShape.reduce((a, b) => a * b, 1);
  const K = c.mixtures ?? DEFAULT_MIXTURES;
  const N = c.neighbours ?? DEFAULT_NEIGHBOURS;
  const local =
    c.likelihood === 'local-logistic-mixture'
      ? (([H, W]) => ({ pix: new LocalPixel(K, N), H, W }))(localImageSize(c.inputShape))
      : null;
  const outDim = local ? D * localParamsPerPixel(K, N) : pairs ? 2 * D : D;
  if (inDim !== D || dec.outDim !== outDim) throw new Error(`${what}: the model's networks do not match its config`);
  return {
    likelihood: c.likelihood,
    logScale: pairs ? null : logScale,
    pairs,
    latents,
    dec,
    D,
    shape: c.inputShape,
    local,
  };
}

const clampLogScale = (v: number) => Math.min(1, Math.max(-12, v));

/** The logistic's (μ, log s) of pixel d from the decoder's output. */
function muScale(coder: Coder, out: Float64Array, d: number): [number, number] {
  return coder.pairs ? [out[2 * d], clampLogScale(out[2 * d + 1])] : [out[d], coder.logScale![d]];
}

function checkSettings(s: BitsBackSettings): void {
  for (const k of ['posteriorPrecision', 'likelihoodPrecision'] as const)
    if (!(Number.isInteger(s[k]) && s[k] >= 8 && s[k] <= 16))
      throw new Error(`${k} must be an integer in 8…16, got ${s[k]}`);
  gaussianBuckets(s.latentBits);
}

/** Bernoulli(sigmoid(l)) as the frequency of a 1 at precision p, never 0 or 2^p. */
function freqOne(logit: number, M: number): number {
  const f = Math.round(M / (1 + Math.exp(-logit)));
  return f < 1 ? 1 : f > M - 1 ? M - 1 : f;
}

const HALF_BIN = 1 / (2 * 255);

/**
 * The discretised logistic (mean μ, log scale ls) over the 256 pixel levels as a cumulative table at 2^p with
 * none zero: C(k) = round(F_k·(2^p − 256)) + k, F_k = σ((k/255 − δ − μ)/s) kept non-decreasing.
 */
function logisticCdf(mu: number, ls: number, M: number, cdf: Float64Array): void {
  const invS = Math.exp(-ls);
  let run = 0;
  cdf[0] = 0;
  for (let k = 1; k < 256; k++) {
    const v = 1 / (1 + Math.exp(-((k / 255 - HALF_BIN - mu) * invS)));
    if (v > run) run = v;
    cdf[k] = Math.round(run * (M - 256)) + k;
  }
  cdf[256] = M;
}

export interface CompressOptions extends Partial<BitsBackSettings> {
  /** Called after each image with the number done. */
  onProgress?: (done: number) => void;
  /** Further header fields, e.g. where the model lives (informational: the fingerprint decides). */
  note?: Record<string, string | number>;
}

/**
 * Compresses `count` binary images (rows of 0/1 values, flat, the model's input shape) into .vkz bytes.
 * The model must be a Bernoulli VAE; the file names it by fingerprint.
 */
export function compressBinaryImages(
  model: LatentVariableModel,
  x: ArrayLike<number>,
  count: number,
  options: CompressOptions = {},
): { bytes: Uint8Array; stats: CompressStats } {
  const s: BitsBackSettings = {
    latentBits: options.latentBits ?? BITS_BACK_DEFAULTS.latentBits,
    posteriorPrecision: options.posteriorPrecision ?? BITS_BACK_DEFAULTS.posteriorPrecision,
    likelihoodPrecision: options.likelihoodPrecision ?? BITS_BACK_DEFAULTS.likelihoodPrecision,
  };
  checkSettings(s);
  const B = gaussianBuckets(s.latentBits);
  const coder = coderFor(model, 'compress', B, s.posteriorPrecision);
  const { D, latents } = coder;
  if (!(Number.isInteger(count) && count >= 0) || x.length !== count * D)
    throw new Error(`compress: expected ${count} images of ${D} values (${count * D}), got ${x.length} values`);
  const local = coder.local;
  const dl = coder.likelihood === 'discretized-logistic' || local !== null;
  if (dl && options.likelihoodPrecision === undefined) s.likelihoodPrecision = 16; // 256 levels: a smaller floor
  for (let i = 0; i < x.length; i++) {
    const k = x[i] * 255;
    if (dl ? !(Math.abs(k - Math.round(k)) < 1e-3 && k > -0.5 && k < 255.5) : x[i] !== 0 && x[i] !== 1)
      throw new Error(
        dl
          ? `compress: value ${x[i]} at pixel ${i % D} of image ${Math.floor(i / D)} is not k/255 of an 8-bit pixel (the continuous protocol)`
          : `compress: value ${x[i]} at pixel ${i % D} of image ${Math.floor(i / D)}; the binary coder needs 0/1 pixels (the binary protocol)`,
      );
  }
  latents.fit?.(
    (i) =>
      Array.from(Array.prototype.slice.call(x, i * D, (i + 1) * D) as number[], (v) =>
        dl ? Math.round(v * 255) / 255 : v,
      ),
    count,
  );
  const cdf = new Float64Array(257);
  const M = 2 ** s.likelihoodPrecision;
  const m = new RansStack();
  const j = new Int32Array(latents.units);
  for (let i = 0; i < count; i++) {
    // 8-bit: the encoder sees k/255 in float64, as the decoder rebuilds it (a float32 k/255 is another number)
    const xi = Array.prototype.slice.call(x, i * D, (i + 1) * D) as number[];
    if (dl) for (let d = 0; d < D; d++) xi[d] = Math.round(xi[d] * 255) / 255;
    latents.popPosterior(m, xi, j);
    const logits = coder.dec.apply(latents.decoderInput(j));
    if (local) {
      // reverse raster order: the decoder pops pixel 0 first, with its neighbours decoded before it
      for (let d = D - 1; d >= 0; d--) {
        local.pix.set(logits, xi, d, local.H, local.W);
        const k = Math.round(xi[d] * 255);
        const lo = local.pix.cdfAt(k, M);
        m.push(lo, local.pix.cdfAt(k + 1, M) - lo, s.likelihoodPrecision);
      }
      latents.pushPrior(m, j);
      options.onProgress?.(i + 1);
      continue;
    }
    for (let d = 0; d < D; d++) {
      if (dl) {
        logisticCdf(...muScale(coder, logits, d), M, cdf);
        const k = Math.round(xi[d] * 255);
        m.push(cdf[k], cdf[k + 1] - cdf[k], s.likelihoodPrecision);
        continue;
      }
      const f1 = freqOne(logits[d], M);
      if (xi[d] === 1) m.push(M - f1, f1, s.likelihoodPrecision);
      else m.push(0, M - f1, s.likelihoodPrecision);
    }
    latents.pushPrior(m, j);
    options.onProgress?.(i + 1);
  }
  const header = {
    ...options.note,
    method: 'bits-back',
    fingerprint: modelFingerprint(model),
    shape: coder.shape,
    count,
    likelihood: coder.likelihood,
    ...s,
    ...(latents.layout ? { priorPrecision: PRIOR_PRECISION, latentLayout: latents.layout } : {}),
  };
  const bytes = writeContainer(header, m.toBytes());
  const dims = count * D;
  return {
    bytes,
    stats: {
      count,
      dims: D,
      fileBytes: bytes.length,
      bitsPerDim: dims ? (8 * bytes.length) / dims : 0,
      bytesPerImage: count ? bytes.length / count : 0,
      messageBits: m.bits,
      startupBits: 16 * m.borrowed,
    },
  };
}

function headerSettings(h: Record<string, unknown>): BitsBackSettings {
  const s = {
    latentBits: h.latentBits as number,
    posteriorPrecision: h.posteriorPrecision as number,
    likelihoodPrecision: h.likelihoodPrecision as number,
  };
  try {
    checkSettings(s);
  } catch (e) {
    throw new FormatError(`corrupted .vkz file: bad coder settings in the header (${(e as Error).message})`);
  }
  return s;
}

/** The images of a .vkz file written by compressBinaryImages with this model, in order: rows of 0/1 (Bernoulli) or of levels 0…255 (discretized-logistic). */
export function decompressBinaryImages(
  model: LatentVariableModel,
  bytes: Uint8Array,
  onProgress?: (done: number) => void,
): { x: Uint8Array; count: number; shape: number[] } {
  const { header, payload } = readContainer(bytes);
  if (header.method !== 'bits-back')
    throw new FormatError(`this .vkz file holds "${header.method}" data, not bits-back coded binary images`);
  checkFingerprint(header, modelFingerprint(model));
  const s = headerSettings(header);
  const B = gaussianBuckets(s.latentBits);
  const coder = coderFor(model, 'decompress', B, s.posteriorPrecision);
  const { D, latents } = coder;
  if (header.shape.reduce((a, b) => a * b, 1) !== D)
    throw new FormatError(`corrupted .vkz file: image shape [${header.shape}] does not fit the model`);
  if (latents.layout) {
    if (header.priorPrecision !== PRIOR_PRECISION)
      throw new FormatError(`corrupted .vkz file: the header's prior precision is not ${PRIOR_PRECISION}`);
    try {
      latents.layout = header.latentLayout as number[];
    } catch (e) {
      throw new FormatError(`corrupted .vkz file: ${(e as Error).message}`);
    }
  }
  const M = 2 ** s.likelihoodPrecision;
  const count = header.count;
  const m = RansStack.fromBytes(payload);
  const out = new Uint8Array(count * D);
  const j = new Int32Array(latents.units);
  const xi = new Float64Array(D);
  const local = coder.local;
  const dl = coder.likelihood === 'discretized-logistic' || local !== null;
  if (header.likelihood !== coder.likelihood)
    throw new FormatError(
      `corrupted .vkz file: the header's likelihood ${String(header.likelihood)} is not the model's`,
    );
  const cdf = new Float64Array(257);
  const corrupt = () => new FormatError('corrupted .vkz file: the bit stream does not decode to the header’s images');
  try {
    decodeAll();
  } catch (e) {
    // a stream that passed its CRCs yet asks for an impossible symbol was not written by this coder
    throw e instanceof FormatError ? e : corrupt();
  }
  if (m.head !== RANS_LOW || m.tail().some((w) => w !== 0)) throw corrupt();
  return { x: out, count, shape: header.shape };

  function decodeAll(): void {
    for (let i = count - 1; i >= 0; i--) {
      latents.popPrior(m, j);
      const logits = coder.dec.apply(latents.decoderInput(j));
      if (local) {
        xi.fill(0);
        for (let d = 0; d < D; d++) {
          local.pix.set(logits, xi, d, local.H, local.W);
          const [k, lo, hi] = local.pix.find(m.peek(s.likelihoodPrecision), M);
          m.pop(lo, hi - lo, s.likelihoodPrecision);
          xi[d] = k / 255;
          out[i * D + d] = k;
        }
      } else
        for (let d = D - 1; d >= 0; d--) {
          if (dl) {
            logisticCdf(...muScale(coder, logits, d), M, cdf);
            const k = m.popCdf(cdf, s.likelihoodPrecision);
            xi[d] = k / 255;
            out[i * D + d] = k;
            continue;
          }
          const f1 = freqOne(logits[d], M);
          const one = m.peek(s.likelihoodPrecision) >= M - f1;
          if (one) m.pop(M - f1, f1, s.likelihoodPrecision);
          else m.pop(0, M - f1, s.likelihoodPrecision);
          xi[d] = one ? 1 : 0;
        }
      if (m.borrowed) throw corrupt();
      latents.pushPosterior(m, xi, j);
      if (!dl) for (let d = 0; d < D; d++) out[i * D + d] = xi[d];
      onProgress?.(count - i);
    }
  }
}
