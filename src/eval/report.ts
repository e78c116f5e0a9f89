// The evaluation report of a trained model: likelihood (−ELBO, importance-sampled NLL, bits/dim),
// reconstruction (BCE/MSE, PSNR, SSIM), latent health (active units, KL per unit, collapse warning)
// and sample quality (Fréchet distance, precision/recall, diversity, conditional accuracy) in one
// plain-JSON object, plus a readable table for the terminal.
import * as tf from '@tensorflow/tfjs-core';
import { writeFileAtomic } from '../util/atomic.js';
import type { Split } from '../data/dataset.js';
import type { LatentVariableModel } from '../models/types.js';
import { Rng } from '../rng.js';
import type { Classifier } from './classifier.js';
import { latentHealth } from './latent.js';
import { evaluateElbo, importanceSampledNll } from './likelihood.js';
import { evaluateReconstruction } from './reconstruction.js';
import { evaluateSampleQuality, type ConditionalGenerator, type SampleQualityResult } from './sample-quality.js';

/** How samples for the sample-quality figures are drawn: the decoder mean at z ~ p(z), or x ~ p(x|z). */
export type SampleMode = 'mean' | 'sample';

export interface EvalOptions {
  seed: number;
  /** Examples of the split for −ELBO, reconstruction and latent figures (default: all). */
  limit?: number;
  /** Importance samples for the NLL (0: skip). */
  k: number;
  /** Examples for the NLL (default: `limit`). */
  nllLimit?: number;
  /** Samples (and real images) for the sample-quality figures (0: skip). Default 10,000. */
  samples?: number;
  sampleMode?: SampleMode;
  /** Needed for the sample-quality figures; with its cache directory and whether it was cached. */
  classifier?: { classifier: Classifier; dir?: string; cached?: boolean };
  /** Why sample quality is not evaluated (reported instead of the figures). */
  sampleQualitySkipped?: string;
  /** The training split: Fréchet distance of real test vs real training images as a floor. */
  reference?: Split;
  /** Overrides the conditional generator (default: the model's own when its kind is conditional). */
  conditional?: ConditionalGenerator;
  log?: (msg: string) => void;
  /** Progress of the long steps: step 'nll' with examples done of total. The CLI turns it into a bar or lines. */
  onProgress?: (step: 'nll', done: number, total: number) => void;
  /** The backend's name for the report (default: tfjs's current backend). */
  backend?: string;
  /** The split's pixel protocol: with 'binary' the real images are binarized, and the classifier's accuracy on binarized images is the one that counts. */
  protocol?: string;
}

export interface EvalReport {
  model?: string;
  dataset?: string;
  protocol?: string;
  split?: string;
  n: number;
  backend: string;
  seed: number;
  // Likelihood (flat, as `vaekit eval` has always written them)
  elbo: number;
  rec: number;
  kl: number;
  elbo_seconds: number;
  k?: number;
  nll?: number;
  nll_stderr?: number;
  bits_per_dim?: number;
  nll_n?: number;
  nll_seconds?: number;
  reconstruction: {
    n: number;
    bce?: number;
    mse: number;
    psnr?: number;
    psnr_exact?: number;
    ssim?: number;
    data_range: number;
    seconds: number;
  };
  latent: {
    n: number;
    latent_dim: number;
    active_units: number;
    threshold: number;
    active: number[];
    activity: number[];
    kl_per_dim: number[];
    kl_total: number;
    status: string;
    seconds: number;
  };
  sample_quality: SampleQualityReport | { skipped: string };
  warnings: string[];
}

/** The sample-quality figures of an evaluation report (vaekit eval; the VQ-VAE's report too). */
export interface SampleQualityReport {
  classifier: {
    dir?: string;
    cached?: boolean;
    arch: string;
    /** On the test split (images: grayscale). */
    test_accuracy?: number;
    /** Images: on the same test images binarized (x > 0.5), as the binary protocol's real images are. */
    test_accuracy_binarized?: number;
    test_n?: number;
    train_seconds?: number;
    epochs?: number;
  };
  samples: SampleMode;
  n_real: number;
  n_samples: number;
  feature_dim: number;
  frechet_distance: number;
  frechet_distance_reference?: number;
  precision: number;
  recall: number;
  k: number;
  diversity: {
    mean_pairwise_distance: number;
    real_mean_pairwise_distance: number;
    class_coverage: number;
    class_entropy: number;
    class_entropy_normalized: number;
    class_histogram: number[];
    real_class_entropy: number;
  };
  conditional?: { accuracy: number; per_class: number[]; per_class_n: number };
  seconds: number;
}

