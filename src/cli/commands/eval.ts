// `vaekit eval MODEL`: the evaluation report (likelihood, reconstruction, latent units, sample quality in
// the features of a cached classifier; a VQ-VAE: its own report), written as JSON and printed.
import { Option, type Command } from 'commander';
import path from 'node:path';
import type { Dataset } from '../../data/dataset.js';
import type { ModelMeta } from '../../models/files.js';
import type { LatentVariableModel } from '../../models/index.js';
import { VQVAE } from '../../models/vqvae.js';
import { writeFileAtomic } from '../../util/atomic.js';
import { backendOption, dataOptions, log, out } from '../common.js';
import { loadData, withModel } from '../data.js';
import { vqPriorTrained } from '../model-kinds.js';
import { int, nonNegInt, posInt } from '../options.js';
import { outputKind } from '../outputs.js';
import { multiStepProgress, stepProgress, type StepProgressMode } from '../step-progress.js';

type Classifier = Awaited<ReturnType<(typeof import('../../eval/classifier.js'))['classifierFor']>>;

/** The evaluation classifier of the data set, or why there is none (then the sample-quality figures are skipped). */
async function settleClassifier(
  model: LatentVariableModel,
  meta: ModelMeta,
  data: Dataset,
  samples: number,
  f: Record<string, any>,
): Promise<{ classifier?: Classifier; skipped?: string }> {
  const skipped = f.sampleQuality === false ? '--no-sample-quality' : samples === 0 ? '--samples 0' : undefined;
  if (samples === 0) return { skipped };
  if (outputKind(model) === 'series')
    return {
      skipped:
        'numeric series: the sample-quality figures (Fréchet distance, precision/recall) are measured in the features of a classifier of labelled images, which series do not have',
    };
  if (!data.numClasses || !data.train.y)
    return { skipped: `data set ${data.name} has no labels to train the evaluation classifier on` };
  const { classifierFor, classifierKey } = await import('../../eval/classifier.js');
  const bar = stepProgress('training the evaluation classifier', {
    mode: f.progress as StepProgressMode,
    unit: 'steps',
  });
  let why: string | undefined;
  // One classifier per data set, trained on the grayscale images, serves both pixel protocols.
  const clsData = data.protocol === 'binary' ? await loadData({ ...f, protocol: 'continuous' }, meta) : data;
  const classifier = await classifierFor(clsData, {
    cacheDir: f.classifierDir,
    key: classifierKey(data.name, data.protocol, f.limit),
    epochs: f.classifierEpochs,
    retrain: !!f.retrainClassifier,
    log,
    onStep: (s) => bar.update((s.epoch - 1) * s.steps + s.step, s.epochs * s.steps, `loss ${s.loss.toFixed(3)}`),
  }).catch((e: Error) => {
    why = `no evaluation classifier: ${e.message}`;
    log(`vaekit: sample quality skipped: ${e.message}`);
    return undefined;
  });
  bar.finish();
  const cm = classifier?.classifier.meta;
  if (classifier && !classifier.cached && cm)
    log(
      `vaekit: classifier test accuracy ${(100 * (cm.testAccuracy ?? NaN)).toFixed(2)}%${cm.testAccuracyBinarized !== undefined ? ` (binarized images: ${(100 * cm.testAccuracyBinarized).toFixed(2)}%)` : ''} (${cm.training?.seconds.toFixed(0)} s)`,
    );
  return { classifier, skipped: why };
}

