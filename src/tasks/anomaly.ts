// Anomaly and out-of-distribution scores of a trained model, per input row; higher = more anomalous.
//
//   negElbo      −ELBO(x) = rec + KL = −E_q[log p(x|z)] + KL(q(z|x) ‖ p(z))           (nats, one sample of z)
//   nll          −log p̂(x),  log p̂(x) = log (1/k) Σ_i p(x|z_i) p(z_i) / q(z_i|x),  z_i ~ q(z|x)
//                (Burda et al. 2016; k = 1 is an unbiased estimate of the ELBO, k → ∞ tends to −log p(x))
//   vqvae        q is a point mass on the codes k(x): nll = negElbo = −log p(x | k(x)) − log p(k(x)), the
//                decoder's term (rec) plus the code prior's (kl; M log K under the uniform prior)
//   cvae         given labels: −log p(x|y); without (or with labels: 'marginal'), the marginal over a uniform
//                p(y) = 1/K:  log p(x) = log Σ_y p(y) p(x|y) = logsumexp_y log p(x|y) − log K, for the ELBO
//                and the IS estimate alike (rec and kl are then the most likely label's, `label`)
//   corrected    input-complexity correction (Serrà et al. 2020):  S(x) = nll(x) / ln 2 − L(x),  L(x) the
//                length in bits of x under a reference lossless coder: by default, for image models, the
//                adaptive context-model coder of src/codec/context-model.ts learned on x alone (1 bit per
//                pixel for a Bernoulli decoder, 8 bits otherwise); `complexity` passes another, null none
//   llr          hierarchical VAE likelihood ratio (Havtorn et al. 2021):  LLR^{>k}(x) = L(x) − L^{>k}(x), with
//                L^{>k}(x) = E[log p(x|z)] − Σ_{l>k} KL_l: the ELBO with the bottom k layers z_1 … z_k taken
//                from the conditional prior p(z_≤k | z_{k+1}) instead of q (their KL terms vanish). As in the
//                authors' script, the bottom layers are the prior's mean by default ('sample' draws them).
//   regret       likelihood regret (Xiao et al. 2020, src/tasks/anomaly-regret.ts): the −ELBO gained by refitting
//                q(z|x)'s (μ, log σ²) to x alone for a few Adam steps; ≥ 0; only when `regret` is set (costly)
//
// Rows travel flat (Float32Array, row-major, shape = the model's inputShape); scoreStream takes batches
// from an iterator or async iterator and yields one result per row, so memory is bounded by one batch
// whatever the input size. Calibration (a threshold at a false-positive rate on held-out normal rows)
// and the detection metrics (AUROC, AUPRC, FPR at 95% TPR) come from src/stats.
import * as tf from '@tensorflow/tfjs-core';
import { importanceSampledNll } from '../eval/likelihood.js';
import type { HVAE } from '../models/hvae.js';
import type { LatentVariableModel } from '../models/types.js';
import type { VQVAE } from '../models/vqvae.js';
import {
  contextModelBits,
  selectContextModel,
  type CoderSelection,
  type ContextModelOptions,
} from '../codec/context-model.js';
import { elbo } from '../objectives/elbo.js';
import { checkRegretModel, likelihoodRegret, type RegretOptions } from './anomaly-regret.js';
import type { Rng } from '../rng.js';
import { auprcTrapezoid, auroc, averagePrecision, fprAtTpr } from '../stats/roc.js';
import { thresholdAtFpr, upperTailFraction, type Calibration } from '../stats/threshold.js';

/** n rows of prod(shape) values, row-major; y: labels for a conditional model (optional). */
export interface Rows {
  x: Float32Array;
  n: number;
  shape: readonly number[];
  y?: Int32Array;
}

/** L(x): bits per row under a reference lossless coder, for rows x [n × prod(shape)]. */
export type ComplexityFn = (
  x: Float32Array,
  n: number,
  shape: readonly number[],
) => ArrayLike<number> | Promise<ArrayLike<number>>;

export interface ScoreOptions {
  rng: Rng;
  /** Importance samples for nll (default 1: the ELBO's estimate; 100 or more for a tight −log p(x)). */
  k?: number;
  /**
   * The reference coder of the input-complexity correction: default defaultComplexity(model) (image models);
   * null: none (corrected is then absent).
   */
  complexity?: ComplexityFn | null;
  /** cvae: score given the rows' labels, or the marginal over labels (default: given when rows.y is set). */
  labels?: 'given' | 'marginal';
  /** hvae: how many bottom layers the likelihood ratio takes from the prior (default 1). */
  llrLayers?: number;
  /** hvae: the bottom layers at the conditional prior's mean (default) or a sample of it. */
  llrBottom?: 'mean' | 'sample';
  /** Likelihood regret with these settings (vae, conv, cvae with labels); absent or null: not computed. */
  regret?: Omit<RegretOptions, 'rng' | 'y'> | null;
  /** Rows per forward pass (default 256). */
  batchSize?: number;
  /** Most rows (k × examples) in one importance-sampling pass (default 10,000). */
  maxRows?: number;
}

