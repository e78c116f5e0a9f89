// Held-out likelihood figures (docs/PROTOCOL.md): test −ELBO with one sample, and the importance-sampled
// estimate of −log p(x) with k samples from q(z|x):  log p(x) ≈ log (1/k) Σ_i p(x|z_i) p(z_i) / q(z_i|x).
// A conditional model is evaluated given the true labels: −log p(x|y), with q(z|x,y) and p(z|y).
// A dense VAE with a Bernoulli decoder gets its log-weights from the backend's fused kernel where it has
// one (the native backend: the decoder and log p(x|z) per block of samples, x never tiled); the same ε
// from the same Rng, so the same figure as the tfjs graph to float rounding. VAEKIT_FUSED_STEP=0: off.
import * as tf from '@tensorflow/tfjs-core';
import { DiagGaussian } from '../distributions/gaussian.js';
import { rowRange, rowSize } from '../data/split.js';
import type { Split } from '../data/types.js';
import type { LatentVariableModel } from '../models/types.js';
import { elbo } from '../objectives/elbo.js';
import { logImportanceWeights } from '../objectives/iwae.js';
import type { Rng } from '../rng.js';
import { getInPlaceSteps } from '../backend/inplace-steps.js';
import { denseVae } from '../train/fused-step.js';

function rowsOf(split: Split, start: number, end: number): tf.Tensor2D {
  return tf.tensor2d(rowRange(split, start, end), [end - start, rowSize(split)]);
}

/** The labels of rows [start, end) for a conditional model (int32 [B]); undefined for an unconditional one. */
function labelsOf(model: LatentVariableModel, split: Split, start: number, end: number): tf.Tensor1D | undefined {
  if (!model.numClasses) return undefined;
  if (!split.y) throw new Error(`this ${model.config.kind} is conditioned on labels, and the data have none`);
  return tf.tensor1d(split.y.subarray(start, end), 'int32');
}

/** Mean −ELBO terms over a split ({ total, rec, kl } in nats per example). */
export function evaluateElbo(
  model: LatentVariableModel,
  split: Split,
  opts: { rng: Rng; beta?: number; batchSize?: number; limit?: number },
): Record<string, number> {
  const n = Math.min(split.n, opts.limit ?? Infinity);
  const bs = opts.batchSize ?? 500;
  const sums: Record<string, number> = {};
  for (let s = 0; s < n; s += bs) {
    const e = Math.min(n, s + bs);
    tf.tidy(() => {
      const terms = elbo(model, rowsOf(split, s, e), {
        rng: opts.rng,
        beta: opts.beta ?? 1,
        y: labelsOf(model, split, s, e),
      });
      const names = Object.keys(terms);
      const v = tf.stack(names.map((k) => tf.sum(terms[k]))).dataSync();
      names.forEach((k, i) => (sums[k] = (sums[k] ?? 0) + v[i]));
    });
  }
  return Object.fromEntries(Object.entries(sums).map(([k, v]) => [k, v / n]));
}

export interface NllResult {
  /** Mean importance-sampled −log p(x), nats per example. */
  nll: number;
  /** Standard error of that mean over examples. */
  stderr: number;
  /** nll / (D · ln 2). */
  bitsPerDim: number;
  k: number;
  n: number;
  seconds: number;
  /** Per-example −log p(x) estimates. */
  perExample: Float64Array;
}

function logMeanExpRows(chunks: Float32Array[], B: number, k: number): Float64Array {
  const out = new Float64Array(B);
  for (let b = 0; b < B; b++) {
    let m = -Infinity;
    for (const c of chunks) for (let i = b; i < c.length; i += B) if (c[i] > m) m = c[i];
    let s = 0;
    for (const c of chunks) for (let i = b; i < c.length; i += B) s += Math.exp(c[i] - m);
    out[b] = m + Math.log(s / k);
  }
  return out;
}

/** Importance-sampled negative log-likelihood with k samples per example (Burda et al. 2016, eq. 8). */
export function importanceSampledNll(
  model: LatentVariableModel,
  split: Split,
  opts: { k: number; rng: Rng; limit?: number; maxRows?: number; onProgress?: (done: number, n: number) => void },
): NllResult {
  const { k } = opts;
  if (!Number.isInteger(k) || k < 1) throw new Error(`k must be a positive integer, got ${k}`);
  const n = Math.min(split.n, opts.limit ?? Infinity);
  const D = rowSize(split);
  const maxRows = opts.maxRows ?? 10000;
  const B = Math.max(1, Math.min(n, Math.floor(maxRows / k)));
  const kc = Math.min(k, maxRows);
  const per = new Float64Array(n);
  const steps = getInPlaceSteps(tf.getBackend());
  const fusedLw = steps?.denseVaeLogWeights;
  const dense = fusedLw && process.env.VAEKIT_FUSED_STEP !== '0' ? denseVae(model) : null;
  const t0 = performance.now();
  for (let s = 0; s < n; s += B) {
    const e = Math.min(n, s + B);
    const x = rowsOf(split, s, e);
    const y = labelsOf(model, split, s, e);
    // q(z|x) once per block when it is one Gaussian layer; a hierarchical q is encoded with each chunk
    const [mu, logVar] = tf.tidy(() => {
      const post = model.encode(x, y);
      return post instanceof DiagGaussian ? [post.mu, post.logVar] : [];
    });
    const q = mu && logVar ? new DiagGaussian(mu, logVar) : undefined;
    const chunks: Float32Array[] = [];
    for (let done = 0; done < k; done += kc) {
      const kk = Math.min(kc, k - done);
      if (dense && q && mu && logVar && !y) {
        const Z = dense.decoder.dims[0];
        const [muV, lvV] = [mu.dataSync() as Float32Array, logVar.dataSync() as Float32Array];
        // as DiagGaussian.sample draws (the backend's fillNormal: the same values, faster)
        const eps = () => {
          const a = new Float32Array(kk * (e - s) * Z);
          return steps?.fillNormal?.(opts.rng, a) ? a : opts.rng.fillNormal(a);
        };
        const args = { decoder: dense.decoder, mu: muV, logVar: lvV, eps, k: kk, batch: e - s };
        const w = fusedLw!({ ...args, x: x.dataSync() as Float32Array });
        if (w) {
          chunks.push(w);
          continue;
        }
      }
      const lw = logImportanceWeights(model, x, kk, opts.rng, q, y);
      chunks.push(lw.dataSync() as Float32Array);
      lw.dispose();
    }
    tf.dispose([x, ...(y ? [y] : []), ...(q ? [mu, logVar] : [])]);
    const lme = logMeanExpRows(chunks, e - s, k);
    for (let b = 0; b < e - s; b++) per[s + b] = -lme[b];
    opts.onProgress?.(e, n);
  }
  let mean = 0;
  for (const v of per) mean += v;
  mean /= n;
  let v2 = 0;
  for (const v of per) v2 += (v - mean) ** 2;
  const stderr = n > 1 ? Math.sqrt(v2 / (n - 1) / n) : NaN;
  return {
    nll: mean,
    stderr,
    bitsPerDim: mean / (D * Math.LN2),
    k,
    n,
    seconds: (performance.now() - t0) / 1000,
    perExample: per,
  };
}
