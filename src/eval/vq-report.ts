// The evaluation report of a VQ-VAE (`vaekit eval` on a vqvae model). Its posterior is a point mass on a
// grid of discrete codes, so the Gaussian-latent figures of src/eval/report.ts do not apply: there is no
// −ELBO to compare with the VAEs' (its decoder is trained without a KL term, under a uniform prior, and a
// Gaussian decoder's σ is fixed, not fitted), no importance-sampled NLL (q is not a proposal with support
// beyond k(x)) and no per-unit activity. In their place:
//   reconstruction   MSE / PSNR / SSIM (and BCE for binary data) of the decoder mean at the codes k(x)
//   codebook         perplexity exp(H(p)) and usage of the code frequencies p over the split
//   prior            −log p(k(x)) under the learned PixelCNN prior (nats per grid, bits per code), if trained
//   sample quality   as for the other models (classifier features), from codes drawn from the learned prior
import * as tf from '@tensorflow/tfjs-core';
import type { Split } from '../data/dataset.js';
import type { VQVAE } from '../models/vqvae.js';
import { evaluateVq } from '../objectives/vq.js';
import { Rng } from '../rng.js';
import type { Classifier } from './classifier.js';
import { evaluateReconstruction } from './reconstruction.js';
import { sampleQualityFigures, sampleRows, type SampleMode, type SampleQualityReport } from './report.js';
import { evaluateSampleQuality } from './sample-quality.js';

export const VQ_LIKELIHOOD_NOT_APPLICABLE =
  'not applicable to a VQ-VAE: its posterior is a point mass on discrete codes (no KL term was trained, and no importance-sampled NLL exists for it)';

export interface VqEvalOptions {
  seed: number;
  /** Examples of the split (default: all). */
  limit?: number;
  /** Whether the PixelCNN prior has been fitted (`vaekit train-prior`, or `--prior-epochs`): sample quality and the prior's NLL need it. */
  priorTrained: boolean;
  /** Samples for the sample-quality figures (0: skip). Default 10,000. */
  samples?: number;
  sampleMode?: SampleMode;
  classifier?: { classifier: Classifier; dir?: string; cached?: boolean };
  sampleQualitySkipped?: string;
  reference?: Split;
  log?: (msg: string) => void;
  backend?: string;
}

export interface VqEvalReport {
  model?: string;
  dataset?: string;
  protocol?: string;
  split?: string;
  kind: 'vqvae';
  n: number;
  backend: string;
  seed: number;
  likelihood: { skipped: string };
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
  codebook: {
    n: number;
    codebook_size: number;
    codes_per_example: number;
    grid: [number, number];
    perplexity: number;
    usage: number;
    used: number;
    /** Mean −log p(x | k(x)), nats per example (the decoder's, at the fixed σ of a Gaussian decoder). */
    rec: number;
    seconds: number;
  };
  prior: { nll: number; bits_per_code: number; uniform_nll: number } | { skipped: string };
  sample_quality: SampleQualityReport | { skipped: string };
  warnings: string[];
}

export const NO_TRAINED_PRIOR = 'this VQ-VAE has no trained prior; run vaekit train-prior';

/** Evaluates a VQ-VAE on (a slice of) a split. */
export function evaluateVqModel(model: VQVAE, split: Split, opts: VqEvalOptions): VqEvalReport {
  const log = opts.log ?? (() => {});
  const n = Math.min(split.n, opts.limit ?? Infinity);
  const warnings: string[] = [];
  log('reconstruction');
  const r = evaluateReconstruction(model, split, { limit: n });
  log('codebook usage');
  const t0 = performance.now();
  const v = evaluateVq(model, split, { limit: n });
  const report: VqEvalReport = {
    kind: 'vqvae',
    n,
    backend: opts.backend ?? tf.getBackend(),
    seed: opts.seed,
    likelihood: { skipped: VQ_LIKELIHOOD_NOT_APPLICABLE },
    reconstruction: {
      n: r.n,
      bce: r.bce,
      mse: r.mse,
      psnr: r.psnr,
      psnr_exact: r.psnrExact,
      ssim: r.ssim,
      data_range: r.dataRange,
      seconds: r.seconds,
    },
    codebook: {
      n: v.n,
      codebook_size: model.K,
      codes_per_example: model.numCodes,
      grid: model.grid,
      perplexity: v.perplexity,
      usage: v.usage,
      used: Math.round(v.usage * model.K),
      rec: v.rec,
      seconds: (performance.now() - t0) / 1000,
    },
    prior: opts.priorTrained
      ? {
          nll: v.kl,
          bits_per_code: v.kl / (model.numCodes * Math.LN2),
          uniform_nll: model.numCodes * Math.log(model.K),
        }
      : {
          skipped: model.priorNet
            ? NO_TRAINED_PRIOR
            : 'this VQ-VAE has no prior network (config.prior is null); run vaekit train-prior',
        },
    sample_quality: { skipped: '' },
    warnings,
  };
  if (v.usage < 0.1)
    warnings.push(
      `only ${report.codebook.used} of ${model.K} codes are used (codebook collapse): try --ema or --restart-dead N`,
    );

  const nSamples = opts.samples ?? 10000;
  if (!opts.priorTrained) report.sample_quality = { skipped: NO_TRAINED_PRIOR };
  else if (nSamples <= 0) report.sample_quality = { skipped: opts.sampleQualitySkipped ?? 'turned off' };
  else if (!opts.classifier) {
    report.sample_quality = { skipped: opts.sampleQualitySkipped ?? 'no classifier for this data set' };
    warnings.push(`sample quality not evaluated: ${report.sample_quality.skipped}`);
  } else {
    const { classifier, dir, cached } = opts.classifier;
    const mode = opts.sampleMode ?? 'mean';
    const rng = new Rng(opts.seed + 2);
    const genRng = rng.fork();
    log(`sample quality (${nSamples} samples from the prior)`);
    const sq = evaluateSampleQuality({
      classifier,
      real: split,
      generate: (m) => sampleRows(model, m, genRng, mode),
      n: nSamples,
      rng,
      reference: opts.reference,
    });
    report.sample_quality = {
      classifier: { dir, cached, arch: classifier.meta.spec.arch, test_accuracy: classifier.meta.testAccuracy },
      samples: mode,
      ...sampleQualityFigures(sq),
    };
    if (sq.diversity.classCoverage < 1)
      warnings.push(
        `samples cover only ${Math.round(sq.diversity.classCoverage * classifier.spec.numClasses)} of ${classifier.spec.numClasses} classes (mode dropping)`,
      );
  }
  return report;
}

