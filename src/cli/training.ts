// The runs of `vaekit train`: a model with a continuous latent (the ELBO, IWAE or score-function objective)
// or a VQ-VAE (its own objective, then optionally its PixelCNN prior). Both save the model, write samples and
// reconstructions with the writer of the data kind, a run report, and print the summary. No math here.
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type { BackendInfo } from '../backend/index.js';
import type { Dataset, Split } from '../data/dataset.js';
import { evaluateElbo, importanceSampledNll } from '../eval/likelihood.js';
import { readModelMeta, saveModel } from '../io/model.js';
import { writeRunReport } from '../io/report.js';
import { reportEpoch } from '../io/run-epoch.js';
import { writeRunHtml } from '../io/run-html.js';
import type { ContinuousModelConfig, LatentVariableModel, ModelConfig, VqvaeConfig } from '../models/index.js';
import { createModel } from '../models/index.js';
import { VQVAE } from '../models/vqvae.js';
import { elboObjective } from '../objectives/elbo.js';
import { iwae } from '../objectives/iwae.js';
import { scoreFunctionObjective } from '../objectives/score-function.js';
import { describeObjective, objectiveConfig, type ObjectiveConfig } from '../objectives/config.js';
import { evaluateVq, vqTrainingObjective } from '../objectives/vq.js';
import { Rng } from '../rng.js';
import { generate, reconstruct } from '../tasks/generate.js';
import { reconstructWords, sampleWords } from '../tasks/words.js';
import { trainPrior } from '../train/fit-prior.js';
import { train, type Objective, type TrainResult } from '../train/trainer.js';
import { classRows, log, out } from './common.js';
import { dataInfo, range, rowsAt } from './data.js';
import { VQ_CLI_DEFAULTS } from './model-kinds.js';
import { outputKind, rowsWriter, writeLines } from './outputs.js';
import { stepProgress, type StepProgressMode } from './step-progress.js';
import { trainerOptionsFromFlags } from './run-flags.js';

/** What `vaekit train` hands the run of a model kind. */
export interface TrainRun {
  f: Record<string, any>;
  data: Dataset;
  info: BackendInfo;
  /** The run's flags, kept in the checkpoint for --resume. */
  flags: Record<string, unknown>;
  /** Whether a flag with a default was given on the command line. */
  given: (name: string) => boolean;
  describe: (config: ModelConfig, model: LatentVariableModel) => string;
}

function announce(r: TrainRun, config: ModelConfig, model: LatentVariableModel, extra = ''): void {
  const { data, info } = r;
  log(
    `vaekit: ${data.name} (${data.protocol}, ${data.train.n} train / ${data.test.n} test, ${data.shape.join('×')}), ` +
      `${r.describe(config, model)}${extra}; backend ${info.backend} (${info.detail})`,
  );
}

/** The tail of every run: the report and the summary (text: `done: …` and the held-out figures). */
async function finish(
  r: TrainRun,
  config: ModelConfig,
  result: TrainResult,
  final: Record<string, number>,
  artefacts: Record<string, string>,
  o: { objective?: ObjectiveConfig; extra?: Record<string, unknown>; done?: string; figures: string },
): Promise<void> {
  const report = await writeRunReport(r.f.out, {
    config,
    objective: o.objective,
    data: dataInfo(r.data),
    backend: r.info,
    metrics: result.metrics,
    final,
    artefacts,
    command: `vaekit ${process.argv.slice(2).join(' ')}`,
  });
  const html = await writeRunHtml(r.f.out); // the live report, finished
  const modelDir = path.join(r.f.out, 'model');
  out(
    !!r.f.json,
    {
      out: r.f.out,
      model: modelDir,
      final,
      epochs: result.state.epoch,
      steps: result.state.step,
      ...o.extra,
      report,
      html,
    },
    `done: ${result.state.epoch} epochs, ${result.state.step} steps${o.done ?? ''}; model in ${modelDir}; report ${report} and ${html}` +
      o.figures,
  );
}