export interface BatchScores {
  n: number;
  k: number;
  negElbo: Float64Array;
  rec: Float64Array;
  kl: Float64Array;
  nll: Float64Array;
  complexityBits?: Float64Array;
  corrected?: Float64Array;
  /** hvae: L(x) − L^{>k}(x), and −L^{>k}(x) itself. */
  llr?: Float64Array;
  negElboPriorBelow?: Float64Array;
  /** With `regret`: the likelihood regret (nats). */
  regret?: Float64Array;
  /** cvae marginal: the label of the highest p̂(x|y), and −log p̂(x|y) per row and label [n × K]. */
  label?: Int32Array;
  labelNll?: Float64Array;
}

export type ScoreName = 'negElbo' | 'nll' | 'corrected' | 'llr' | 'regret';
export const SCORE_NAMES: readonly ScoreName[] = ['negElbo', 'nll', 'corrected', 'llr', 'regret'];

/**
 * The default reference coder of a model: the adaptive context-model coder over the pixels for a model of
 * images ([H, W] or [H, W, C] in [0, 1]), binary for a Bernoulli decoder (the binary protocol), 8-bit
 * otherwise; undefined for other data (tabular rows, sequences), which get no corrected score by default.
 */
export function defaultComplexity(
  model: LatentVariableModel,
  opts: ContextModelOptions = {},
): ComplexityFn | undefined {
  const cfg = model.config;
  if (cfg.kind === 'seqvae' || (cfg.inputShape.length !== 2 && cfg.inputShape.length !== 3)) return undefined;
  const bits = cfg.likelihood === 'bernoulli' ? 1 : 8;
  return (x, n, shape) => contextModelBits(x, n, shape, { ...opts, bits });
}

/**
 * The reference coder chosen on held-out normal rows of a model's data (images no score is evaluated on; never
 * outliers): the context-model settings of the shortest mean code length (selectContextModel), and the coder
 * with them. Undefined for models without a default coder. Measured in bench/ood.ts (`--only select`): on
 * binary Fashion-MNIST this picks the shortest code, CTW, which corrects worse than the default KT coder
 * (docs/anomaly.md), so it is offered, not the default.
 */
export function selectComplexity(
  model: LatentVariableModel,
  heldOut: Rows,
  candidates?: readonly ContextModelOptions[],
): { complexity: ComplexityFn; selection: CoderSelection } | undefined {
  if (!defaultComplexity(model)) return undefined;
  checkRows(model, heldOut);
  const bits = model.config.likelihood === 'bernoulli' ? 1 : 8;
  const selection = selectContextModel(heldOut.x, heldOut.n, heldOut.shape, { bits, candidates });
  return { complexity: defaultComplexity(model, selection.options)!, selection };
}

/**
 * The score to flag with when none is named: the complexity-corrected NLL when the model has a reference coder
 * (image models), else the NLL. Chosen from the measured table of bench/ood.ts (docs/anomaly.md): on Fashion-MNIST
 * vs MNIST the corrected score led on every model and protocol, and the HVAE likelihood ratio of a two-layer MLP
 * hierarchy ranked the outliers below the inliers (AUROC 0.12 binary), so it is reported but never the default.
 */
export function defaultScore(_model: LatentVariableModel, hasComplexity: boolean): ScoreName {
  return hasComplexity ? 'corrected' : 'nll';
}

/** An error unless the rows fit the model (shape, length, finite values, labels in range). */
export function checkRows(model: LatentVariableModel, rows: Rows): void {
  const want = model.config.inputShape;
  if (rows.shape.length !== want.length || rows.shape.some((d, i) => d !== want[i]))
    throw new Error(`the data have rows of shape [${rows.shape}], the model takes [${want}]`);
  const D = want.reduce((a, b) => a * b, 1);
  if (!Number.isInteger(rows.n) || rows.n < 0 || rows.x.length !== rows.n * D)
    throw new Error(`${rows.n} rows of ${D} values need ${rows.n * D} values, got ${rows.x.length}`);
  for (let i = 0; i < rows.x.length; i++)
    if (!Number.isFinite(rows.x[i]))
      throw new Error(`row ${Math.floor(i / D)}, value ${i % D} is ${rows.x[i]}, not a finite number`);
  const K = model.numClasses;
  if (rows.y && K) {
    if (rows.y.length !== rows.n) throw new Error(`${rows.n} rows but ${rows.y.length} labels`);
    for (let i = 0; i < rows.n; i++)
      if (!Number.isInteger(rows.y[i]) || rows.y[i] < 0 || rows.y[i] >= K)
        throw new Error(`label ${rows.y[i]} of row ${i} is out of range (the model has classes 0 … ${K - 1})`);
  }
}

