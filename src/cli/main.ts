// The `vaekit` command. It parses flags, loads data and models, and calls the library; it does no math.
import { Command, CommanderError, Option } from 'commander';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { initBackend, type BackendChoice } from '../backend/index.js';
import { loadDataset, parseDatasetName, take, type Dataset, type DatasetSpec, type Split } from '../data/dataset.js';
import { evaluateElbo, importanceSampledNll } from '../eval/likelihood.js';
import { writeFileAtomic } from '../util/atomic.js';
import { loadModel, saveModel } from '../io/model.js';
import { type DataInfo, type ModelMeta } from '../models/files.js';
import { writePairs, writeRows } from '../io/outputs.js';
import { writeSeriesSvg } from '../io/lineplot.js';
import { invertNormalizer, validateNormalizer } from '../data/csv.js';
import { writeRunReport } from '../io/report.js';
import { SeqVAE, seqVaeConfigFor } from '../models/seqvae.js';
import { withWordDropout } from '../objectives/word-dropout.js';
import { exactMatches, interpolateWords, isWordsModel, reconstructWords, sampleWords } from '../tasks/words.js';
import type { WordsDataset } from '../data/words.js';
import { BASELINES, scoreFunctionObjective } from '../objectives/score-function.js';
import { formatGradientVariance, gradientVariance } from '../eval/gradient-variance.js';
import * as tf from '@tensorflow/tfjs-core';
import { createModel, type ContinuousModelConfig, type LatentVariableModel } from '../models/index.js';
import type { NetworkSpec } from '../nn/index.js';
import { ACTIVATIONS, type Activation } from '../nn/mlp.js';
import { elbo } from '../objectives/elbo.js';
import { iwae } from '../objectives/iwae.js';
import { Rng } from '../rng.js';
import { encode, generate, interpolate, reconstruct } from '../tasks/generate.js';
import { OPTIMIZERS } from '../train/optimizers.js';
import { train, type Objective } from '../train/trainer.js';
import { int, intList, nonNegInt, nonNegNum, posInt, posNum } from './options.js';
import { VQVAE } from '../models/vqvae.js';
import {
  readRunFlags,
  resumeRunFlags,
  runFlags,
  trainerOptionsFromFlags,
  unrecordedFlagsWarning,
} from './run-flags.js';
import {
  addTrainPriorCommand,
  addVqTrainOptions,
  evalVqCommand,
  rejectVqFlags,
  sampleVq,
  trainVqvae,
  vqPriorTrained,
  writeCodes,
  type CliHelpers,
} from './vq.js';

const BACKENDS = ['auto', 'node', 'native', 'wasm', 'cpu'] as const;

/** Canonical models of PROTOCOL.md: a network and a latent width. */
const PRESETS: Record<string, { network: NetworkSpec; latent: number }> = {
  mlp: { network: { type: 'mlp', hidden: [400] }, latent: 20 },
  conv: { network: { type: 'conv', channels: [32, 64], kernel: 4, stride: 2, dense: [256] }, latent: 16 },
};
const MODEL_KINDS = ['vae', 'cvae', 'hvae', 'seqvae', 'vqvae'] as const;

/** The model config of `vaekit train`'s flags (--model, --preset, --network and the model options). */
function modelConfig(f: Record<string, any>, data: Dataset): ContinuousModelConfig {
  // --model mlp|conv: the canonical VAE of that name (what PROTOCOL.md and bench/run.ts call the models)
  let kind: (typeof MODEL_KINDS)[number] = 'vae';
  let presetName: string | undefined = f.preset;
  if (f.model in PRESETS) {
    if (presetName !== undefined && presetName !== f.model)
      throw new Error(`--model ${f.model} is the ${f.model} preset; it conflicts with --preset ${presetName}`);
    presetName = f.model;
  } else kind = f.model;
  if (kind === 'vqvae') throw new Error('--model vqvae: its config comes from vqvaeConfigFromFlags (src/cli/vq.ts)');
  rejectVqFlags(f, kind);
  if (kind !== 'seqvae')
    for (const flag of ['cell', 'rnnHidden', 'embedding', 'wordDropout'] as const)
      if (f[flag] !== undefined)
        throw new Error(`--${flag.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())} is an option of --model seqvae`);
  if (kind === 'seqvae') {
    // Bowman et al. 2016: a recurrent VAE over sequences ([steps, width] data: --dataset words)
    return seqVaeConfigFor(data as Dataset & { vocabulary?: string }, {
      latentDim: f.latent ?? 16,
      cell: f.cell ?? 'gru',
      hidden: f.rnnHidden ?? 192,
      embedding: f.embedding, // default: 32 for tokens, none for numeric series
      wordDropout: f.wordDropout ?? 0,
      beta: f.beta,
    });
  }
  const netType: string = f.network ?? PRESETS[presetName ?? 'mlp']?.network.type ?? 'mlp';
  presetName ??= netType;
  const preset = PRESETS[presetName];
  if (!preset) throw new Error(`unknown --preset "${presetName}" (expected ${Object.keys(PRESETS).join(', ')})`);
  const base = PRESETS[netType].network; // the network defaults: the preset's, or the canonical one of --network
  const activation = f.activation as Activation;
  let network: NetworkSpec;
  if (netType === 'conv') {
    const c = base.type === 'conv' ? base : (PRESETS.conv.network as Extract<NetworkSpec, { type: 'conv' }>);
    network = {
      type: 'conv',
      channels: f.channels ?? c.channels,
      kernel: f.kernel ?? c.kernel,
      stride: f.stride ?? c.stride,
      dense: f.hidden ?? c.dense,
      activation,
    };
  } else {
    for (const flag of ['channels', 'kernel', 'stride'] as const)
      if (f[flag] !== undefined) throw new Error(`--${flag} is an option of --network conv`);
    network = { type: 'mlp', hidden: f.hidden ?? (base.type === 'mlp' ? base.hidden : [400]), activation };
  }
  const likelihood = f.likelihood ?? (data.protocol === 'binary' ? 'bernoulli' : 'gaussian');
  const sigma: number | 'learned' = f.sigma === 'learned' ? 'learned' : posNum('--sigma')(f.sigma);
  const latent: number = f.latent ?? preset.latent;
  const common = {
    inputShape: data.shape,
    latentDim: latent,
    network,
    likelihood,
    ...(likelihood === 'gaussian' ? { sigma } : {}),
    beta: f.beta,
  };
  const only = (flags: string[], model: string) => {
    for (const flag of flags)
      if (f[flag] !== undefined)
        throw new Error(`--${flag.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())} is an option of --model ${model}`);
  };
  if (kind !== 'cvae') only(['labelEncoding', 'embeddingDim', 'prior'], 'cvae');
  if (kind !== 'hvae') only(['latents', 'layerHidden'], 'hvae');
  if (kind === 'cvae') {
    if (!data.train.y) throw new Error(`--model cvae needs labelled data, and ${data.name} has no labels`);
    const numClasses = data.numClasses ?? data.train.y.reduce((m, v) => Math.max(m, v + 1), 0);
    const embedding =
      f.labelEncoding === 'embedding' || (f.labelEncoding === undefined && f.embeddingDim !== undefined);
    return {
      kind,
      ...common,
      numClasses,
      labelEncoding: embedding ? 'embedding' : 'onehot',
      ...(embedding ? { embeddingDim: f.embeddingDim ?? 16 } : {}),
      prior: f.prior ?? 'standard',
    };
  }
  if (kind === 'hvae') {
    const latentDims: number[] = f.latents ?? [latent, Math.ceil(latent / 2)];
    if (latentDims.length < 2)
      throw new Error(`--latents needs two or more layer widths (bottom to top), got ${latentDims.join(',')}`);
    return {
      kind,
      ...common,
      latentDims,
      latentDim: latentDims.reduce((a, b) => a + b, 0),
      layerHidden: f.layerHidden ?? [128],
    };
  }
  return { kind: 'vae', ...common };
}