/** True for conditional models (p(x|z, y), e.g. kind 'cvae'): they have numClasses and take labels y. */
export function isConditional(model: LatentVariableModel): boolean {
  return model.numClasses !== undefined;
}

/**
 * n samples: z ~ p(z[|y]), then the decoder mean (or x ~ p(x|z)). `label`: one label for all, or one
 * per sample; a conditional model given none gets the labels 0, 1, …, C−1, 0, 1, … (balanced classes).
 */
export function sampleRows(
  model: LatentVariableModel,
  n: number,
  rng: Rng,
  mode: SampleMode = 'mean',
  label?: number | Int32Array,
): Float32Array {
  if (label === undefined && model.numClasses !== undefined)
    label = Int32Array.from({ length: n }, (_, i) => i % model.numClasses!);
  return tf.tidy(() => {
    const y =
      label === undefined
        ? undefined
        : typeof label === 'number'
          ? (tf.fill([n], label, 'int32') as tf.Tensor1D)
          : tf.tensor1d(label, 'int32');
    const z = model.prior(n, y).sample(rng) as tf.Tensor2D;
    const px = model.decode(z, y);
    return (mode === 'sample' ? px.sample(rng) : px.mean()).dataSync() as Float32Array;
  });
}

/** The default sample mode: the decoder mean (what `vaekit sample` writes). */
export function defaultSampleMode(): SampleMode {
  return 'mean';
}

/** Evaluates everything on (a slice of) a split. Deterministic for a given seed and backend. */
export function evaluateModel(model: LatentVariableModel, split: Split, opts: EvalOptions): EvalReport {
  const log = opts.log ?? (() => {});
  const n = Math.min(split.n, opts.limit ?? Infinity);
  const warnings: string[] = [];

  log('−ELBO');
  const t0 = performance.now();
  const e = evaluateElbo(model, split, { rng: new Rng(opts.seed), limit: n });
  const elboSeconds = (performance.now() - t0) / 1000;
  const report: Partial<EvalReport> = {
    n,
    backend: opts.backend ?? tf.getBackend(),
    seed: opts.seed,
    elbo: e.total,
    rec: e.rec,
    kl: e.kl,
    elbo_seconds: elboSeconds,
  };
  if (opts.k > 0) {
    log(`importance-sampled NLL (k = ${opts.k})`);
    const nll = importanceSampledNll(model, split, {
      k: opts.k,
      rng: new Rng(opts.seed + 1),
      limit: Math.min(n, opts.nllLimit ?? Infinity),
      onProgress: opts.onProgress && ((done, total) => opts.onProgress!('nll', done, total)),
    });
    Object.assign(report, {
      k: opts.k,
      nll: nll.nll,
      nll_stderr: nll.stderr,
      bits_per_dim: nll.bitsPerDim,
      nll_n: nll.n,
      nll_seconds: nll.seconds,
    });
  }

  log('reconstruction');
  const r = evaluateReconstruction(model, split, { limit: n });
  report.reconstruction = {
    n: r.n,
    bce: r.bce,
    mse: r.mse,
    psnr: r.psnr,
    psnr_exact: r.psnrExact,
    ssim: r.ssim,
    data_range: r.dataRange,
    seconds: r.seconds,
  };

  log('latent units');
  const lh = latentHealth(model, split, { limit: n });
  report.latent = {
    n: lh.n,
    latent_dim: lh.latentDim,
    active_units: lh.activeUnits,
    threshold: lh.threshold,
    active: lh.active,
    activity: lh.activity,
    kl_per_dim: lh.klPerDim,
    kl_total: lh.klTotal,
    status: lh.status,
    seconds: lh.seconds,
  };
  warnings.push(...lh.warnings);

  const nSamples = opts.samples ?? 10000;
  if (nSamples <= 0) report.sample_quality = { skipped: opts.sampleQualitySkipped ?? 'turned off' };
  else if (!opts.classifier) {
    report.sample_quality = { skipped: opts.sampleQualitySkipped ?? 'no classifier for this data set' };
    warnings.push(`sample quality not evaluated: ${report.sample_quality.skipped}`);
  } else {
    const { classifier, dir, cached } = opts.classifier;
    const mode = opts.sampleMode ?? defaultSampleMode();
    const rng = new Rng(opts.seed + 2);
    const genRng = rng.fork();
    const conditional =
      opts.conditional ??
      (isConditional(model) ? (m: number, label: number) => sampleRows(model, m, genRng, mode, label) : undefined);
    log(`sample quality (${nSamples} samples)`);
    const sq = evaluateSampleQuality({
      classifier,
      real: split,
      generate: (m) => sampleRows(model, m, genRng, mode),
      n: nSamples,
      rng,
      reference: opts.reference,
      conditional,
    });
    const meta = classifier.meta;
    report.sample_quality = {
      classifier: {
        dir,
        cached,
        arch: meta.spec.arch,
        test_accuracy: meta.testAccuracy,
        test_accuracy_binarized: meta.testAccuracyBinarized,
        test_n: meta.testN,
        train_seconds: meta.training?.seconds,
        epochs: meta.training?.epochs,
      },
      samples: mode,
      ...sampleQualityFigures(sq),
      conditional: sq.conditional
        ? {
            accuracy: sq.conditional.accuracy,
            per_class: sq.conditional.perClass,
            per_class_n: sq.conditional.perClassN,
          }
        : undefined,
    };
    const binary = opts.protocol === 'binary' && meta.testAccuracyBinarized !== undefined;
    const acc = binary ? meta.testAccuracyBinarized : meta.testAccuracy;
    if (acc !== undefined && acc < 0.8)
      warnings.push(
        `the evaluation classifier's test accuracy${binary ? ' on binarized images' : ''} is only ${(100 * acc).toFixed(1)}%: its feature space is weak, read the sample-quality figures with care`,
      );
    if (sq.diversity.classCoverage < 1)
      warnings.push(
        `samples cover only ${Math.round(sq.diversity.classCoverage * classifier.spec.numClasses)} of ${classifier.spec.numClasses} classes (mode dropping)`,
      );
  }
  report.warnings = warnings;
  return report as EvalReport;
}