/**
 * The scorer's settings `vaekit score` and `vaekit calibrate` use (and `vaekit serve`'s /api/score, so that a row
 * scores there as it does in the CLI): the seed of the draws of z, rows per forward pass, rows per
 * importance-sampling pass.
 */
export const SCORER_DEFAULTS = { seed: 1, batchSize: 500, maxRows: 50_000 } as const;

/** The pixel protocols whose values are bounded: binary pixels are 0 or 1, continuous ones in [0, 1]. */
export const PIXEL_PROTOCOLS = ['binary', 'continuous'];

/** What values a pixel protocol takes, in words ('binary pixels (0 or 1)'). */
export function pixelRule(protocol: string): string {
  return `${protocol} pixels (${protocol === 'binary' ? '0 or 1' : 'in [0, 1]'})`;
}

/**
 * The first value of x that a model of `protocol` does not take (binary: not 0 or 1; continuous: outside
 * [0, 1] or not a number), or null; other protocols (tabular, series, words) take any value.
 */
export function pixelViolation(x: ArrayLike<number>, protocol: string): { index: number; value: number } | null {
  if (!PIXEL_PROTOCOLS.includes(protocol)) return null;
  const binary = protocol === 'binary';
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    if (binary ? v !== 0 && v !== 1 : !(v >= 0 && v <= 1)) return { index: i, value: v };
  }
  return null;
}

function checkCount(name: string, v: number): void {
  if (!Number.isInteger(v) || v < 1) throw new Error(`${name} must be a positive integer, got ${v}`);
}

/** −ELBO, rec and KL per row of x [m, D] (labels y for a conditional model). */
function elboTerms(model: LatentVariableModel, x: tf.Tensor2D, rng: Rng, y?: tf.Tensor1D) {
  return tf.tidy(() => {
    const t = elbo(model, x, { rng, beta: 1, y });
    return { negElbo: t.total.dataSync(), rec: t.rec.dataSync(), kl: t.kl.dataSync() };
  });
}

/** −log p(x | k(x)) and −log p(k(x)) per row for a VQ-VAE. */
function vqTerms(model: VQVAE, x: tf.Tensor2D): { rec: ArrayLike<number>; kl: ArrayLike<number> } {
  return tf.tidy(() => {
    const q = model.encode(x);
    const rec = tf.neg(model.decode(q.indices).logProb(x)).dataSync();
    const kl = q.kl(model.prior(x.shape[0])).dataSync();
    return { rec, kl };
  });
}

/** −L^{>k}(x) per row (see the header). */
function priorBelowNegElbo(model: HVAE, x: tf.Tensor2D, rng: Rng, layers: number, bottom: 'mean' | 'sample') {
  return tf.tidy(() => {
    const { z, kl } = model.encode(x).samplePriorBelow(layers, rng, bottom);
    return tf.sub(tf.addN(kl), model.decode(z).logProb(x)).dataSync();
  });
}

function logSumExp(a: ArrayLike<number>, start: number, count: number, stride: number): number {
  let m = -Infinity;
  for (let j = 0; j < count; j++) m = Math.max(m, a[start + j * stride]);
  if (m === -Infinity) return m;
  let s = 0;
  for (let j = 0; j < count; j++) s += Math.exp(a[start + j * stride] - m);
  return m + Math.log(s);
}