function describeModel(c: ContinuousModelConfig): string {
  const n = c.network;
  const net =
    n.type === 'conv'
      ? `conv [${n.channels.join(',')}] ${n.kernel}×${n.kernel}/${n.stride} dense [${n.dense.join(',')}]`
      : n.type === 'rnn'
        ? `${n.bidirectional === false ? '' : 'bi'}${n.cell} ${n.hidden}`
        : `mlp [${n.hidden.join(',')}]`;
  const z = c.kind === 'hvae' ? c.latentDims.join('+') : String(c.latentDim);
  const extra =
    c.kind === 'cvae'
      ? ` ${c.numClasses} classes (${c.labelEncoding}, ${c.prior} prior)`
      : c.kind === 'hvae'
        ? ` layers [${c.layerHidden.join(',')}]`
        : '';
  return `${c.kind} ${net} z=${z}${extra}`;
}

/** Labels for a sample grid with one row of `perRow` samples per class. */
function classRows(numClasses: number, perRow: number): Int32Array {
  return Int32Array.from({ length: numClasses * perRow }, (_, i) => Math.floor(i / perRow));
}

function dataOptions(cmd: Command, withDefault: boolean): Command {
  return cmd
    .option(
      '--dataset <name>',
      'fashion-mnist | mnist | dsprites | csv:PATH | images:DIR | words[:PATH] | timeseries:PATH (numeric series, one per row, columns = time steps; --model seqvae)' +
        (withDefault ? '' : ' (default: the one the model was trained on)'),
      withDefault ? 'mnist' : undefined,
    )
    .option(
      '--protocol <name>',
      'images: binary | continuous; csv, timeseries: standardize | minmax | none (default: binary for fashion-mnist/mnist, standardize for csv/timeseries)',
    )
    .option(
      '--ts-channels <C>',
      "timeseries: values per time step, columns step-major t0_c0,t0_c1,…,t1_c0,… (default 1; later commands: the model's)",
      posInt('--ts-channels'),
    )
    .option('--data-dir <dir>', 'fashion-mnist: directory holding the four IDX files')
    .option('--label-column <name>', 'csv: the label column')
    .option('--limit <n>', 'use only the first N training examples (and N/6 test examples)', posInt('--limit'));
}

function backendOption(cmd: Command): Command {
  return cmd.addOption(
    new Option('--backend <name>', 'compute backend').choices(BACKENDS as unknown as string[]).default('auto'),
  );
}

interface DataFlags {
  dataset?: string;
  protocol?: string;
  dataDir?: string;
  labelColumn?: string;
  limit?: number;
  tsChannels?: number;
}

async function loadData(f: DataFlags, meta?: ModelMeta): Promise<Dataset> {
  const name = f.dataset ?? meta?.data.dataset ?? 'mnist';
  const { name: kind, path: p } = parseDatasetName(name);
  let protocol =
    f.protocol ??
    (meta && (f.dataset === undefined || f.dataset === meta.data.dataset) ? meta.data.protocol : undefined);
  if (protocol === undefined && (kind === 'fashion-mnist' || kind === 'mnist')) protocol = 'binary';
  const spec: DatasetSpec = {
    name: kind,
    path: p,
    protocol,
    dataDir: f.dataDir,
    labelColumn: f.labelColumn,
    limit: f.limit,
  };
  if (kind === 'csv' && protocol && ['standardize', 'minmax', 'none'].includes(protocol))
    spec.normalize = protocol as DatasetSpec['normalize'];
  if (kind === 'csv' && meta?.data.normalizer) spec.normalizer = meta.data.normalizer as DatasetSpec['normalizer'];
  if (kind === 'timeseries') {
    // a trained series model re-applies its own normaliser and channel count
    const trained =
      meta?.data.dataset.startsWith('timeseries:') && meta.data.shape.length === 2 ? meta.data : undefined;
    if (trained?.normalizer) spec.normalizer = trained.normalizer as DatasetSpec['normalizer'];
    spec.channels = f.tsChannels ?? trained?.shape[1];
  } else if (f.tsChannels !== undefined) throw new Error(`--ts-channels is an option of --dataset timeseries:PATH`);
  return loadDataset(spec);
}

function dataInfo(d: Dataset): DataInfo {
  return {
    dataset: d.name,
    protocol: d.protocol,
    shape: d.shape,
    numClasses: d.numClasses,
    classNames: d.classNames,
    normalizer: d.normalizer,
  };
}

function checkShape(model: LatentVariableModel, d: Dataset): void {
  const a = model.config.inputShape.join('×');
  const b = d.shape.join('×');
  if (a !== b) throw new Error(`the model takes ${a} inputs but dataset ${d.name} has ${b} examples`);
}

function out(json: boolean, obj: Record<string, unknown>, text: string): void {
  process.stdout.write(json ? JSON.stringify(obj) + '\n' : text + '\n');
}

function pickSplit(d: Dataset, which: string): Split {
  if (which !== 'train' && which !== 'test') throw new Error(`--split must be train or test, got "${which}"`);
  return which === 'train' ? d.train : d.test;
}

/** The labels of examples `idx` for a conditional model (its encoder and decoder take y); undefined for other models. */
function labelsAt(model: LatentVariableModel, split: Split, idx: number[], what: string): Int32Array | undefined {
  if (model.numClasses === undefined) return undefined;
  if (!split.y)
    throw new Error(`${what}: this ${model.config.kind} is conditioned on the labels y, and the data have none`);
  return Int32Array.from(idx, (i) => split.y![i]);
}

function rowsAt(split: Split, idx: number[]): Float32Array {
  const D = split.x.length / split.n;
  const outRows = new Float32Array(idx.length * D);
  idx.forEach((i, k) => {
    if (!Number.isInteger(i) || i < 0 || i >= split.n)
      throw new Error(`example index ${i} is out of range (the split has ${split.n} examples)`);
    outRows.set(split.x.subarray(i * D, (i + 1) * D), k * D);
  });
  return outRows;
}

/** A model of numeric series (a Gaussian SeqVAE, --dataset timeseries:PATH): its outputs are CSV tables and SVG line plots. */
function isSeriesModel(model: LatentVariableModel): model is SeqVAE {
  return model instanceof SeqVAE && model.config.likelihood === 'gaussian';
}

/** The words of a split of a words data set (--dataset words[:PATH]); an error for any other data set. */
function splitWords(d: Dataset, which: string): string[] {
  const w = (d as Partial<WordsDataset>).words;
  if (!w) throw new Error(`data set ${d.name} has no words (a words model reads --dataset words[:PATH])`);
  pickSplit(d, which);
  return which === 'train' ? w.train : w.test;
}

/** Words given on the command line: comma-separated, trimmed; an empty entry is an error. */
function wordList(flag: string, v: string): string[] {
  const words = v.split(',').map((w) => w.trim());
  if (words.some((w) => w === ''))
    throw new Error(`${flag}: empty word in "${v}" (give comma-separated words, e.g. cat,zebra)`);
  return words;
}