/** The objective of the flags (--objective, --estimator, --samples, --k, --free-bits), refusing combinations that do not exist. */
function objectiveOf(f: Record<string, any>, config: ContinuousModelConfig): Objective {
  if (f.estimator === 'score' && f.objective === 'iwae')
    throw new Error('--estimator score trains the ELBO; it does not combine with --objective iwae');
  if (f.freeBits > 0) {
    if (f.estimator === 'score')
      throw new Error('--free-bits does not combine with --estimator score: free bits needs the reparameterized ELBO');
    if (f.objective === 'iwae')
      throw new Error(
        '--free-bits does not combine with --objective iwae: the IWAE bound has no separate KL term to clamp',
      );
    if (config.kind === 'hvae')
      throw new Error(
        '--free-bits does not apply to --model hvae: its KL is a per-layer sample estimate, not an analytic KL per latent unit',
      );
  }
  return f.estimator === 'score'
    ? scoreFunctionObjective({ samples: f.samples, baseline: f.baseline })
    : f.objective === 'iwae'
      ? (m, x, c) => iwae(m, x, { k: f.k, rng: c.rng, y: c.y }) // --free-bits with iwae is refused above
      : elboObjective(f.samples);
}

/** The objective settings of the flags (--beta, --kl-warmup, --free-bits, --word-dropout), checked. */
function objectiveSettings(f: Record<string, any>): ObjectiveConfig {
  return objectiveConfig(
    { beta: f.beta, klWarmup: f.klWarmup, freeBits: f.freeBits, wordDropout: f.wordDropout },
    'vaekit train',
  );
}

/** Samples and reconstructions of a trained model with a continuous latent, by the writer of its data kind. */
async function continuousArtefacts(model: LatentVariableModel, data: Dataset, dir: string, seed: number) {
  const artefacts: Record<string, string> = {};
  const kind = outputKind(model);
  if (kind === 'words') {
    const words = (data as unknown as { words: { test: string[] } }).words.test.slice(0, 32);
    const rec = reconstructWords(model as never, words);
    artefacts.samples = path.join(dir, 'samples.txt');
    await writeLines(artefacts.samples, sampleWords(model as never, 64, new Rng(seed + 1)));
    artefacts.reconstructions = path.join(dir, 'reconstructions.txt');
    await writeLines(
      artefacts.reconstructions,
      words.map((w, i) => `${w}\t${rec[i]}`),
    );
    return artefacts;
  }
  const w = rowsWriter(kind, data.shape, data.normalizer);
  const K = model.numClasses; // a conditional model: one row of samples per class, reconstructions given the labels
  const nShow = K ? 8 * K : 64;
  const gen = generate(model, nShow, new Rng(seed + 1), { y: K ? classRows(K, 8) : undefined });
  const s = await w.rows(w.fileIn(dir, 'samples'), gen, nShow, {
    cols: 8,
    title: 'samples: greedy decode at z ~ N(0, I)',
  });
  const nRec = Math.min(32, data.test.n);
  const orig = rowsAt(data.test, range(0, nRec));
  const rec = reconstruct(model, orig, nRec, K ? data.test.y?.subarray(0, nRec) : undefined);
  const p = await w.pairs(w.fileIn(dir, 'reconstructions'), orig, rec, nRec, 'test series and their reconstructions');
  artefacts.samples = s.file;
  artefacts.reconstructions = p.file;
  if (s.plot) artefacts.samples_plot = s.plot; // numeric series: line plots beside the CSV tables
  if (p.plot) artefacts.reconstructions_plot = p.plot;
  return artefacts;
}