/** Every score of a batch of rows (see the header). */
export async function scoreBatch(model: LatentVariableModel, rows: Rows, opts: ScoreOptions): Promise<BatchScores> {
  checkRows(model, rows);
  const k = opts.k ?? 1;
  const bs = opts.batchSize ?? 256;
  checkCount('k', k);
  checkCount('batchSize', bs);
  const { n, shape } = rows;
  const rng = opts.rng;
  const D = model.config.inputShape.reduce((a, b) => a * b, 1);
  const kind = model.config.kind;
  const K = model.numClasses ?? 0;
  const marginal = K > 0 && (opts.labels === 'marginal' || (opts.labels === undefined && !rows.y));
  if (K > 0 && !marginal && !rows.y)
    throw new Error(`this ${kind} is conditioned on labels, and the rows have none (score the marginal instead)`);
  const llrLayers = opts.llrLayers ?? 1;
  if (kind === 'hvae') {
    const L = (model.config as { latentDims: number[] }).latentDims.length;
    if (!Number.isInteger(llrLayers) || llrLayers < 1 || llrLayers >= L)
      throw new Error(`llrLayers must be an integer in 1 … ${L - 1} for this ${L}-layer HVAE, got ${llrLayers}`);
  }
  const out: BatchScores = {
    n,
    k: kind === 'vqvae' ? 1 : k,
    negElbo: new Float64Array(n),
    rec: new Float64Array(n),
    kl: new Float64Array(n),
    nll: new Float64Array(n),
  };
  if (kind === 'hvae') {
    out.llr = new Float64Array(n);
    out.negElboPriorBelow = new Float64Array(n);
  }
  if (opts.regret) {
    checkRegretModel(model);
    if (marginal) throw new Error("likelihood regret of a cvae needs the rows' labels (no marginal over labels)");
    out.regret = new Float64Array(n);
  }
  if (marginal) {
    out.label = new Int32Array(n);
    out.labelNll = new Float64Array(n * K);
  }
  const nllOf = (x: Float32Array, m: number, y?: Int32Array) =>
    importanceSampledNll(model, { x, n: m, shape: [...shape], y }, { k, rng, maxRows: opts.maxRows }).perExample;

  for (let s = 0; s < n; s += bs) {
    const m = Math.min(bs, n - s);
    const xs = rows.x.subarray(s * D, (s + m) * D);
    const x = tf.tensor2d(xs, [m, D]);
    try {
      if (kind === 'vqvae') {
        const { rec, kl } = vqTerms(model as VQVAE, x);
        for (let i = 0; i < m; i++) {
          out.rec[s + i] = rec[i];
          out.kl[s + i] = kl[i];
          out.negElbo[s + i] = out.nll[s + i] = rec[i] + kl[i];
        }
      } else if (marginal) {
        const negElboY = new Float64Array(m * K);
        const recY = new Float64Array(m * K);
        const klY = new Float64Array(m * K);
        for (let c = 0; c < K; c++) {
          const yc = new Int32Array(m).fill(c);
          const yt = tf.tensor1d(yc, 'int32');
          const t = elboTerms(model, x, rng, yt);
          yt.dispose();
          const nl = nllOf(xs, m, yc);
          for (let i = 0; i < m; i++) {
            negElboY[i * K + c] = t.negElbo[i];
            recY[i * K + c] = t.rec[i];
            klY[i * K + c] = t.kl[i];
            out.labelNll![(s + i) * K + c] = nl[i];
          }
        }
        for (let i = 0; i < m; i++) {
          const r = (s + i) * K;
          const negNll = Float64Array.from({ length: K }, (_, c) => -out.labelNll![r + c]);
          out.nll[s + i] = -(logSumExp(negNll, 0, K, 1) - Math.log(K));
          const negE = Float64Array.from({ length: K }, (_, c) => -negElboY[i * K + c]);
          out.negElbo[s + i] = -(logSumExp(negE, 0, K, 1) - Math.log(K));
          let best = 0;
          for (let c = 1; c < K; c++) if (negNll[c] > negNll[best]) best = c;
          out.label![s + i] = best;
          out.rec[s + i] = recY[i * K + best];
          out.kl[s + i] = klY[i * K + best];
        }
      } else {
        const ys = rows.y && K ? rows.y.subarray(s, s + m) : undefined;
        const yt = ys ? tf.tensor1d(ys, 'int32') : undefined;
        const t = elboTerms(model, x, rng, yt);
        yt?.dispose();
        const nl = nllOf(xs, m, ys);
        for (let i = 0; i < m; i++) {
          out.negElbo[s + i] = t.negElbo[i];
          out.rec[s + i] = t.rec[i];
          out.kl[s + i] = t.kl[i];
          out.nll[s + i] = nl[i];
        }
        if (opts.regret) {
          const r = likelihoodRegret(model, x, { ...opts.regret, rng, y: ys });
          out.regret!.set(r.regret, s);
        }
        if (kind === 'hvae') {
          const below = priorBelowNegElbo(model as HVAE, x, rng, llrLayers, opts.llrBottom ?? 'mean');
          for (let i = 0; i < m; i++) {
            out.negElboPriorBelow![s + i] = below[i];
            out.llr![s + i] = below[i] - out.negElbo[s + i]; // L − L^{>k} = (−L^{>k}) − (−L)
          }
        }
      }
    } finally {
      x.dispose();
    }
  }

  const complexity = opts.complexity === undefined ? defaultComplexity(model) : opts.complexity;
  if (complexity) {
    const bits = await complexity(rows.x, n, shape);
    if (!bits || bits.length !== n)
      throw new Error(`the complexity coder returned ${bits?.length} lengths for ${n} rows`);
    out.complexityBits = Float64Array.from(bits);
    out.corrected = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      if (!Number.isFinite(bits[i]) || bits[i] < 0)
        throw new Error(`the complexity coder gave row ${i} a length of ${bits[i]} bits`);
      out.corrected[i] = out.nll[i] / Math.LN2 - bits[i];
    }
  }
  return out;
}