// ---------------------------------------------------------------------------------------------------
// Text

/** The figures of a sample-quality evaluation as the JSON reports (this one and a VQ-VAE's) write them. */
export function sampleQualityFigures(sq: SampleQualityResult) {
  return {
    n_real: sq.nReal,
    n_samples: sq.nSamples,
    feature_dim: sq.featureDim,
    frechet_distance: sq.frechetDistance,
    frechet_distance_reference: sq.frechetDistanceReference,
    precision: sq.precision,
    recall: sq.recall,
    k: sq.k,
    diversity: {
      mean_pairwise_distance: sq.diversity.meanPairwiseDistance,
      real_mean_pairwise_distance: sq.diversity.realMeanPairwiseDistance,
      class_coverage: sq.diversity.classCoverage,
      class_entropy: sq.diversity.classEntropy,
      class_entropy_normalized: sq.diversity.classEntropyNormalized,
      class_histogram: sq.diversity.classHistogram,
      real_class_entropy: sq.diversity.realClassEntropy,
    },
    seconds: sq.seconds,
  };
}

const fx = (v: number | undefined, d = 3) => (v === undefined || v === null || Number.isNaN(v) ? '—' : v.toFixed(d));
const pct = (v: number | undefined) => (v === undefined ? '—' : `${(100 * v).toFixed(1)}%`);