/** `vaekit train` of a vae, cvae, hvae or seqvae. */
export async function trainContinuous(config: ContinuousModelConfig, r: TrainRun): Promise<void> {
  const { f, data, info } = r;
  const objective = objectiveOf(f, config);
  const settings = objectiveSettings(f);
  const model = createModel(config, new Rng(f.seed).fork());
  const di = dataInfo(data);
  announce(r, config, model, `, ${describeObjective(settings)}`);
  const evalTest = f.eval !== false;
  try {
    const result = await train(model, data, objective, {
      ...trainerOptionsFromFlags(f, di),
      onEpoch: (m, trained) => reportEpoch(f.out, trained, data.test, m.epoch, { seed: f.seed + 1 }).then(() => {}), // RUN/index.html
      beta: settings.beta,
      klWarmup: settings.klWarmup,
      freeBits: r.given('freeBits') ? settings.freeBits : undefined, // not given: the trainer keeps the checkpoint's λ, and says so
      wordDropout: settings.wordDropout,
      run: { objective: f.objective, samples: f.samples, backend: info.backend, flags: r.flags },
      // the true test −ELBO (rec + KL, β = 1) whatever β the training loss weights the KL with
      evaluate: evalTest
        ? (m, epoch) => evaluateElbo(m, data.test, { rng: new Rng(f.seed + 7919 * epoch), beta: 1 })
        : undefined,
    });
    await saveModel(path.join(f.out, 'model'), model, di, result.training);
    const artefacts = await continuousArtefacts(model, data, f.out, f.seed);
    const final: Record<string, number> = {};
    if (evalTest) Object.assign(final, evaluateElbo(model, data.test, { rng: new Rng(f.seed + 2), beta: 1 }));
    if (f.reportK > 0) {
      const bar = stepProgress(`test NLL (k = ${f.reportK})`, {
        mode: f.progress as StepProgressMode,
        unit: 'examples',
      });
      const nll = importanceSampledNll(model, data.test, {
        k: f.reportK,
        rng: new Rng(f.seed + 3),
        onProgress: (done, n) => bar.update(done, n),
      });
      bar.finish();
      Object.assign(final, { nll: nll.nll, nll_stderr: nll.stderr, nll_k: f.reportK, bits_per_dim: nll.bitsPerDim });
    }
    const klParts = Object.keys(final).filter((k) => /^kl\d+$/.test(k));
    await finish(r, config, result, final, artefacts, {
      objective: result.training.objective,
      figures:
        (final.total !== undefined
          ? `\ntest −ELBO ${final.total.toFixed(2)} nats (rec ${final.rec.toFixed(2)}, KL ${final.kl.toFixed(2)}` +
            (final.kl1 !== undefined ? ` = ${klParts.map((k) => `${k} ${final[k].toFixed(2)}`).join(' + ')}` : '') +
            ')'
          : '') +
        (final.nll !== undefined
          ? `; NLL (k=${f.reportK}) ${final.nll.toFixed(2)} ± ${final.nll_stderr.toFixed(2)}`
          : ''),
    });
  } finally {
    model.dispose();
  }
}

/** Final held-out figures (test split): MSE, PSNR, codebook perplexity/usage, and the prior's −log p(k) when fitted. */
export function finalVqFigures(model: VQVAE, split: Split, priorFitted: boolean): Record<string, number> {
  const v = evaluateVq(model, split, { withPrior: priorFitted });
  const figures: Record<string, number> = {
    rec: v.rec,
    mse: v.mse,
    psnr: v.psnr,
    perplexity: v.perplexity,
    usage: v.usage,
    codes_used: Math.round(v.usage * model.K),
  };
  if (priorFitted) Object.assign(figures, { prior_nll: v.kl, prior_bits_per_code: v.kl / (model.numCodes * Math.LN2) });
  return figures;
}

export interface FitPriorOptions {
  epochs: number;
  batchSize: number;
  seed: number;
  lr: number;
  progress?: string;
}

/** Fits a VQ-VAE's prior (the encoder fixed) and returns what config.json records of it under training.prior. */
export async function fitPrior(model: VQVAE, data: Dataset, o: FitPriorOptions): Promise<Record<string, unknown>> {
  log(
    `vaekit: fitting the PixelCNN prior (${model.config.prior!.channels} channels, ${model.config.prior!.layers} layers) to the ${model.grid.join('×')} code grids of ${data.train.n} training images, ${o.epochs} epochs`,
  );
  const { metrics, seconds } = await trainPrior(model, data, {
    epochs: o.epochs,
    batchSize: o.batchSize,
    seed: o.seed,
    optimizer: { kind: 'adam', lr: o.lr },
    progress: o.progress as never,
    log,
  });
  const last = metrics[metrics.length - 1] ?? {};
  return {
    epochs: metrics.length,
    batchSize: o.batchSize,
    lr: o.lr,
    seed: o.seed,
    seconds,
    train_examples: data.train.n,
    loss: last.loss,
    bits_per_code: last.bits_per_code,
    test_loss: last.test_loss,
    test_bits_per_code: last.test_bits_per_code,
    history: metrics,
  };
}

