// The latent side of bits-back coding: how a model's latents are popped from the posterior, pushed under the
// prior, and the reverse, all on exact networks (exact-net.ts) and the equal-mass buckets of buckets.ts.
//
// vae: one layer z, prior N(0, I): pop z ~ Q(z|x) unit by unit; push each bucket index uniformly (b bits).
//
// hvae (the Ladder VAE of src/models/hvae.ts, layers z_1 … z_L): inference is top-down,
//   q(z_L | x) = q̂_L,   q(z_l | z_{l+1}, x) = the precision-weighted q̂_l · p(z_l | z_{l+1}),
// so every layer's posterior needs x. The encoder pops z_L, then z_{L−1} given z_L's bucket centre, … z_1; after
// x is pushed it pushes z_1 under p(z_1 | z_2), …, z_{L−1} under p(z_{L−1} | z_L), and z_L uniformly last. The
// decoder pops z_L, z_{L−1} | z_L, … z_1 | z_2, then x | z_1, and only then, with x known, pushes the posteriors
// back (z_1 first, z_L last), undoing the encoder's pops. Bit-Swap's interleaving (Kingma, Abbeel & Ho 2019)
// pushes z_l back under q(z_l | z_{l−1}) as soon as z_{l−1} is decoded, which needs a Markov bottom-up
// posterior; with this top-down posterior the decoder has no q(z_L | ·) before x, so the order is BB-ANS's
// over the whole hierarchy (as HiLLoC does for top-down models). Its only cost is the start-up: the first
// image's pops of all L layers borrow zero words (about Σ_l d_l · b bits), amortised over the set.
//
// The conditional prior p(z_l | z_{l+1}) codes a bucket the posterior chose, anywhere on the line, so its table
// has no zero: C(j) = round(Φ((e_j − μ)/σ) · (2^p − K)) + j at p = PRIOR_PRECISION (16: the floor costs
// K/2^p ≈ 1.6% of the mass, about 0.02 bits a unit at K = 1024).
import type { RansStack } from '../../codec/rans.js';
import type { LatentVariableModel } from '../../models/types.js';
import { normalCdf, popPosterior, pushPosterior, type Buckets } from './buckets.js';
import { compileExact, type ExactNet } from './exact-net.js';

export const PRIOR_PRECISION = 16;

export interface LatentCoder {
  /** Units of every layer together. */
  units: number;
  /** The decoder network's input (z_1's bucket centres) from the bucket indices of every unit. */
  decoderInput(j: Int32Array): Float64Array;
  /** Encoder: pops every unit from Q(z | x) into j. */
  popPosterior(m: RansStack, x: ArrayLike<number>, j: Int32Array): void;
  /** Encoder, after x: pushes j under P(z). */
  pushPrior(m: RansStack, j: Int32Array): void;
  /** Decoder: pops j under P(z) (undoes pushPrior). */
  popPrior(m: RansStack, j: Int32Array): void;
  /** Decoder, after x: pushes j back under Q(z | x) (undoes popPosterior). */
  pushPosterior(m: RansStack, x: ArrayLike<number>, j: Int32Array): void;
  /**
   * hvae: where the buckets of the layers below the top lie, per unit [m_0, s_0, m_1, s_1, …] (null: the
   * standard buckets only). Chosen by fit() from the images before coding, written in the file's header and
   * set from it by the decoder.
   */
  layout: number[] | null;
  fit?(images: (i: number) => ArrayLike<number>, count: number): void;
}

interface Gauss {
  mu: Float64Array;
  logVar: Float64Array;
}

function head(h: Float64Array): Gauss {
  const d = h.length / 2;
  return { mu: h.subarray(0, d), logVar: h.subarray(d) };
}

const softplus = (v: number) => (v > 0 ? v + Math.log1p(Math.exp(-v)) : Math.log1p(Math.exp(v)));

/** q̂ · p as src/models/hvae.ts combines them: w = σ(log σ²_p − log σ̂²), μ = μ_p + w(μ̂ − μ_p), log σ² = log σ̂² − softplus(log σ̂² − log σ²_p). */
function precisionWeighted(qHat: Gauss, p: Gauss): Gauss {
  const d = qHat.mu.length;
  const mu = new Float64Array(d);
  const logVar = new Float64Array(d);
  for (let i = 0; i < d; i++) {
    const w = 1 / (1 + Math.exp(-(p.logVar[i] - qHat.logVar[i])));
    mu[i] = p.mu[i] + w * (qHat.mu[i] - p.mu[i]);
    logVar[i] = qHat.logVar[i] - softplus(qHat.logVar[i] - p.logVar[i]);
  }
  return { mu, logVar };
}

/** C(j) of N(μ, σ²) over the buckets at 2^PRIOR_PRECISION, every bucket at least 1. */
function priorCdf(B: Buckets, j: number, mu: number, sigma: number): number {
  const M = 2 ** PRIOR_PRECISION;
  if (j <= 0) return 0;
  if (j >= B.K) return M;
  return Math.round(normalCdf((B.edges[j] - mu) / sigma) * (M - B.K)) + j;
}