/** A words model's text output file: --out when given on the command line (not an image file), else none. */
function wordsOutFile(cmd: Command, file: string): string | undefined {
  if (cmd.getOptionValueSource('out') !== 'cli') return undefined;
  if (/\.(png|gif|svg)$/i.test(file))
    throw new Error(`--out ${file}: a words model writes text; give a text file (e.g. .txt or .tsv)`);
  return file;
}

/** --from/--to of interpolate: an example index (digits), or anything else as a word (words models). */
const indexOrWord = (v: string): number | string => (/^\s*\d+\s*$/.test(v) ? nonNegInt('--from/--to')(v) : v);

/** The CSV and the SVG line plot written for series output to `file` (its .png/.svg/.csv extension replaced). */
function seriesFiles(file: string): { csv: string; svg: string } {
  const stem = file.replace(/\.(png|svg|csv)$/i, '');
  return { csv: `${stem}.csv`, svg: `${stem}.svg` };
}

/** Normalised rows back in data units (the saved normaliser inverted), for plots and errors. */
function dataUnits(rows: Float32Array, normalizer: unknown): Float32Array {
  return normalizer ? invertNormalizer(validateNormalizer(normalizer), rows) : rows;
}

/** Root mean squared difference of two equal-length arrays. */
function rmse(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] - b[i]) ** 2;
  return Math.sqrt(s / a.length);
}

/** Writes n series (rows normalised, shape [T, C]) as CSV in data units and an SVG line plot; returns both files. */
async function writeSeries(
  file: string,
  rows: Float32Array,
  n: number,
  shape: number[],
  normalizer: unknown,
  title: string,
  originals?: Float32Array,
): Promise<{ csv: string; svg: string }> {
  const f = seriesFiles(file);
  const [T, C] = shape;
  if (originals) await writePairs(f.csv, originals, rows, n, shape, { normalizer });
  else await writeRows(f.csv, rows, n, shape, { normalizer });
  const shown = Math.min(n, 16);
  const cut = (a: Float32Array) => dataUnits(a.subarray(0, shown * T * C), normalizer);
  if (originals) await writeSeriesSvg(f.svg, cut(originals), shown, T, C, { title, overlay: cut(rows) });
  else await writeSeriesSvg(f.svg, cut(rows), shown, T, C, { title });
  return f;
}