/** `vaekit train --model vqvae`: the shared trainer with the VQ objective, then (--prior-epochs) its prior. */
export async function trainVq(config: VqvaeConfig, r: TrainRun): Promise<void> {
  const { f, data, info } = r;
  const model = new VQVAE(config, new Rng(f.seed).fork());
  const di = dataInfo(data);
  announce(r, config, model);
  try {
    const evalTest = f.eval !== false;
    const result = await train(model, data, vqTrainingObjective, {
      ...trainerOptionsFromFlags(f, di),
      onEpoch: (m, trained) => reportEpoch(f.out, trained, data.test, m.epoch, { seed: f.seed + 1 }).then(() => {}), // RUN/index.html
      beta: 1,
      run: { objective: 'vq', backend: info.backend, flags: r.flags },
      evaluate:
        evalTest && data.test.n > 0
          ? () => {
              // test figures per epoch (no prior yet): reconstruction, MSE/PSNR, codebook usage
              const v = evaluateVq(model, data.test, { withPrior: false });
              return { rec: v.rec, mse: v.mse, psnr: v.psnr, perplexity: v.perplexity, usage: v.usage };
            }
          : undefined,
    });
    const modelDir = path.join(f.out, 'model');
    await saveModel(modelDir, model, di, result.training);
    const priorEpochs: number = f.priorEpochs ?? VQ_CLI_DEFAULTS.priorEpochs;
    let prior: Record<string, unknown> | undefined;
    if (priorEpochs > 0) {
      prior = await fitPrior(model, data, {
        epochs: priorEpochs,
        batchSize: f.batchSize,
        seed: f.seed,
        lr: f.priorLr ?? VQ_CLI_DEFAULTS.priorLr,
        progress: f.progress,
      });
      const meta = await readModelMeta(modelDir);
      await saveModel(modelDir, model, di, { ...meta.training, prior });
    }
    const artefacts: Record<string, string> = {};
    const w = rowsWriter('grid', data.shape, data.normalizer);
    if (prior) {
      const n = 64;
      const rows = tf.tidy(
        () =>
          model
            .decode(model.prior(n).sampleIndices(new Rng(f.seed + 1)))
            .mean()
            .dataSync() as Float32Array,
      );
      artefacts.samples = (await w.rows(w.fileIn(f.out, 'samples'), rows, n, { cols: 8, title: 'samples' })).file;
    } else
      log(
        `vaekit: no samples.png: the prior over the codes is not trained (--prior-epochs N, or vaekit train-prior ${modelDir})`,
      );
    const nRec = Math.min(32, data.test.n);
    if (nRec > 0) {
      const orig = rowsAt(data.test, range(0, nRec));
      const rec = reconstruct(model, orig, nRec);
      artefacts.reconstructions = (await w.pairs(w.fileIn(f.out, 'reconstructions'), orig, rec, nRec, '')).file;
    }
    const final = evalTest && data.test.n > 0 ? finalVqFigures(model, data.test, !!prior) : {};
    const pct = (v: number) => `${(100 * v).toFixed(1)}%`;
    await finish(r, config, result, final, artefacts, {
      extra: { prior_epochs: prior ? priorEpochs : 0 },
      done: prior ? `, prior ${priorEpochs} epochs` : '',
      figures:
        final.mse !== undefined
          ? `\ntest MSE ${final.mse.toFixed(5)}, PSNR ${final.psnr.toFixed(2)} dB; codebook perplexity ${final.perplexity.toFixed(2)}, ${final.codes_used} of ${config.codebookSize} codes used (${pct(final.usage)})` +
            (final.prior_nll !== undefined
              ? `; prior −log p(k) ${final.prior_nll.toFixed(2)} nats (${final.prior_bits_per_code.toFixed(3)} bits/code)`
              : '')
          : '',
    });
  } finally {
    model.dispose();
  }
}