function pushPrior(m: RansStack, B: Buckets, j: number, mu: number, sigma: number): void {
  const lo = priorCdf(B, j, mu, sigma);
  m.push(lo, priorCdf(B, j + 1, mu, sigma) - lo, PRIOR_PRECISION);
}

function popPrior(m: RansStack, B: Buckets, mu: number, sigma: number): number {
  const s = m.peek(PRIOR_PRECISION);
  let lo = 0;
  let hi = B.K;
  while (hi - lo > 1) {
    const mid = (lo + hi) >>> 1;
    if (priorCdf(B, mid, mu, sigma) <= s) lo = mid;
    else hi = mid;
  }
  const c = priorCdf(B, lo, mu, sigma);
  m.pop(c, priorCdf(B, lo + 1, mu, sigma) - c, PRIOR_PRECISION);
  return lo;
}

const sigmaOf = (lv: number) => Math.exp(0.5 * lv);

function flatCoder(enc: ExactNet, L: number, B: Buckets, qp: number): LatentCoder {
  const posterior = (x: ArrayLike<number>) => head(enc.apply(x));
  return {
    units: L,
    decoderInput: (j) => Float64Array.from(j, (v) => B.centres[v]),
    layout: null,
    popPosterior(m, x, j) {
      const q = posterior(x);
      for (let d = L - 1; d >= 0; d--) j[d] = popPosterior(m, B, q.mu[d], sigmaOf(q.logVar[d]), qp);
    },
    pushPrior(m, j) {
      for (let d = 0; d < L; d++) m.pushUniform(j[d], B.bits);
    },
    popPrior(m, j) {
      for (let d = L - 1; d >= 0; d--) j[d] = m.popUniform(B.bits);
    },
    pushPosterior(m, x, j) {
      const q = posterior(x);
      for (let d = 0; d < L; d++) pushPosterior(m, B, j[d], q.mu[d], sigmaOf(q.logVar[d]), qp);
    },
  };
}