export function evaluate(program: Command): void {
  const cmd = program
    .command('eval <model>')
    .description(
      'evaluation report: −ELBO and importance-sampled NLL (docs/PROTOCOL.md), reconstruction (BCE/MSE, PSNR, SSIM), ' +
        'latent units (active units, KL per unit, collapse warning) and sample quality (Fréchet distance, precision/recall, ' +
        'diversity) in the features of a classifier trained once per data set and cached',
    )
    .option('--k <k>', 'importance samples per example (default 1000; --quick: 100)', posInt('--k'))
    .option('--split <name>', 'train or test', 'test')
    .option('--seed <n>', 'seed', int('--seed'), 0)
    .option('--n <n>', 'use the first N examples of the split (default: all; --quick: 1000)', posInt('--n'))
    .option('--nll-n <n>', 'examples for the importance-sampled NLL (default: as --n; --quick: 500)', posInt('--nll-n'))
    .option(
      '--samples <n>',
      'model samples (and real images) for the sample-quality figures, 0: none (default 10000; --quick: 1000)',
      nonNegInt('--samples'),
    )
    .option('--quick', 'a fast slice: --n 1000 --nll-n 500 --k 100 --samples 1000 (flags given explicitly win)')
    .addOption(
      new Option(
        '--sample-mode <mode>',
        'samples for the sample-quality figures: decoder mean at z ~ p(z), or x ~ p(x|z)',
      )
        .choices(['mean', 'sample'])
        .default('mean'),
    )
    .option('--no-sample-quality', 'skip the sample-quality figures (and the classifier)')
    .option(
      '--classifier-dir <dir>',
      'cache of evaluation classifiers (default: $VAEKIT_CLASSIFIER_DIR, else $XDG_CACHE_HOME/vaekit/classifiers, else ~/.cache/vaekit/classifiers)',
    )
    .option(
      '--classifier-epochs <n>',
      'epochs when the classifier has to be trained (default 4)',
      posInt('--classifier-epochs'),
    )
    .option('--retrain-classifier', 'train the classifier again even when a matching one is cached')
    .option('--out <file>', 'the JSON report (default: <model>.eval.json beside the model directory)')
    .option('--json', 'print the report as JSON (the table goes nowhere; warnings still go to stderr)')
    .addOption(
      new Option('--progress <mode>', 'progress of the long steps (NLL, classifier): a bar on a terminal, else lines')
        .choices(['auto', 'bar', 'lines', 'none'])
        .default('auto'),
    );
  dataOptions(cmd, false);
  backendOption(cmd).action(async (dir, f) => {
    const { evaluateModel, formatEvalReport } = await import('../../eval/report.js');
    const { evaluateVqModel, formatVqEvalReport } = await import('../../eval/vq-report.js');
    await withModel(dir, f, async (ctx) => {
      const { model, meta } = ctx;
      const data = await ctx.data();
      const split = await ctx.split();
      const quick = !!f.quick;
      const vqNoPrior = model instanceof VQVAE && !vqPriorTrained(meta); // nothing to sample from: no classifier needed
      const samples: number = f.sampleQuality === false || vqNoPrior ? 0 : (f.samples ?? (quick ? 1000 : 10000));
      const { classifier, skipped } = await settleClassifier(model, meta, data, samples, f);
      const common = {
        seed: f.seed,
        limit: f.n ?? (quick ? 1000 : undefined),
        samples,
        sampleMode: f.sampleMode,
        classifier,
        sampleQualitySkipped: skipped,
        reference: f.split === 'test' ? data.train : data.test,
        backend: ctx.backend.backend,
        log: f.json ? undefined : (m: string) => log(`vaekit: ${m}…`),
      };
      const steps = multiStepProgress(
        { nll: { label: `NLL (k = ${f.k ?? (quick ? 100 : 1000)})`, unit: 'examples' } },
        { mode: f.progress as StepProgressMode },
      );
      let full: { warnings: string[] } & Record<string, unknown>;
      let text: (r: typeof full) => string;
      const head = { model: dir, dataset: data.name, protocol: data.protocol, split: f.split };
      try {
        if (model instanceof VQVAE) {
          full = { ...head, ...evaluateVqModel(model, split, { ...common, priorTrained: vqPriorTrained(meta) }) };
          text = (r) => formatVqEvalReport(r as never);
        } else {
          full = {
            ...head,
            ...evaluateModel(model, split, {
              ...common,
              k: f.k ?? (quick ? 100 : 1000),
              nllLimit: f.nllN ?? (quick ? 500 : undefined),
              protocol: data.protocol,
              onProgress: steps.onProgress,
            }),
          };
          text = (r) => formatEvalReport(r as never);
        }
      } finally {
        steps.finish();
        classifier?.classifier.dispose();
      }
      const abs = path.resolve(dir);
      const file = f.out ?? path.join(path.dirname(abs), `${path.basename(abs)}.eval.json`);
      await writeFileAtomic(file, JSON.stringify(full, null, 2) + '\n');
      if (f.json) {
        for (const w of full.warnings) log(`vaekit: warning: ${w}`);
        out(true, { ...full, report_file: file }, '');
      } else out(false, {}, `${text(full)}\n\nreport: ${file}`);
    });
  });
}