export function buildProgram(): Command {
  const program = new Command('vaekit')
    .description('Train, evaluate and use Variational Autoencoders')
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ writeErr: (s) => process.stderr.write(s) })
    .exitOverride();

  // ---------------------------------------------------------------------------------------------- train
  const trainCmd = program
    .command('train')
    .description(
      'train a VAE (β-VAE with --beta, conditional, hierarchical) and write the model, samples and a report',
    );
  dataOptions(trainCmd, true);
  backendOption(trainCmd);
  addVqTrainOptions(trainCmd);
  trainCmd
    .addOption(
      new Option(
        '--model <kind>',
        'vae | cvae (conditioned on the labels) | hvae (hierarchical) | seqvae (recurrent, --dataset words or timeseries:PATH) | vqvae (vector-quantised, discrete codes; --codebook, --code-dim, --prior-epochs); mlp | conv: the VAE of that preset',
      )
        .choices([...MODEL_KINDS, ...Object.keys(PRESETS)])
        .default('vae'),
    )
    .option('--preset <name>', 'canonical model of PROTOCOL.md: mlp | conv (default: mlp, or the one of --network)')
    .addOption(
      new Option('--network <type>', "encoder/decoder networks (default: the preset's)").choices(['mlp', 'conv']),
    )
    .option('--latent <d>', "latent dimensions (default: the preset's)", posInt('--latent'))
    .option(
      '--hidden <widths>',
      "dense hidden widths, encoder order, e.g. 512,256 (conv: after the convolutions; decoder mirrors; default: the preset's)",
      intList('--hidden'),
    )
    .option(
      '--channels <list>',
      'conv: channels of the stride-s convolutions, e.g. 32,64 (decoder mirrors them transposed)',
      intList('--channels'),
    )
    .option('--kernel <k>', 'conv: kernel size (default 4)', posInt('--kernel'))
    .option('--stride <s>', 'conv: stride (default 2)', posInt('--stride'))
    .addOption(new Option('--activation <name>', 'hidden activation').choices(ACTIVATIONS).default('relu'))
    .addOption(
      new Option('--label-encoding <e>', 'cvae: how y enters the networks (default onehot)').choices([
        'onehot',
        'embedding',
      ]),
    )
    .option('--embedding-dim <E>', 'cvae: width of the learned label embedding (default 16)', posInt('--embedding-dim'))
    .addOption(
      new Option('--prior <p>', 'cvae: p(z|y) = N(0, I), or a learned Gaussian per class (default standard)').choices([
        'standard',
        'learned',
      ]),
    )
    .addOption(new Option('--cell <type>', 'seqvae: recurrent cell').choices(['gru', 'lstm']))
    .option('--rnn-hidden <n>', 'seqvae: recurrent units per direction (default 192)', posInt('--rnn-hidden'))
    .option(
      '--embedding <n>',
      'seqvae: width of the input embedding (default 32 for words, none for numeric series)',
      posInt('--embedding'),
    )
    .option('--word-dropout <p>', 'seqvae: word dropout rate in training (default 0)', nonNegNum('--word-dropout'))
    .option(
      '--latents <widths>',
      'hvae: widths of the stochastic layers z_1 … z_L, bottom to top (default: --latent, half of it)',
      intList('--latents'),
    )
    .option(
      '--layer-hidden <widths>',
      'hvae: hidden widths of the MLPs between stochastic layers (default 128)',
      intList('--layer-hidden'),
    )
    .addOption(
      new Option(
        '--likelihood <name>',
        'p(x|z): bernoulli for binary data, gaussian for continuous (default: by protocol)',
      ).choices(['bernoulli', 'gaussian']),
    )
    .option('--sigma <s>', 'gaussian decoder: fixed σ (a number) or "learned"', '1')
    .option('--beta <b>', 'weight of the KL term (1: plain VAE, >1: β-VAE)', nonNegNum('--beta'), 1)
    .option('--kl-warmup <steps>', 'raise β linearly from 0 over this many steps', nonNegInt('--kl-warmup'), 0)
    .option(
      '--free-bits <nats>',
      "free bits λ: the objective's KL is Σ_j max(λ, batch-mean KL_j) over latent units (vae, cvae, seqvae; default 0: off; --resume keeps the run's)",
      nonNegNum('--free-bits'),
    )
    .option('--samples <L>', 'samples of ε per example in the ELBO', posInt('--samples'), 1)
    .addOption(new Option('--objective <name>', 'training objective').choices(['elbo', 'iwae']).default('elbo'))
    .option('--k <k>', 'importance samples for --objective iwae', posInt('--k'), 5)
    .addOption(
      new Option('--estimator <name>', 'encoder gradient: reparameterization or score function (REINFORCE)')
        .choices(['reparam', 'score'])
        .default('reparam'),
    )
    .addOption(
      new Option('--baseline <name>', 'score-function baseline').choices([...BASELINES]).default('moving-average'),
    )
    .addOption(new Option('--optimizer <name>', 'optimizer').choices(OPTIMIZERS).default('adam'))
    .option('--lr <rate>', 'learning rate', posNum('--lr'), 1e-3)
    .option('--momentum <m>', 'sgd momentum', nonNegNum('--momentum'), 0)
    .option('--lr-schedule <s>', 'constant | cosine[:MIN] | step:EVERY:GAMMA', 'constant')
    .option('--epochs <n>', 'epochs', posInt('--epochs'), 10)
    .option('--steps <n>', 'stop after this many steps in all', posInt('--steps'))
    .option('--batch-size <n>', 'minibatch size', posInt('--batch-size'), 128)
    .option('--seed <n>', 'seed of everything random (init, data order, ε)', int('--seed'), 0)
    .option('--out <dir>', 'run directory (metrics.jsonl, checkpoint/, model/, samples, report)', 'runs/vae')
    .option(
      '--resume',
      "continue the run in --out from its last checkpoint, with the run's flags (--epochs, --steps may extend it; a different data set, model or objective is refused)",
    )
    .option(
      '--checkpoint-every <steps>',
      'also checkpoint every N steps inside an epoch',
      nonNegInt('--checkpoint-every'),
      0,
    )
    .addOption(
      new Option('--progress <mode>', 'progress display').choices(['auto', 'bar', 'lines', 'none']).default('auto'),
    )
    .option('--no-eval', 'skip the test −ELBO after each epoch')
    .option('--report-k <k>', "importance samples for the report's test NLL (0: skip)", nonNegInt('--report-k'), 100)
    .option('--json', 'print the final summary as JSON')
    .action(async (f) => {
      if (f.resume) {
        // continue the run that was started: its flags where none are given; a change of data, model or objective is refused here, before anything is written
        const run = await readRunFlags(f.out);
        if (run?.flags)
          for (const line of resumeRunFlags(trainCmd, f, run.flags, run.checkpoint)) process.stderr.write(line + '\n');
        else if (run) process.stderr.write(unrecordedFlagsWarning(run.checkpoint) + '\n');
      }
      const flags = runFlags(trainCmd, f); // kept in the checkpoint for --resume
      const info = await initBackend(f.backend as BackendChoice);
      const data = await loadData(f);
      if (f.model === 'vqvae')
        return trainVqvae(f, data, info, (name) => trainCmd.getOptionValueSource(name) === 'cli', cliHelpers, flags);
      const config = modelConfig(f, data);
      const likelihood = config.likelihood;
      if (f.estimator === 'score' && f.objective === 'iwae')
        throw new Error('--estimator score trains the ELBO; it does not combine with --objective iwae');
      if (f.freeBits > 0) {
        if (f.estimator === 'score')
          throw new Error(
            '--free-bits does not combine with --estimator score: free bits needs the reparameterized ELBO',
          );
        if (f.objective === 'iwae')
          throw new Error(
            '--free-bits does not combine with --objective iwae: the IWAE bound has no separate KL term to clamp',
          );
        if (config.kind === 'hvae')
          throw new Error(
            '--free-bits does not apply to --model hvae: its KL is a per-layer sample estimate, not an analytic KL per latent unit',
          );
      }
      const rng = new Rng(f.seed);
      const model = createModel(config, rng.fork());
      const objective: Objective = withWordDropout(
        f.estimator === 'score'
          ? scoreFunctionObjective({ samples: f.samples, baseline: f.baseline })
          : f.objective === 'iwae'
            ? (m, x, c) => iwae(m, x, { k: f.k, rng: c.rng, y: c.y }) // --free-bits with iwae is refused above
            : (m, x, c) => elbo(m, x, { beta: c.beta, samples: f.samples, rng: c.rng, y: c.y, freeBits: c.freeBits }),
      );
      const di = dataInfo(data);
      process.stderr.write(
        `vaekit: ${data.name} (${data.protocol}, ${data.train.n} train / ${data.test.n} test, ${data.shape.join('×')}), ` +
          `${describeModel(config)} ${likelihood}, β=${config.beta}${f.freeBits > 0 ? `, free bits ${f.freeBits} nats/unit` : ''}; backend ${info.backend} (${info.detail})\n`,
      );
      const evalTest = f.eval !== false;
      const result = await train(model, data, objective, {
        ...trainerOptionsFromFlags(f, di),
        beta: f.beta,
        klWarmup: f.klWarmup,
        freeBits: trainCmd.getOptionValueSource('freeBits') === 'cli' ? f.freeBits : undefined, // not given: the trainer keeps the checkpoint's λ, and says so
        run: { objective: f.objective, samples: f.samples, backend: info.backend, flags },
        evaluate: evalTest
          ? (m, epoch) => evaluateElbo(m, data.test, { rng: new Rng(f.seed + 7919 * epoch), beta: f.beta })
          : undefined,
      });
      await saveModel(path.join(f.out, 'model'), model, di, result.training);
      // Artefacts of the run: samples, reconstructions, report.
      const artefacts: Record<string, string> = {};
      if (model instanceof SeqVAE && model.config.vocabulary !== undefined) {
        const words = (data as unknown as { words: { test: string[] } }).words.test.slice(0, 32);
        const rec = reconstructWords(model, words);
        artefacts.samples = path.join(f.out, 'samples.txt');
        await writeFileAtomic(artefacts.samples, sampleWords(model, 64, new Rng(f.seed + 1)).join('\n') + '\n');
        artefacts.reconstructions = path.join(f.out, 'reconstructions.txt');
        await writeFileAtomic(artefacts.reconstructions, words.map((w, i) => `${w}\t${rec[i]}`).join('\n') + '\n');
      } else {
        const K = (model as LatentVariableModel).numClasses; // a conditional model: one row of samples per class, reconstructions given the labels
        const nShow = K ? 8 * K : 64;
        const showY = K ? classRows(K, 8) : undefined;
        const gen = generate(model, nShow, new Rng(f.seed + 1), { y: showY });
        artefacts.samples = await writeRows(
          path.join(f.out, data.shape.length === 3 ? 'samples.png' : 'samples.csv'),
          gen,
          nShow,
          data.shape,
          { cols: 8, normalizer: data.normalizer },
        );
        const nRec = Math.min(32, data.test.n);
        const orig = rowsAt(
          data.test,
          Array.from({ length: nRec }, (_, i) => i),
        );
        const rec = reconstruct(model, orig, nRec, K ? data.test.y?.subarray(0, nRec) : undefined);
        artefacts.reconstructions = await writePairs(
          path.join(f.out, data.shape.length === 3 ? 'reconstructions.png' : 'reconstructions.csv'),
          orig,
          rec,
          nRec,
          data.shape,
          { normalizer: data.normalizer },
        );
        if (isSeriesModel(model)) {
          // numeric series: line plots beside the CSV tables
          artefacts.samples_plot = (
            await writeSeries(
              artefacts.samples,
              gen,
              nShow,
              data.shape,
              data.normalizer,
              'samples: greedy decode at z ~ N(0, I)',
            )
          ).svg;
          artefacts.reconstructions_plot = (
            await writeSeries(
              artefacts.reconstructions,
              rec,
              nRec,
              data.shape,
              data.normalizer,
              'test series and their reconstructions',
              orig,
            )
          ).svg;
        }
      }
      const final: Record<string, number> = {};
      if (evalTest) Object.assign(final, evaluateElbo(model, data.test, { rng: new Rng(f.seed + 2), beta: 1 }));
      if (f.reportK > 0) {
        const nll = importanceSampledNll(model, data.test, { k: f.reportK, rng: new Rng(f.seed + 3) });
        Object.assign(final, { nll: nll.nll, nll_stderr: nll.stderr, nll_k: f.reportK, bits_per_dim: nll.bitsPerDim });
      }
      const report = await writeRunReport(f.out, {
        config,
        data: di,
        backend: info,
        metrics: result.metrics,
        final,
        artefacts,
        command: `vaekit ${process.argv.slice(2).join(' ')}`,
      });
      model.dispose();
      out(
        !!f.json,
        {
          out: f.out,
          model: path.join(f.out, 'model'),
          final,
          epochs: result.state.epoch,
          steps: result.state.step,
          report,
        },
        `done: ${result.state.epoch} epochs, ${result.state.step} steps; model in ${path.join(f.out, 'model')}; report ${report}` +
          (final.total !== undefined
            ? `\ntest −ELBO ${final.total.toFixed(2)} nats (rec ${final.rec.toFixed(2)}, KL ${final.kl.toFixed(2)}` +
              (final.kl1 !== undefined
                ? ` = ${Object.keys(final)
                    .filter((k) => /^kl\d+$/.test(k))
                    .map((k) => `${k} ${final[k].toFixed(2)}`)
                    .join(' + ')}`
                : '') +
              ')'
            : '') +
          (final.nll !== undefined
            ? `; NLL (k=${f.reportK}) ${final.nll.toFixed(2)} ± ${final.nll_stderr.toFixed(2)}`
            : ''),
      );
    });

  // ---------------------------------------------------------------------------------------------- sample
  backendOption(
    program
      .command('sample <model>')
      .description(
        'generate new examples: z ~ p(z) (p(z|y) for a conditional model), x = decoder mean (PNG grid, or CSV for tabular data)',
      )
      .option(
        '-n, --n <n>',
        'how many (default 64); a conditional model without --label: how many per class, one row each (default 10)',
        posInt('--n'),
      )
      .option(
        '--label <k>',
        'conditional models: sample class k only (default: a grid with one row per class)',
        nonNegInt('--label'),
      )
      .option('--out <file>', 'output file (.png or .csv)', 'samples.png')
      .option('--seed <n>', 'seed', int('--seed'), 0)
      .option('--temperature <t>', 'scale of z (1: the prior)', posNum('--temperature'), 1)
      .option('--binarize', 'draw x ~ p(x|z) instead of its mean (words models: the same as --decode sample)')
      .addOption(
        new Option(
          '--decode <mode>',
          'words models: greedy (the most probable character at each step) or sample (each character drawn from p(x_t | x_<t, z)); default greedy, sample with --binarize',
        ).choices(['greedy', 'sample']),
      )
      .option(
        '--char-temperature <t>',
        'words models, --decode sample: divide the character logits by T (<1: safer, >1: wilder; default 1)',
        posNum('--char-temperature'),
      )
      .option('--json', 'print what was written as JSON'),
  ).action(async (dir, f, cmd: Command) => {
    await initBackend(f.backend);
    const { model, meta } = await loadModel(dir);
    const K = model.numClasses;
    try {
      if (isWordsModel(model)) {
        // words: z ~ N(0, T²·I) decoded character by character; the words go to stdout, one a line (an empty line: the end token came first)
        if (f.binarize && f.decode === 'greedy')
          throw new Error('--binarize draws the characters; it conflicts with --decode greedy');
        const mode: 'greedy' | 'sample' = f.decode ?? (f.binarize ? 'sample' : 'greedy');
        if (f.charTemperature !== undefined && mode !== 'sample')
          throw new Error('--char-temperature applies to sampled characters: add --decode sample');
        const n: number = f.n ?? 64;
        const words = sampleWords(model, n, new Rng(f.seed), {
          mode,
          zScale: f.temperature,
          temperature: f.charTemperature,
        });
        const file = wordsOutFile(cmd, f.out);
        if (file) {
          await writeFileAtomic(file, words.join('\n') + '\n');
          if (!f.json) process.stderr.write(`vaekit: wrote ${n} words to ${file}\n`);
        }
        const info = {
          n,
          decode: mode,
          z_scale: f.temperature,
          ...(mode === 'sample' ? { char_temperature: f.charTemperature ?? 1 } : {}),
        };
        out(!!f.json, { ...info, words, ...(file ? { file } : {}) }, words.join('\n'));
        return;
      }
      for (const flag of ['decode', 'charTemperature'] as const)
        if (f[flag] !== undefined)
          throw new Error(
            `--${flag.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())} is an option of words models (--model seqvae trained on --dataset words)`,
          );
      if (f.label !== undefined && !K)
        throw new Error(`--label: this ${model.config.kind} model is not conditioned on labels`);
      if (f.label !== undefined && f.label >= (K as number))
        throw new Error(`--label ${f.label} is out of range: the model has classes 0 … ${(K as number) - 1}`);
      const grid = !!K && f.label === undefined; // one row per class
      const n: number = grid ? (f.n ?? 10) * (K as number) : (f.n ?? 64);
      const y = K ? (grid ? classRows(K, f.n ?? 10) : new Int32Array(n).fill(f.label)) : undefined;
      const rows =
        model instanceof VQVAE
          ? sampleVq(model, meta, n, new Rng(f.seed), { sampleX: !!f.binarize, temperature: f.temperature }) // codes from the learned prior, logits / T
          : generate(model, n, new Rng(f.seed), { sampleX: !!f.binarize, temperature: f.temperature, y });
      if (isSeriesModel(model)) {
        const files = await writeSeries(
          f.out,
          rows,
          n,
          meta.data.shape,
          meta.data.normalizer,
          `${n} samples of ${meta.data.dataset}`,
        );
        out(
          !!f.json,
          { file: files.csv, plot: files.svg, n },
          `wrote ${n} series to ${files.csv} and a line plot to ${files.svg}`,
        );
        return;
      }
      const file = await writeRows(f.out, rows, n, meta.data.shape, {
        normalizer: meta.data.normalizer,
        ...(grid ? { cols: f.n ?? 10 } : {}),
      });
      const names = meta.data.classNames;
      const className = (k: number) => names?.[k] ?? String(k);
      const what = grid
        ? `one row of ${f.n ?? 10} per class (${Array.from({ length: K as number }, (_, k) => className(k)).join(', ')})`
        : K
          ? `of class ${className(f.label)}`
          : '';
      out(
        !!f.json,
        { file, n, ...(K ? { labels: grid ? Array.from({ length: K }, (_, k) => k) : [f.label] } : {}) },
        `wrote ${n} samples ${what}${what ? ' ' : ''}to ${file}`,
      );
    } finally {
      model.dispose();
    }
  });

  // ---------------------------------------------------------------------------------------------- reconstruct
  const recCmd = program
    .command('reconstruct <model>')
    .description('originals beside their reconstructions E[x | z = μ(x)]')
    .option('-n, --n <n>', 'how many examples', posInt('--n'), 32)
    .option('--split <name>', 'train or test', 'test')
    .option('--start <i>', 'first example index', nonNegInt('--start'), 0)
    .option(
      '--words <list>',
      'words models: comma-separated words to reconstruct, e.g. cat,zebra (default: --n words of --split from --start)',
    )
    .option(
      '--out <file>',
      'output file (.png or .csv; words models: a TSV, written only when --out is given)',
      'reconstructions.png',
    )
    .option('--json', 'print what was written as JSON');
  dataOptions(recCmd, false);
  backendOption(recCmd).action(async (dir, f, cmd: Command) => {
    await initBackend(f.backend);
    const { model, meta } = await loadModel(dir);
    if (isWordsModel(model)) {
      // words: each word beside its greedy decode at z = μ(word), and the fraction decoded back exactly
      try {
        let words: string[];
        if (f.words !== undefined) words = wordList('--words', f.words);
        else {
          const data = await loadData(f, meta);
          checkShape(model, data);
          const all = splitWords(data, f.split);
          if (f.start >= all.length)
            throw new Error(`--start ${f.start} is past the end of the ${f.split} split (${all.length} words)`);
          words = all.slice(f.start, f.start + f.n);
        }
        const rec = reconstructWords(model, words);
        const { exact, rate } = exactMatches(words, rec);
        const file = wordsOutFile(cmd, f.out);
        if (file)
          await writeFileAtomic(
            file,
            ['word\treconstruction', ...words.map((w, i) => `${w}\t${rec[i]}`)].join('\n') + '\n',
          );
        const pairs = words.map((w, i) => ({ word: w, reconstruction: rec[i], exact: w === rec[i] }));
        out(
          !!f.json,
          { n: words.length, exact, exact_match: rate, pairs, ...(file ? { file } : {}) },
          pairs.map((p) => `${p.word} → ${p.reconstruction}${p.exact ? '' : '  ✗'}`).join('\n') +
            `\nexact match: ${exact}/${words.length} (${(100 * rate).toFixed(1)}%)${f.words === undefined ? ` of ${f.split} words ${f.start}…${f.start + words.length - 1}` : ''}` +
            (file ? `\nwrote ${file}` : ''),
        );
      } finally {
        model.dispose();
      }
      return;
    }
    if (f.words !== undefined)
      throw new Error(`--words is an option of words models; this is a ${model.config.kind} of ${meta.data.dataset}`);
    const data = await loadData(f, meta);
    checkShape(model, data);
    const split = pickSplit(data, f.split);
    const n = Math.min(f.n, split.n - f.start);
    if (n < 1) throw new Error(`--start ${f.start} is past the end of the ${f.split} split (${split.n} examples)`);
    const idx = Array.from({ length: n }, (_, i) => f.start + i);
    const x = rowsAt(split, idx);
    if (isSeriesModel(model)) {
      // numeric series: originals and reconstructions in data units, the RMSE in data units and normalised
      const r = reconstruct(model, x, n);
      model.dispose();
      const files = await writeSeries(
        f.out,
        r,
        n,
        data.shape,
        data.normalizer,
        `${f.split} series ${f.start}…${f.start + n - 1} and their reconstructions`,
        x,
      );
      const err = {
        rmse: rmse(dataUnits(x, data.normalizer), dataUnits(r, data.normalizer)),
        rmse_normalized: rmse(x, r),
      };
      out(
        !!f.json,
        { file: files.csv, plot: files.svg, n, ...err },
        `wrote ${n} originals and reconstructions to ${files.csv} and ${files.svg}\nRMSE ${err.rmse.toPrecision(4)} (data units), ${err.rmse_normalized.toPrecision(4)} (normalised, ${data.protocol})`,
      );
      return;
    }
    const y = labelsAt(model, split, idx, 'reconstruct'); // a conditional model: q(z|x, y) and p(x|z, y) with each example's label
    const file = await writePairs(f.out, x, reconstruct(model, x, n, y), n, data.shape, {
      normalizer: data.normalizer,
    });
    model.dispose();
    out(
      !!f.json,
      { file, n },
      `wrote ${n} originals and reconstructions${y ? ' (given their labels)' : ''} to ${file}`,
    );
  });

  // ---------------------------------------------------------------------------------------------- interpolate
  const interpCmd = program
    .command('interpolate <model>')
    .description('decode points on the latent path between two examples (words models: between two words)')
    .option(
      '--from <i|word>',
      'index of the first example (words models: a word, or the index of one in --split)',
      indexOrWord,
      0,
    )
    .option(
      '--to <i|word>',
      'index of the second example (words models: a word, or the index of one in --split)',
      indexOrWord,
      1,
    )
    .option('--steps <n>', 'points on the path, ends included', posInt('--steps'), 10)
    .addOption(new Option('--method <m>', 'path').choices(['linear', 'slerp']).default('linear'))
    .option('--split <name>', 'train or test', 'test')
    .option(
      '--out <file>',
      'output file (.png or .csv; words models: the words, one a line, written only when --out is given)',
      'interpolation.png',
    )
    .option('--json', 'print what was written as JSON');
  dataOptions(interpCmd, false);
  backendOption(interpCmd).action(async (dir, f, cmd: Command) => {
    await initBackend(f.backend);
    const { model, meta } = await loadModel(dir);
    if (isWordsModel(model)) {
      // words: greedy decodes along the path from μ(from) to μ(to), one word a line
      try {
        let pool: string[] | undefined;
        if (typeof f.from === 'number' || typeof f.to === 'number') {
          const data = await loadData(f, meta);
          checkShape(model, data);
          pool = splitWords(data, f.split);
        }
        const pick = (v: number | string, flag: string): string => {
          if (typeof v === 'string') return v;
          if (v >= pool!.length)
            throw new Error(`${flag} ${v} is out of range: the ${f.split} split has ${pool!.length} words`);
          return pool![v];
        };
        const [a, b] = [pick(f.from, '--from'), pick(f.to, '--to')];
        const words = interpolateWords(model, a, b, f.steps, { method: f.method });
        const file = wordsOutFile(cmd, f.out);
        if (file) {
          await writeFileAtomic(file, words.join('\n') + '\n');
          if (!f.json) process.stderr.write(`vaekit: wrote ${words.length} words to ${file}\n`);
        }
        out(
          !!f.json,
          { from: a, to: b, steps: f.steps, method: f.method, words, ...(file ? { file } : {}) },
          words.join('\n'),
        );
      } finally {
        model.dispose();
      }
      return;
    }
    for (const [flag, v] of [
      ['--from', f.from],
      ['--to', f.to],
    ] as const)
      if (typeof v !== 'number')
        throw new Error(
          `${flag} must be an example index (a non-negative integer) for this ${model.config.kind} model, got "${v}"`,
        );
    const data = await loadData(f, meta);
    checkShape(model, data);
    const split = pickSplit(data, f.split);
    const xa = rowsAt(split, [f.from]);
    const xb = rowsAt(split, [f.to]);
    // a conditional model: each end encoded with its own label, the path decoded with the first's
    const y = labelsAt(model, split, [f.from, f.to], 'interpolate');
    const rows = interpolate(model, xa, xb, f.steps, f.method, y && [y[0], y[1]]);
    const file = await writeRows(f.out, rows, f.steps, data.shape, { cols: f.steps, normalizer: data.normalizer });
    model.dispose();
    const cls = (k: number) => data.classNames?.[k] ?? String(k);
    const note = y
      ? ` from example ${f.from} (class ${cls(y[0])}) to ${f.to} (class ${cls(y[1])}${y[0] === y[1] ? ', the same' : ''}); decoded with the label of --from (${cls(y[0])})`
      : '';
    out(
      !!f.json,
      { file, steps: f.steps, ...(y ? { labels: [y[0], y[1]], decoded_with_label: y[0] } : {}) },
      `wrote a ${f.steps}-step interpolation${note} to ${file}`,
    );
  });

  // ---------------------------------------------------------------------------------------------- traverse
  const travCmd = program
    .command('traverse <model>')
    .description(
      'latent traversals from the prior mean: one row per latent dimension (largest KL over the test split first), ' +
        'each swept over −range … range; a PNG grid, and with --gif an animated GIF (frame s: every dimension at value s)',
    )
    .option('--out <dir>', 'output directory (traversal.png, traversal.gif)', 'traversal')
    .option('--dims <k>', 'only the K dimensions of largest KL (default: all)', posInt('--dims'))
    .option('--steps <n>', 'values per dimension (at least 2)', posInt('--steps'), 11)
    .option('--range <r>', 'sweep −r … r, in prior standard deviations', posNum('--range'), 3)
    .option('--label <k>', 'cvae: the class to decode (required there)', nonNegInt('--label'))
    .option('--gif', 'also write traversal.gif')
    .option('--no-ping-pong', 'GIF: play the values forth only (default: forth and back)')
    .option('--scale <s>', 'nearest-neighbour enlargement of the PNG and GIF', posInt('--scale'), 2)
    .option('--json', 'print what was written as JSON');
  dataOptions(travCmd, false);
  backendOption(travCmd).action(async (dir, f) => {
    const { latentTraversal } = await import('../eval/traversal.js');
    const { traversalGif, traversalGrid } = await import('../io/traversal.js');
    const { latentHealth } = await import('../eval/latent.js');
    const { imageToPng, upscale } = await import('../io/png.js');
    await initBackend(f.backend);
    const { model, meta } = await loadModel(dir);
    try {
      const kind = model.config.kind;
      const K = model.numClasses;
      if (kind !== 'vae' && kind !== 'cvae' && kind !== 'hvae')
        throw new Error(
          `traverse: needs an image model with a continuous latent (vae, cvae or hvae); this model is a ${kind}`,
        );
      const s = model.config.inputShape;
      if (!(s.length === 3 && (s[2] === 1 || s[2] === 3)))
        throw new Error(`traverse: the model's inputs [${s.join(', ')}] are not images`);
      if (f.steps < 2) throw new Error(`--steps must be at least 2, got ${f.steps}`);
      if (K === undefined && f.label !== undefined)
        throw new Error(`--label: this ${kind} model is not conditioned on labels`);
      if (K !== undefined && f.label === undefined)
        throw new Error(`traverse: this ${kind} is conditioned on a label: give --label (0 … ${K - 1})`);
      if (K !== undefined && f.label >= K)
        throw new Error(`--label ${f.label} is out of range: the model has classes 0 … ${K - 1}`);
      const data = await loadData(f, meta);
      checkShape(model, data);
      const kl = latentHealth(model, data.test).klPerDim; // per-dimension KL over the test split (cvae: given its labels)
      const base = tf.tidy(
        () =>
          model
            .prior(1, K !== undefined ? tf.tensor1d([f.label], 'int32') : undefined)
            .mean()
            .dataSync() as Float32Array,
      );
      const t = latentTraversal(model, base, { steps: f.steps, limit: f.range, kl, maxRows: f.dims, y: f.label });
      mkdirSync(f.out, { recursive: true });
      const png = path.join(f.out, 'traversal.png');
      const grid = upscale(traversalGrid(t), f.scale);
      await writeFileAtomic(png, imageToPng(grid));
      const written: Record<string, unknown> = {
        png,
        rows: t.rows,
        steps: t.steps,
        dims: t.dims,
        kl: t.dims.map((d) => kl[d]),
        values: t.values,
        width: grid.width,
        height: grid.height,
      };
      if (f.gif) {
        const gif = path.join(f.out, 'traversal.gif');
        await writeFileAtomic(gif, traversalGif(t, { scale: f.scale, pingPong: f.pingPong }));
        Object.assign(written, { gif, frames: f.pingPong ? 2 * t.steps - 2 : t.steps });
      }
      const cls = K !== undefined ? ` of class ${meta.data.classNames?.[f.label] ?? f.label}` : '';
      out(
        !!f.json,
        written,
        `wrote ${t.rows} latent dimensions × ${t.steps} values (−${f.range} … ${f.range})${cls} to ${png}${f.gif ? ` and ${written.gif}` : ''}\n` +
          `rows (by KL over ${data.test.n} test examples): ${t.dims.map((d) => `z${d} ${kl[d].toFixed(2)}`).join(', ')}`,
      );
    } finally {
      model.dispose();
    }
  });

  // ---------------------------------------------------------------------------------------------- encode
  const encCmd = program
    .command('encode <model>')
    .description('posterior means μ(x) (and log σ²) of a split, as CSV or JSON')
    .option('--split <name>', 'train or test', 'test')
    .option('--out <file>', 'output file (.csv or .json)', 'latents.csv')
    .option('--with-logvar', 'also write log σ²')
    .option('--json', 'print what was written as JSON');
  dataOptions(encCmd, false);
  backendOption(encCmd).action(async (dir, f) => {
    await initBackend(f.backend);
    const { model, meta } = await loadModel(dir);
    const data = await loadData(f, meta);
    checkShape(model, data);
    const split = pickSplit(data, f.split);
    if (model instanceof VQVAE) {
      // a VQ-VAE's latent: its code indices k(x), one column per grid position
      const r = await writeCodes(model, split, f.out, !!f.withLogvar).finally(() => model.dispose());
      return out(!!f.json, { file: f.out, n: r.n, dim: r.dim }, `wrote ${r.n} × ${r.dim} code indices to ${f.out}`);
    }
    const { mu, logVar, dim } = encodeAll(model, split);
    const words = isWordsModel(model) ? splitWords(data, f.split) : undefined; // a words model: each row's word in a last column
    const cols = [
      ...Array.from({ length: dim }, (_, i) => `mu${i}`),
      ...(f.withLogvar ? Array.from({ length: dim }, (_, i) => `logvar${i}`) : []),
      ...(split.y ? ['label'] : []),
      ...(words ? ['word'] : []),
    ];
    let text: string;
    if (f.out.endsWith('.json')) {
      const rows = Array.from({ length: split.n }, (_, i) => ({
        mu: Array.from(mu.subarray(i * dim, (i + 1) * dim)),
        ...(f.withLogvar ? { logvar: Array.from(logVar.subarray(i * dim, (i + 1) * dim)) } : {}),
        ...(split.y ? { label: split.y[i] } : {}),
        ...(words ? { word: words[i] } : {}),
      }));
      text = JSON.stringify({ dim, n: split.n, rows }) + '\n';
    } else {
      const lines = [cols.join(',')];
      for (let i = 0; i < split.n; i++) {
        const r = Array.from(mu.subarray(i * dim, (i + 1) * dim), (v) => +v.toPrecision(7));
        if (f.withLogvar) r.push(...Array.from(logVar.subarray(i * dim, (i + 1) * dim), (v) => +v.toPrecision(7)));
        if (split.y) r.push(split.y[i]);
        lines.push(r.join(',') + (words ? `,${words[i]}` : ''));
      }
      text = lines.join('\n') + '\n';
    }
    await writeFileAtomic(f.out, text);
    model.dispose();
    out(!!f.json, { file: f.out, n: split.n, dim }, `wrote ${split.n} × ${dim} latent means to ${f.out}`);
  });

  // ---------------------------------------------------------------------------------------------- eval
  const evalCmd = program
    .command('eval <model>')
    .description(
      'evaluation report: −ELBO and importance-sampled NLL (PROTOCOL.md), reconstruction (BCE/MSE, PSNR, SSIM), ' +
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
    .option('--json', 'print the report as JSON (the table goes nowhere; warnings still go to stderr)');
  dataOptions(evalCmd, false);
  backendOption(evalCmd).action(async (dir, f) => {
    const { evaluateModel, formatEvalReport, writeEvalReport } = await import('../eval/report.js');
    const { classifierFor, classifierKey } = await import('../eval/classifier.js');
    const info = await initBackend(f.backend);
    const { model, meta } = await loadModel(dir);
    try {
      const data = await loadData(f, meta);
      checkShape(model, data);
      const split = pickSplit(data, f.split);
      const quick = !!f.quick;
      const vqNoPrior = model instanceof VQVAE && !vqPriorTrained(meta); // nothing to sample from: no classifier needed
      const samples: number = f.sampleQuality === false || vqNoPrior ? 0 : (f.samples ?? (quick ? 1000 : 10000));
      const log = (m: string) => process.stderr.write(m + '\n');
      let classifier: Awaited<ReturnType<typeof classifierFor>> | undefined;
      let skipped: string | undefined =
        f.sampleQuality === false ? '--no-sample-quality' : samples === 0 ? '--samples 0' : undefined;
      if (samples > 0) {
        if (isSeriesModel(model))
          skipped =
            'numeric series: the sample-quality figures (Fréchet distance, precision/recall) are measured in the features of a classifier of labelled images, which series do not have';
        else if (!data.numClasses || !data.train.y)
          skipped = `data set ${data.name} has no labels to train the evaluation classifier on`;
        else {
          let last = 0;
          // One classifier per data set, trained on the grayscale images, serves both pixel protocols.
          const clsData = data.protocol === 'binary' ? await loadData({ ...f, protocol: 'continuous' }, meta) : data;
          classifier = await classifierFor(clsData, {
            cacheDir: f.classifierDir,
            key: classifierKey(data.name, data.protocol, f.limit),
            epochs: f.classifierEpochs,
            retrain: !!f.retrainClassifier,
            log,
            onStep: (s) => {
              const now = performance.now();
              if (now - last > 10000 || (s.step === s.steps && s.epoch === s.epochs)) {
                last = now;
                log(`  classifier: epoch ${s.epoch}/${s.epochs}, step ${s.step}/${s.steps}, loss ${s.loss.toFixed(3)}`);
              }
            },
          }).catch((e: Error) => {
            skipped = `no evaluation classifier: ${e.message}`;
            log(`vaekit: sample quality skipped: ${e.message}`);
            return undefined;
          });
          const cm = classifier?.classifier.meta;
          if (classifier && !classifier.cached && cm)
            log(
              `vaekit: classifier test accuracy ${(100 * (cm.testAccuracy ?? NaN)).toFixed(2)}%${cm.testAccuracyBinarized !== undefined ? ` (binarized images: ${(100 * cm.testAccuracyBinarized).toFixed(2)}%)` : ''} (${cm.training?.seconds.toFixed(0)} s)`,
            );
        }
      }
      if (model instanceof VQVAE) {
        await evalVqCommand(
          model,
          meta,
          dir,
          data,
          split,
          f,
          { samples, classifier, skipped, backend: info.backend },
          { out },
        ).finally(() => classifier?.classifier.dispose());
        return;
      }
      const report = evaluateModel(model, split, {
        seed: f.seed,
        limit: f.n ?? (quick ? 1000 : undefined),
        k: f.k ?? (quick ? 100 : 1000),
        nllLimit: f.nllN ?? (quick ? 500 : undefined),
        samples,
        sampleMode: f.sampleMode,
        classifier,
        sampleQualitySkipped: skipped,
        reference: f.split === 'test' ? data.train : data.test,
        backend: info.backend,
        protocol: data.protocol,
        log: f.json ? undefined : (m) => log(`vaekit: ${m}…`),
      });
      classifier?.classifier.dispose();
      const full = { model: dir, dataset: data.name, protocol: data.protocol, split: f.split, ...report };
      const abs = path.resolve(dir);
      const file = f.out ?? path.join(path.dirname(abs), `${path.basename(abs)}.eval.json`);
      await writeEvalReport(file, full);
      if (f.json) {
        for (const w of full.warnings) process.stderr.write(`vaekit: warning: ${w}\n`);
        out(true, { ...full, report_file: file }, '');
      } else out(false, {}, `${formatEvalReport(full)}\n\nreport: ${file}`);
    } finally {
      model.dispose();
    }
  });

  // ---------------------------------------------------------------------------------------------- grad-variance
  const gvCmd = program
    .command('grad-variance <model>')
    .description(
      'variance of the encoder gradient: reparameterization vs score-function estimators, over many draws on one batch',
    )
    .option('--draws <n>', 'gradient draws per estimator', posInt('--draws'), 200)
    .option('--batch <n>', 'examples in the fixed batch', posInt('--batch'), 64)
    .option('--split <name>', 'train or test', 'test')
    .option('--seed <n>', 'seed', int('--seed'), 0)
    .option('--json', 'print the report as JSON');
  dataOptions(gvCmd, false);
  backendOption(gvCmd).action(async (dir, f) => {
    await initBackend(f.backend);
    const { model, meta } = await loadModel(dir);
    const data = await loadData(f, meta);
    checkShape(model, data);
    const split = pickSplit(data, f.split);
    const n = Math.min(f.batch, split.n);
    const x = tf.tensor2d(
      rowsAt(
        split,
        Array.from({ length: n }, (_, i) => i),
      ),
      [n, split.x.length / split.n],
    );
    const report = gradientVariance(model, x, { draws: f.draws, seed: f.seed });
    x.dispose();
    model.dispose();
    out(!!f.json, report as unknown as Record<string, unknown>, formatGradientVariance(report));
  });

  // ---------------------------------------------------------------------------------------------- info
  backendOption(
    program
      .command('info')
      .description('which compute backend, BLAS and threads are in use')
      .option('--json', 'as JSON'),
  ).action(async (f) => {
    const info = await initBackend(f.backend, true);
    out(
      !!f.json,
      { ...info },
      `backend: ${info.backend} (${info.detail})${info.warnings.length ? '\n' + info.warnings.join('\n') : ''}`,
    );
  });

  addTrainPriorCommand(program, cliHelpers);
  return program;
}