function ladderCoder(
  encoders: ExactNet[],
  priors: ExactNet[],
  dims: number[],
  B: Buckets,
  qp: number,
  what: string,
): LatentCoder {
  const nL = dims.length;
  const offset = dims.map((_, l) => dims.slice(0, l).reduce((a, b) => a + b, 0));
  const units = offset[nL - 1] + dims[nL - 1];
  const below = offset[nL - 1];
  // layer l < L − 1, unit u = offset[l] + d: buckets at m_u + s_u·(the standard buckets), so N(μ, σ²) over
  // them is N((μ − m_u)/s_u, (σ/s_u)²) over the standard ones
  const layout = new Float64Array(2 * below).map((_, i) => (i % 2 ? 1 : 0));
  const centres = (j: Int32Array, l: number) =>
    Float64Array.from(j.subarray(offset[l], offset[l] + dims[l]), (v, d) =>
      l === nL - 1 ? B.centres[v] : layout[2 * (offset[l] + d)] + layout[2 * (offset[l] + d) + 1] * B.centres[v],
    );
  const muAt = (u: number, mu: number) => (u < below ? (mu - layout[2 * u]) / layout[2 * u + 1] : mu);
  const sigmaAt = (u: number, lv: number) => (u < below ? sigmaOf(lv) / layout[2 * u + 1] : sigmaOf(lv));
  /** p(z_l | z_{l+1}) from the buckets of layer l + 1. */
  const conditional = (l: number, j: Int32Array): Gauss => head(priors[l].apply(centres(j, l + 1)));
  /** q̂_1 … q̂_L, the deterministic bottom-up pass. */
  const bottomUp = (x: ArrayLike<number>): Gauss[] => {
    const out: Gauss[] = [];
    let h = encoders[0].apply(x);
    out.push(head(h));
    for (let l = 1; l < nL; l++) {
      h = encoders[l].apply(h);
      out.push(head(h));
    }
    return out;
  };
  for (let l = 0; l < nL; l++)
    if (encoders[l].outDim !== 2 * dims[l] || (l < nL - 1 && priors[l].outDim !== 2 * dims[l]))
      throw new Error(`${what}: the hierarchical model's networks do not match its layer widths`);
  const coder: LatentCoder = {
    units,
    decoderInput: (j) => centres(j, 0),
    get layout() {
      return Array.from(layout);
    },
    set layout(v: number[] | null) {
      if (!v || v.length !== layout.length || v.some((a, i) => !Number.isFinite(a) || (i % 2 === 1 && !(a > 0))))
        throw new Error(`${what}: the latent layout must be ${below} pairs (m, s > 0)`);
      layout.set(v);
    },
    // the mean path's q(z_l | ·) over the first images: m = the mean of μ_q, s = 2·√(var μ_q + mean σ²_q), so
    // the buckets (2^b of equal mass under N(m, s²)) reach 2·3.1 sd at b = 10; rounded to 4 decimals so the
    // header's JSON gives the decoder the very same numbers
    fit(images, count) {
      const n = Math.min(count, 1000);
      if (n === 0) return;
      const sum = new Float64Array(below);
      const sq = new Float64Array(below);
      const vr = new Float64Array(below);
      for (let i = 0; i < n; i++) {
        const qHat = bottomUp(images(i));
        let zAbove: Float64Array = Float64Array.from(qHat[nL - 1].mu);
        for (let l = nL - 2; l >= 0; l--) {
          const q = precisionWeighted(qHat[l], head(priors[l].apply(zAbove)));
          for (let d = 0; d < dims[l]; d++) {
            const u = offset[l] + d;
            sum[u] += q.mu[d];
            sq[u] += q.mu[d] * q.mu[d];
            vr[u] += Math.exp(q.logVar[d]);
          }
          zAbove = q.mu;
        }
      }
      const r4 = (v: number) => Math.round(v * 1e4) / 1e4;
      for (let u = 0; u < below; u++) {
        const mean = sum[u] / n;
        layout[2 * u] = r4(mean);
        layout[2 * u + 1] = Math.max(1e-3, r4(2 * Math.sqrt(Math.max(0, sq[u] / n - mean * mean) + vr[u] / n)));
      }
    },
    popPosterior(m, x, j) {
      const qHat = bottomUp(x);
      for (let l = nL - 1; l >= 0; l--) {
        const q = l === nL - 1 ? qHat[l] : precisionWeighted(qHat[l], conditional(l, j));
        for (let d = dims[l] - 1; d >= 0; d--) {
          const u = offset[l] + d;
          j[u] = popPosterior(m, B, muAt(u, q.mu[d]), sigmaAt(u, q.logVar[d]), qp);
        }
      }
    },
    pushPrior(m, j) {
      for (let l = 0; l < nL - 1; l++) {
        const p = conditional(l, j);
        for (let d = 0; d < dims[l]; d++) {
          const u = offset[l] + d;
          pushPrior(m, B, j[u], muAt(u, p.mu[d]), sigmaAt(u, p.logVar[d]));
        }
      }
      for (let d = 0; d < dims[nL - 1]; d++) m.pushUniform(j[offset[nL - 1] + d], B.bits);
    },
    popPrior(m, j) {
      for (let d = dims[nL - 1] - 1; d >= 0; d--) j[offset[nL - 1] + d] = m.popUniform(B.bits);
      for (let l = nL - 2; l >= 0; l--) {
        const p = conditional(l, j);
        for (let d = dims[l] - 1; d >= 0; d--) {
          const u = offset[l] + d;
          j[u] = popPrior(m, B, muAt(u, p.mu[d]), sigmaAt(u, p.logVar[d]));
        }
      }
    },
    pushPosterior(m, x, j) {
      const qHat = bottomUp(x);
      for (let l = 0; l < nL; l++) {
        const q = l === nL - 1 ? qHat[l] : precisionWeighted(qHat[l], conditional(l, j));
        for (let d = 0; d < dims[l]; d++) {
          const u = offset[l] + d;
          pushPosterior(m, B, j[u], muAt(u, q.mu[d]), sigmaAt(u, q.logVar[d]), qp);
        }
      }
    },
  };
  return coder;
}

/**
 * The latent coder of a vae or hvae model, and its compiled decoder network (z_1 → the likelihood's
 * parameters); an error naming the problem for any other model.
 */
export function latentCoderFor(
  model: LatentVariableModel,
  B: Buckets,
  posteriorPrecision: number,
  what: string,
): { latents: LatentCoder; dec: ExactNet; inDim: number } {
  const c = model.config;
  const nets = model.networks();
  const dec = compileExact(nets.decoder);
  if (c.kind === 'vae') {
    const enc = compileExact(nets.encoder);
    if (enc.outDim !== 2 * c.latentDim || dec.inDim !== c.latentDim)
      throw new Error(`${what}: the model's networks do not match its config`);
    return { latents: flatCoder(enc, c.latentDim, B, posteriorPrecision), dec, inDim: enc.inDim };
  }
  if (c.kind === 'hvae') {
    const dims = c.latentDims;
    const encoders = dims.map((_, l) => nets[l === 0 ? 'encoder' : `encoder${l + 1}`]);
    const priors = dims.slice(1).map((_, l) => nets[`prior${l + 1}`]);
    if (encoders.some((n) => !n) || priors.some((n) => !n))
      throw new Error(`${what}: the hierarchical model lacks one of its networks`);
    const enc = encoders.map(compileExact);
    if (dec.inDim !== dims[0]) throw new Error(`${what}: the model's decoder does not take z_1`);
    return {
      latents: ladderCoder(enc, priors.map(compileExact), dims, B, posteriorPrecision, what),
      dec,
      inDim: enc[0].inDim,
    };
  }
  throw new Error(
    `${what}: bits-back coding supports the vae (mlp or conv networks) and hvae models; this model is a ${c.kind}`,
  );
}