/** A readable table of the report, for the terminal. */
export function formatEvalReport(r: EvalReport): string {
  const L: string[] = [];
  const row = (k: string, v: string) => L.push(`  ${k.padEnd(26)}${v}`);
  L.push(
    `vaekit eval${r.model ? ` ${r.model}` : ''}: ${r.dataset ?? 'data'} ${r.split ?? ''} (${r.n} examples${r.protocol ? `, ${r.protocol}` : ''}; backend ${r.backend}, seed ${r.seed})`,
  );
  L.push('', 'Likelihood (nats per example)');
  row('−ELBO', `${fx(r.elbo)}   (reconstruction ${fx(r.rec)}, KL ${fx(r.kl)})`);
  if (r.nll !== undefined) {
    row(`NLL (k=${r.k}, n=${r.nll_n})`, `${fx(r.nll)} ± ${fx(r.nll_stderr)}`);
    row('bits per dimension', fx(r.bits_per_dim, 4));
  }
  const rc = r.reconstruction;
  L.push('', `Reconstruction (decoder mean at z = μ(x), ${rc.n} examples)`);
  if (rc.bce !== undefined) row('BCE (nats per example)', fx(rc.bce, 2));
  row('MSE (per value)', fx(rc.mse, 5));
  if (rc.psnr !== undefined)
    row('PSNR (dB)', `${fx(rc.psnr, 2)}${rc.psnr_exact ? `   (${rc.psnr_exact} exact, counted as 100 dB)` : ''}`);
  if (rc.ssim !== undefined) row('SSIM', fx(rc.ssim, 4));
  const lt = r.latent;
  L.push('', `Latent units (${lt.latent_dim}; active when Var_x E[z_i|x] > ${lt.threshold})`);
  row('active units', `${lt.active_units} / ${lt.latent_dim}   (${lt.status})`);
  row('KL total (nats)', fx(lt.kl_total, 3));
  const order = lt.kl_per_dim.map((_, i) => i);
  const shown =
    lt.latent_dim <= 32 ? order : [...order].sort((a, b) => lt.kl_per_dim[b] - lt.kl_per_dim[a]).slice(0, 16);
  L.push(`  ${'unit'.padEnd(8)}${'Var E[z|x]'.padStart(12)}${'KL (nats)'.padStart(12)}`);
  for (const i of shown)
    L.push(
      `  ${`z${i}`.padEnd(8)}${fx(lt.activity[i], 4).padStart(12)}${fx(lt.kl_per_dim[i], 4).padStart(12)}${lt.active.includes(i) ? '   active' : ''}`,
    );
  if (shown.length < lt.latent_dim) L.push(`  … ${lt.latent_dim - shown.length} more units (all in the JSON report)`);
  const sq = r.sample_quality;
  if ('skipped' in sq) L.push('', `Sample quality: skipped (${sq.skipped})`);
  else {
    const c = sq.classifier;
    L.push(
      '',
      `Sample quality (${sq.n_samples} samples (${sq.samples === 'mean' ? 'decoder means' : 'x ~ p(x|z)'}) vs ${sq.n_real} real; classifier features, ${sq.feature_dim} dims)`,
    );
    const acc =
      c.test_accuracy_binarized !== undefined
        ? `${pct(c.test_accuracy)} grayscale, ${pct(c.test_accuracy_binarized)} binarized`
        : pct(c.test_accuracy);
    row(
      'classifier',
      `${c.arch}, test accuracy ${acc}${c.cached ? ' (cached)' : c.train_seconds !== undefined ? ` (trained in ${c.train_seconds.toFixed(0)} s)` : ''}`,
    );
    row(
      'Fréchet distance',
      `${fx(sq.frechet_distance, 3)}${sq.frechet_distance_reference !== undefined ? `   (real train vs test: ${fx(sq.frechet_distance_reference, 3)})` : ''}`,
    );
    row(`precision / recall (k=${sq.k})`, `${fx(sq.precision)} / ${fx(sq.recall)}`);
    const d = sq.diversity;
    row(
      'mean pairwise distance',
      `${fx(d.mean_pairwise_distance, 3)}   (real: ${fx(d.real_mean_pairwise_distance, 3)})`,
    );
    row('class coverage', `${Math.round(d.class_coverage * d.class_histogram.length)} / ${d.class_histogram.length}`);
    row(
      'class entropy (nats)',
      `${fx(d.class_entropy)}   (${pct(d.class_entropy_normalized)} of ln C; real: ${fx(d.real_class_entropy)})`,
    );
    row('predicted classes', d.class_histogram.join(' '));
    if (sq.conditional)
      row('conditional accuracy', `${pct(sq.conditional.accuracy)}   (${sq.conditional.per_class_n} per label)`);
  }
  if (r.warnings.length) {
    L.push('', 'Warnings');
    for (const w of r.warnings) L.push(`  ! ${w}`);
  }
  return L.join('\n');
}

/** The report as pretty JSON, written atomically. */
export async function writeEvalReport(file: string, r: EvalReport): Promise<void> {
  await writeFileAtomic(file, JSON.stringify(r, null, 2) + '\n');
}