const cliHelpers: CliHelpers = {
  out,
  dataInfo,
  loadData,
  checkShape,
  dataOptions,
  backendOption,
  initBackend: (c, q) => initBackend(c, q),
};

function encodeAll(model: LatentVariableModel, split: Split): { mu: Float32Array; logVar: Float32Array; dim: number } {
  const bs = 1000;
  const parts: { mu: Float32Array; logVar: Float32Array }[] = [];
  let dim = 0;
  for (let s = 0; s < split.n; s += bs) {
    const t = take(
      { ...split, x: split.x.subarray(s * (split.x.length / split.n)), n: split.n - s, y: undefined },
      Math.min(bs, split.n - s),
    );
    const r = encode(
      model,
      t.x,
      t.n,
      labelsAt(
        model,
        split,
        Array.from({ length: t.n }, (_, i) => s + i),
        'encode',
      ),
    ); // a conditional model: q(z|x, y)
    dim = r.dim;
    parts.push(r);
  }
  const mu = new Float32Array(split.n * dim);
  const logVar = new Float32Array(split.n * dim);
  let o = 0;
  for (const p of parts) {
    mu.set(p.mu, o);
    logVar.set(p.logVar, o);
    o += p.mu.length;
  }
  return { mu, logVar, dim };
}

/** Runs the CLI; errors print one clear line and exit non-zero. */
export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) {
      process.exitCode = e.exitCode;
      return;
    }
    process.stderr.write(`vaekit: error: ${(e as Error).message}\n`);
    if (process.env.VAEKIT_DEBUG) process.stderr.write(`${(e as Error).stack}\n`);
    process.exitCode = 1;
  }
}