/** One row's scores, as scoreStream yields them. */
export interface RowScore {
  /** Position in the whole stream (0-based). */
  index: number;
  negElbo: number;
  rec: number;
  kl: number;
  nll: number;
  complexityBits?: number;
  corrected?: number;
  llr?: number;
  regret?: number;
  label?: number;
  /** With a threshold: whether the threshold's score is above it. */
  flagged?: boolean;
  /** With reference scores: the share of them at or above this row's score (an empirical p-value). */
  pValue?: number;
}

export interface StreamOptions extends ScoreOptions {
  /** Flag rows whose `score` is above `value` (a calibration's threshold). */
  threshold?: { score: ScoreName; value: number };
  /** Held-out normal scores of `score`, sorted ascending, for pValue. */
  reference?: { score: ScoreName; sorted: ArrayLike<number> };
  /** Rows scored so far, after each batch. */
  onProgress?: (rows: number) => void;
}

/** The value of a named score in a row's result (an error when the model gave none). */
export function scoreOf(r: RowScore, name: ScoreName): number {
  const v = r[name];
  if (v === undefined)
    throw new Error(
      name === 'corrected'
        ? 'the corrected score needs a complexity coder'
        : name === 'regret'
          ? 'the regret score is computed only when asked for (regret settings)'
          : `the ${name} score applies to a hierarchical VAE only`,
    );
  return v;
}

/** Scores batches one at a time and yields each row's result in order (memory: one batch). */
export async function* scoreStream(
  model: LatentVariableModel,
  batches: Iterable<Rows> | AsyncIterable<Rows>,
  opts: StreamOptions,
): AsyncGenerator<RowScore> {
  let index = 0;
  for await (const rows of batches) {
    const b = await scoreBatch(model, rows, opts);
    for (let i = 0; i < b.n; i++) {
      const r: RowScore = { index: index + i, negElbo: b.negElbo[i], rec: b.rec[i], kl: b.kl[i], nll: b.nll[i] };
      if (b.complexityBits) r.complexityBits = b.complexityBits[i];
      if (b.corrected) r.corrected = b.corrected[i];
      if (b.llr) r.llr = b.llr[i];
      if (b.regret) r.regret = b.regret[i];
      if (b.label) r.label = b.label[i];
      if (opts.threshold) r.flagged = scoreOf(r, opts.threshold.score) > opts.threshold.value;
      if (opts.reference) r.pValue = upperTailFraction(opts.reference.sorted, scoreOf(r, opts.reference.score));
      yield r;
    }
    index += b.n;
    opts.onProgress?.(index);
  }
}

/** One named score of every row of a stream. */
export async function collectScores(rows: AsyncIterable<RowScore>, name: ScoreName): Promise<Float64Array> {
  const out: number[] = [];
  for await (const r of rows) out.push(scoreOf(r, name));
  return Float64Array.from(out);
}

/** The threshold at a false-positive rate on held-out normal scores of one kind (src/stats/threshold.ts). */
export function calibrate(
  normalScores: ArrayLike<number>,
  score: ScoreName,
  fpr: number,
  opts: { minFalsePositives?: number } = {},
): Calibration & { score: ScoreName } {
  return { score, ...thresholdAtFpr(normalScores, fpr, opts) };
}

export interface DetectionMetrics {
  auroc: number;
  /** Average precision (the AUPRC reported), outliers as the positive class. */
  auprc: number;
  auprcTrapezoid: number;
  fprAt95Tpr: number;
  nIn: number;
  nOut: number;
}

/** How well one score separates in-distribution rows (negatives) from outliers (positives). */
export function detectionMetrics(inScores: ArrayLike<number>, outScores: ArrayLike<number>): DetectionMetrics {
  return {
    auroc: auroc(outScores, inScores),
    auprc: averagePrecision(outScores, inScores),
    auprcTrapezoid: auprcTrapezoid(outScores, inScores),
    fprAt95Tpr: fprAtTpr(outScores, inScores, 0.95).fpr,
    nIn: inScores.length,
    nOut: outScores.length,
  };
}