const fx = (v: number | undefined, d = 3) => (v === undefined || v === null || Number.isNaN(v) ? '—' : v.toFixed(d));

/** A readable table of a VQ-VAE's report, for the terminal. */
export function formatVqEvalReport(r: VqEvalReport): string {
  const L: string[] = [];
  const row = (k: string, v: string) => L.push(`  ${k.padEnd(26)}${v}`);
  L.push(
    `vaekit eval${r.model ? ` ${r.model}` : ''}: ${r.dataset ?? 'data'} ${r.split ?? ''} (${r.n} examples${r.protocol ? `, ${r.protocol}` : ''}; VQ-VAE; backend ${r.backend}, seed ${r.seed})`,
  );
  L.push('', 'Likelihood (−ELBO, NLL, bits per dimension)');
  L.push(`  ${r.likelihood.skipped}`);
  const rc = r.reconstruction;
  L.push('', `Reconstruction (decoder mean at the codes k(x), ${rc.n} examples)`);
  if (rc.bce !== undefined) row('BCE (nats per example)', fx(rc.bce, 2));
  row('MSE (per value)', fx(rc.mse, 5));
  if (rc.psnr !== undefined) row('PSNR (dB)', fx(rc.psnr, 2));
  if (rc.ssim !== undefined) row('SSIM', fx(rc.ssim, 4));
  const c = r.codebook;
  L.push(
    '',
    `Codebook (K = ${c.codebook_size}, ${c.codes_per_example} codes per example on a ${c.grid.join('×')} grid)`,
  );
  row('perplexity', `${fx(c.perplexity, 2)}   (of ${c.codebook_size}: the effective number of codes)`);
  row('usage', `${c.used} / ${c.codebook_size} codes   (${(100 * c.usage).toFixed(1)}%)`);
  L.push('', 'Learned prior (PixelCNN over the code grid)');
  if ('skipped' in r.prior) L.push(`  ${r.prior.skipped}`);
  else {
    row('−log p(k(x)) (nats)', `${fx(r.prior.nll, 2)}   (uniform: ${fx(r.prior.uniform_nll, 2)})`);
    row('bits per code', fx(r.prior.bits_per_code, 3));
  }
  const sq = r.sample_quality;
  if ('skipped' in sq) L.push('', `Sample quality: skipped (${sq.skipped})`);
  else {
    L.push(
      '',
      `Sample quality (${sq.n_samples} samples from the prior vs ${sq.n_real} real; classifier features, ${sq.feature_dim} dims)`,
    );
    row(
      'classifier',
      `${sq.classifier.arch}, test accuracy ${sq.classifier.test_accuracy === undefined ? '—' : `${(100 * sq.classifier.test_accuracy).toFixed(1)}%`}${sq.classifier.cached ? ' (cached)' : ''}`,
    );
    row(
      'Fréchet distance',
      `${fx(sq.frechet_distance)}${sq.frechet_distance_reference !== undefined ? `   (real train vs test: ${fx(sq.frechet_distance_reference)})` : ''}`,
    );
    row(`precision / recall (k=${sq.k})`, `${fx(sq.precision)} / ${fx(sq.recall)}`);
    row(
      'mean pairwise distance',
      `${fx(sq.diversity.mean_pairwise_distance)}   (real: ${fx(sq.diversity.real_mean_pairwise_distance)})`,
    );
    row(
      'class coverage',
      `${Math.round(sq.diversity.class_coverage * sq.diversity.class_histogram.length)} / ${sq.diversity.class_histogram.length}`,
    );
  }
  if (r.warnings.length) {
    L.push('', 'Warnings');
    for (const w of r.warnings) L.push(`  ! ${w}`);
  }
  return L.join('\n');
}
