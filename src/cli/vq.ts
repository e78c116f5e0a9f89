// The VQ-VAE's part of the `vaekit` command: its flags on `vaekit train --model vqvae`, the training run
// (the shared trainer with the VQ objective, then optionally the PixelCNN prior), `vaekit train-prior`,
// and what `sample`, `encode` and `eval` do differently for it. Like main.ts it does no math.
import type { Command } from 'commander';
import { Option } from 'commander';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type { BackendInfo } from '../backend/index.js';
import type { Dataset, Split } from '../data/dataset.js';
import { writeFileAtomic } from '../util/atomic.js';
import { readModelMeta, saveModel } from '../io/model.js';
import { type DataInfo, type ModelMeta } from '../models/files.js';
import { writePairs, writeRows } from '../io/outputs.js';
import { writeRunReport } from '../io/report.js';
import type { LatentVariableModel } from '../models/types.js';
import { DEFAULT_VQ_PRIOR, type VqPriorConfig } from '../nn/pixelcnn.js';
import { trainPrior } from '../train/fit-prior.js';
import { VQVAE, VQVAE_DEFAULTS } from '../models/vqvae.js';
import { type VqvaeConfig } from '../models/configs.js';
import type { NetworkSpec } from '../nn/index.js';
import { evaluateVq, vqTrainingObjective } from '../objectives/vq.js';
import { Rng } from '../rng.js';
import { encodeCodes, reconstruct } from '../tasks/generate.js';
import { train } from '../train/trainer.js';
import { evaluateVqModel, formatVqEvalReport, NO_TRAINED_PRIOR, type VqEvalOptions } from '../eval/vq-report.js';
import { int, nonNegInt, nonNegNum, posInt, posNum } from './options.js';
import { trainerOptionsFromFlags } from './run-flags.js';

/** Defaults of `vaekit train --model vqvae`: for 28×28 images two stride-2 4×4 convolutions give a 7×7 grid of codes. */
export const VQ_CLI_DEFAULTS = {
  codebook: 128,
  codeDim: 16,
  /** MLP networks: codes per example. */
  numCodes: 8,
  conv: { channels: [32, 64], kernel: 4, stride: 2, dense: [] as number[] },
  mlpHidden: [400],
  priorEpochs: 0,
  priorLr: 1e-3,
} as const;

const flagName = (k: string) => `--${k.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())}`;

/** The flags of `vaekit train` that only --model vqvae takes. */
const VQ_ONLY = [
  'codebook',
  'codeDim',
  'numCodes',
  'commitment',
  'ema',
  'emaDecay',
  'restartDead',
  'priorEpochs',
  'priorChannels',
  'priorLayers',
  'priorLr',
] as const;

function priorOptions(cmd: Command, forTrain: boolean): Command {
  return cmd
    .option(
      '--prior-channels <C>',
      `${forTrain ? 'vqvae: ' : ''}feature maps of the PixelCNN prior (default ${DEFAULT_VQ_PRIOR.channels})`,
      posInt('--prior-channels'),
    )
    .option(
      '--prior-layers <L>',
      `${forTrain ? 'vqvae: ' : ''}residual layers of the PixelCNN prior (default ${DEFAULT_VQ_PRIOR.layers})`,
      nonNegInt('--prior-layers'),
    );
}

/** Adds the VQ-VAE's flags to `vaekit train`. */
export function addVqTrainOptions(cmd: Command): Command {
  cmd
    .option('--codebook <K>', `vqvae: codebook size K (default ${VQ_CLI_DEFAULTS.codebook})`, posInt('--codebook'))
    .option(
      '--code-dim <D>',
      `vqvae: size D of each code vector (default ${VQ_CLI_DEFAULTS.codeDim})`,
      posInt('--code-dim'),
    )
    .option(
      '--num-codes <M>',
      `vqvae with --network mlp: codes per example (default ${VQ_CLI_DEFAULTS.numCodes}; a conv network's grid sets it)`,
      posInt('--num-codes'),
    )
    .option(
      '--commitment <b>',
      `vqvae: weight β of the commitment loss (default ${VQVAE_DEFAULTS.commitment})`,
      nonNegNum('--commitment'),
    )
    .option('--ema', 'vqvae: update the codebook by exponential moving averages instead of the codebook loss')
    .option(
      '--ema-decay <g>',
      `vqvae: decay γ of the EMA codebook updates, in (0, 1) (default ${VQVAE_DEFAULTS.ema.decay}; implies --ema)`,
      posNum('--ema-decay'),
    )
    .option(
      '--restart-dead <N>',
      'vqvae: move a code unused for N training steps to a random encoder output (0: never, the default)',
      nonNegInt('--restart-dead'),
    )
    .option(
      '--prior-epochs <n>',
      'vqvae: then fit the PixelCNN prior over the code grid for this many epochs (0: none; later: vaekit train-prior)',
      nonNegInt('--prior-epochs'),
    )
    .option(
      '--prior-lr <rate>',
      `vqvae: learning rate of the prior (default ${VQ_CLI_DEFAULTS.priorLr})`,
      posNum('--prior-lr'),
    );
  return priorOptions(cmd, true);
}

/** Errors for VQ-VAE flags given to another model. */
export function rejectVqFlags(f: Record<string, unknown>, model: string): void {
  for (const k of VQ_ONLY)
    if (f[k] !== undefined) throw new Error(`${flagName(k)} is an option of --model vqvae (not ${model})`);
}

function priorConfig(f: Record<string, any>, base: VqPriorConfig = DEFAULT_VQ_PRIOR): VqPriorConfig {
  return { type: 'pixelcnn', channels: f.priorChannels ?? base.channels, layers: f.priorLayers ?? base.layers };
}

/**
 * The VqvaeConfig of `vaekit train --model vqvae` flags. `given(name)`: whether a flag with a default
 * was given on the command line (those of the VAE objectives do not apply and are refused).
 */
export function vqvaeConfigFromFlags(
  f: Record<string, any>,
  data: Dataset,
  given: (name: string) => boolean,
): VqvaeConfig {
  const refuse = (flag: string, why: string) => {
    throw new Error(`--model vqvae: ${flag} ${why}`);
  };
  if (f.objective !== 'elbo')
    refuse(
      `--objective ${f.objective}`,
      'does not apply: the VQ-VAE trains its own objective (reconstruction + codebook + β·commitment; see --commitment)',
    );
  if (f.estimator !== 'reparam')
    refuse(`--estimator ${f.estimator}`, 'does not apply: the VQ-VAE passes gradients straight through the quantizer');
  if (f.freeBits !== undefined) refuse('--free-bits', 'does not apply: the VQ-VAE has no KL term to clamp');
  for (const k of ['beta', 'klWarmup', 'samples', 'k', 'baseline'])
    if (given(k)) refuse(flagName(k), 'does not apply: the VQ-VAE has no KL term and no sampled latent');
  for (const k of [
    'labelEncoding',
    'embeddingDim',
    'prior',
    'latents',
    'layerHidden',
    'cell',
    'rnnHidden',
    'embedding',
    'wordDropout',
    'latent',
  ])
    if (f[k] !== undefined)
      refuse(
        flagName(k),
        k === 'latent'
          ? 'does not apply: set the codes with --codebook K and --code-dim D'
          : 'is an option of another model',
      );
  if (f.preset !== undefined) refuse('--preset', 'does not apply (use --network mlp|conv)');
  if (f.sigma === 'learned') refuse('--sigma learned', "is not supported: the VQ-VAE's Gaussian decoder has a fixed σ");
  const image = data.shape.length === 3;
  const netType: string = f.network ?? (image ? 'conv' : 'mlp');
  let network: NetworkSpec;
  if (netType === 'conv') {
    if (!image)
      throw new Error(
        `--model vqvae --network conv needs image data, and ${data.name} has ${data.shape.join('×')} examples (use --network mlp)`,
      );
    if (f.numCodes !== undefined)
      refuse('--num-codes', 'is set by a conv network (its h×w grid of codes); it is an option of --network mlp');
    const c = VQ_CLI_DEFAULTS.conv;
    network = {
      type: 'conv',
      channels: f.channels ?? [...c.channels],
      kernel: f.kernel ?? c.kernel,
      stride: f.stride ?? c.stride,
      dense: f.hidden ?? [...c.dense],
      activation: f.activation,
    };
  } else {
    for (const flag of ['channels', 'kernel', 'stride'] as const)
      if (f[flag] !== undefined) throw new Error(`--${flag} is an option of --network conv`);
    network = { type: 'mlp', hidden: f.hidden ?? [...VQ_CLI_DEFAULTS.mlpHidden], activation: f.activation };
  }
  const likelihood = f.likelihood ?? (data.protocol === 'binary' ? 'bernoulli' : 'gaussian');
  const sigma = Number(f.sigma);
  if (likelihood === 'gaussian' && !(sigma > 0 && Number.isFinite(sigma)))
    refuse(`--sigma ${f.sigma}`, 'must be a positive number');
  const ema =
    f.ema || f.emaDecay !== undefined
      ? { decay: f.emaDecay ?? VQVAE_DEFAULTS.ema.decay, epsilon: VQVAE_DEFAULTS.ema.epsilon }
      : null;
  if (ema && !(ema.decay > 0 && ema.decay < 1)) refuse(`--ema-decay ${ema.decay}`, 'must be in (0, 1)');
  if (f.codebook !== undefined && f.codebook < 2) refuse(`--codebook ${f.codebook}`, 'must be at least 2');
  return {
    kind: 'vqvae',
    inputShape: data.shape,
    network,
    likelihood,
    ...(likelihood === 'gaussian' ? { sigma } : {}),
    codebookSize: f.codebook ?? VQ_CLI_DEFAULTS.codebook,
    codeDim: f.codeDim ?? VQ_CLI_DEFAULTS.codeDim,
    ...(netType === 'mlp' ? { numCodes: f.numCodes ?? VQ_CLI_DEFAULTS.numCodes } : {}),
    commitment: f.commitment ?? VQVAE_DEFAULTS.commitment,
    ema,
    ...(f.restartDead ? { restartAfter: f.restartDead } : {}),
    prior: priorConfig(f),
  };
}

export function describeVqvae(c: VqvaeConfig, grid?: [number, number]): string {
  const n = c.network;
  const net =
    n.type === 'conv'
      ? `conv [${n.channels.join(',')}] ${n.kernel}×${n.kernel}/${n.stride}${n.dense.length ? ` pointwise [${n.dense.join(',')}]` : ''}`
      : n.type === 'mlp'
        ? `mlp [${n.hidden.join(',')}]`
        : (n as { type: string }).type;
  const codes = grid ? `${grid[0]}×${grid[1]} codes` : `${c.numCodes} codes`;
  return (
    `vqvae ${net}, ${codes} from K=${c.codebookSize} × D=${c.codeDim}, commitment β=${c.commitment}` +
    `${c.ema ? `, EMA codebook γ=${c.ema.decay}` : ''}${c.restartAfter ? `, dead codes restarted after ${c.restartAfter} steps` : ''}` +
    `${c.prior ? `, PixelCNN prior ${c.prior.channels}×${c.prior.layers}` : ''}`
  );
}

/** Whether a saved VQ-VAE's PixelCNN prior has been fitted (its config.json says so, under training.prior). */
export function vqPriorTrained(meta: ModelMeta): boolean {
  return (
    meta.config.kind === 'vqvae' && !!meta.config.prior && !!(meta.training as { prior?: unknown } | undefined)?.prior
  );
}

export function asVqvae(model: LatentVariableModel, what: string): VQVAE {
  if (!(model instanceof VQVAE))
    throw new Error(
      `${what}: the model is a ${model.config.kind}, not a VQ-VAE (train one with vaekit train --model vqvae)`,
    );
  return model;
}

/** n samples: codes k ~ p(k) from the learned prior (logits / temperature), decoded (mean, or x ~ p(x|k) with sampleX). */
export function sampleVq(
  model: VQVAE,
  meta: ModelMeta,
  n: number,
  rng: Rng,
  opts: { temperature?: number; sampleX?: boolean } = {},
): Float32Array {
  if (!vqPriorTrained(meta)) throw new Error(NO_TRAINED_PRIOR);
  return tf.tidy(() => {
    const k = model.prior(n).sampleIndices(rng, opts.temperature ?? 1);
    const px = model.decode(k);
    return (opts.sampleX ? px.sample(rng) : px.mean()).dataSync() as Float32Array;
  });
}

/** `vaekit encode` of a VQ-VAE: the code indices k(x) of every example, columns k0 … k{M−1} (raster order over the grid). */
export async function writeCodes(
  model: VQVAE,
  split: Split,
  file: string,
  withLogvar: boolean,
): Promise<{ n: number; dim: number }> {
  if (withLogvar)
    throw new Error("--with-logvar: a VQ-VAE's posterior is a point mass on code indices, with no variance");
  const D = split.x.length / split.n;
  const M = model.numCodes;
  const codes = new Int32Array(split.n * M);
  for (let s = 0; s < split.n; s += 1000) {
    const e = Math.min(split.n, s + 1000);
    codes.set(encodeCodes(model, split.x.subarray(s * D, e * D), e - s).codes, s * M);
  }
  let text: string;
  if (file.endsWith('.json')) {
    const rows = Array.from({ length: split.n }, (_, i) => ({
      codes: Array.from(codes.subarray(i * M, (i + 1) * M)),
      ...(split.y ? { label: split.y[i] } : {}),
    }));
    text = JSON.stringify({ dim: M, grid: model.grid, codebook_size: model.K, n: split.n, rows }) + '\n';
  } else {
    const lines = [[...Array.from({ length: M }, (_, i) => `k${i}`), ...(split.y ? ['label'] : [])].join(',')];
    for (let i = 0; i < split.n; i++)
      lines.push([...codes.subarray(i * M, (i + 1) * M), ...(split.y ? [split.y[i]] : [])].join(','));
    text = lines.join('\n') + '\n';
  }
  await writeFileAtomic(file, text);
  return { n: split.n, dim: M };
}

/** Test figures per epoch while the VQ-VAE trains (no prior yet): reconstruction, MSE/PSNR, codebook usage. */
function testFigures(model: VQVAE, split: Split): Record<string, number> {
  const v = evaluateVq(model, split, { withPrior: false });
  return { rec: v.rec, mse: v.mse, psnr: v.psnr, perplexity: v.perplexity, usage: v.usage };
}

/** Final held-out figures (test split): MSE, PSNR, codebook perplexity/usage, and the prior's −log p(k) when fitted. */
export function finalVqFigures(model: VQVAE, split: Split, priorFitted: boolean): Record<string, number> {
  const v = evaluateVq(model, split, { withPrior: priorFitted });
  const out: Record<string, number> = {
    rec: v.rec,
    mse: v.mse,
    psnr: v.psnr,
    perplexity: v.perplexity,
    usage: v.usage,
    codes_used: Math.round(v.usage * model.K),
  };
  if (priorFitted) Object.assign(out, { prior_nll: v.kl, prior_bits_per_code: v.kl / (model.numCodes * Math.LN2) });
  return out;
}

interface FitPriorOptions {
  epochs: number;
  batchSize: number;
  seed: number;
  lr: number;
  progress?: string;
  limit?: number;
}

/** Fits the prior (the encoder fixed) and returns what config.json records of it under training.prior. */
async function fitPrior(
  model: VQVAE,
  data: Dataset,
  o: FitPriorOptions,
  log: (l: string) => void,
): Promise<Record<string, unknown>> {
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

export interface CliHelpers {
  out: (json: boolean, obj: Record<string, unknown>, text: string) => void;
  dataInfo: (d: Dataset) => DataInfo;
  loadData: (f: any, meta?: ModelMeta) => Promise<Dataset>;
  checkShape: (model: LatentVariableModel, d: Dataset) => void;
  dataOptions: (cmd: Command, withDefault: boolean) => Command;
  backendOption: (cmd: Command) => Command;
  initBackend: (choice: any, quiet?: boolean) => Promise<BackendInfo>;
}

/** `vaekit train --model vqvae`: the VQ-VAE with the shared trainer, then (--prior-epochs) its prior; samples, reconstructions, report. */
export async function trainVqvae(
  f: Record<string, any>,
  data: Dataset,
  info: BackendInfo,
  given: (name: string) => boolean,
  h: CliHelpers,
  flags?: Record<string, unknown>,
): Promise<void> {
  const config = vqvaeConfigFromFlags(f, data, given);
  const rng = new Rng(f.seed);
  const model = new VQVAE(config, rng.fork());
  const di = h.dataInfo(data);
  const log = (l: string) => process.stderr.write(l + '\n');
  log(
    `vaekit: ${data.name} (${data.protocol}, ${data.train.n} train / ${data.test.n} test, ${data.shape.join('×')}), ` +
      `${describeVqvae(config, model.grid)}, ${config.likelihood}${config.likelihood === 'gaussian' ? ` σ=${config.sigma}` : ''} decoder; backend ${info.backend} (${info.detail})`,
  );
  try {
    const evalTest = f.eval !== false;
    const result = await train(model, data, vqTrainingObjective, {
      ...trainerOptionsFromFlags(f, di),
      beta: 1,
      run: { objective: 'vq', backend: info.backend, ...(flags ? { flags } : {}) },
      evaluate: evalTest && data.test.n > 0 ? () => testFigures(model, data.test) : undefined,
    });
    const modelDir = path.join(f.out, 'model');
    await saveModel(modelDir, model, di, result.training);
    const priorEpochs: number = f.priorEpochs ?? VQ_CLI_DEFAULTS.priorEpochs;
    let prior: Record<string, unknown> | undefined;
    if (priorEpochs > 0) {
      prior = await fitPrior(
        model,
        data,
        {
          epochs: priorEpochs,
          batchSize: f.batchSize,
          seed: f.seed,
          lr: f.priorLr ?? VQ_CLI_DEFAULTS.priorLr,
          progress: f.progress,
        },
        log,
      );
      const meta = await readModelMeta(modelDir);
      await saveModel(modelDir, model, di, { ...meta.training, prior });
    }
    const artefacts: Record<string, string> = {};
    const image = data.shape.length === 3;
    if (prior) {
      const n = 64;
      const rows = tf.tidy(
        () =>
          model
            .decode(model.prior(n).sampleIndices(new Rng(f.seed + 1)))
            .mean()
            .dataSync() as Float32Array,
      );
      artefacts.samples = await writeRows(
        path.join(f.out, image ? 'samples.png' : 'samples.csv'),
        rows,
        n,
        data.shape,
        { cols: 8, normalizer: data.normalizer },
      );
    } else
      log(
        `vaekit: no samples.png: the prior over the codes is not trained (--prior-epochs N, or vaekit train-prior ${modelDir})`,
      );
    const nRec = Math.min(32, data.test.n);
    if (nRec > 0) {
      const D = data.test.x.length / data.test.n;
      const orig = data.test.x.slice(0, nRec * D);
      artefacts.reconstructions = await writePairs(
        path.join(f.out, image ? 'reconstructions.png' : 'reconstructions.csv'),
        orig,
        reconstruct(model, orig, nRec),
        nRec,
        data.shape,
        { normalizer: data.normalizer },
      );
    }
    const final = evalTest && data.test.n > 0 ? finalVqFigures(model, data.test, !!prior) : {};
    const report = await writeRunReport(f.out, {
      config,
      data: di,
      backend: info,
      metrics: result.metrics,
      final,
      artefacts,
      command: `vaekit ${process.argv.slice(2).join(' ')}`,
    });
    const pct = (v: number) => `${(100 * v).toFixed(1)}%`;
    h.out(
      !!f.json,
      {
        out: f.out,
        model: modelDir,
        final,
        epochs: result.state.epoch,
        steps: result.state.step,
        prior_epochs: prior ? priorEpochs : 0,
        report,
      },
      `done: ${result.state.epoch} epochs, ${result.state.step} steps${prior ? `, prior ${priorEpochs} epochs` : ''}; model in ${modelDir}; report ${report}` +
        (final.mse !== undefined
          ? `\ntest MSE ${final.mse.toFixed(5)}, PSNR ${final.psnr.toFixed(2)} dB; codebook perplexity ${final.perplexity.toFixed(2)}, ${final.codes_used} of ${config.codebookSize} codes used (${pct(final.usage)})` +
            (final.prior_nll !== undefined
              ? `; prior −log p(k) ${final.prior_nll.toFixed(2)} nats (${final.prior_bits_per_code.toFixed(3)} bits/code)`
              : '')
          : ''),
    );
  } finally {
    model.dispose();
  }
}

/** A copy of the model with a freshly initialised prior of config `prior` (the rest of its parameters copied). */
function withFreshPrior(model: VQVAE, prior: VqPriorConfig, rng: Rng): VQVAE {
  const fresh = new VQVAE({ ...model.config, prior }, rng);
  const src = model.namedParameters();
  for (const [k, v] of Object.entries(fresh.namedParameters())) if (!k.startsWith('prior.')) v.assign(src[k]);
  model.dispose();
  return fresh;
}

/** `vaekit train-prior MODEL`: fits (or refits) the PixelCNN prior of a saved VQ-VAE and saves the model again, atomically. */
export function addTrainPriorCommand(program: Command, h: CliHelpers): void {
  const cmd = program
    .command('train-prior <model>')
    .description(
      'fit (or refit) the PixelCNN prior over the code grid of a saved VQ-VAE, so that `vaekit sample` can draw new images; saves the model in place, atomically',
    )
    .option('--epochs <n>', 'epochs', posInt('--epochs'), 5)
    .option('--batch-size <n>', 'minibatch size', posInt('--batch-size'), 128)
    .option('--lr <rate>', 'learning rate (Adam)', posNum('--lr'), VQ_CLI_DEFAULTS.priorLr)
    .option('--seed <n>', 'seed (initialisation of a new prior, data order)', int('--seed'), 0)
    .option('--continue', "start from the current prior's weights (default: refit from a fresh initialisation)")
    .addOption(
      new Option('--progress <mode>', 'progress display').choices(['auto', 'bar', 'lines', 'none']).default('auto'),
    )
    .option('--json', 'print the summary as JSON');
  priorOptions(cmd, false);
  h.dataOptions(cmd, false);
  h.backendOption(cmd).action(async (dir: string, f: Record<string, any>) => {
    await h.initBackend(f.backend);
    const { loadModel } = await import('../io/model.js');
    const loaded = await loadModel(dir);
    let model: VQVAE | undefined;
    try {
      model = asVqvae(loaded.model, 'train-prior');
      const meta = loaded.meta;
      const data = await h.loadData(f, meta);
      h.checkShape(model, data);
      const cur = model.config.prior;
      const want = priorConfig(f, cur ?? DEFAULT_VQ_PRIOR);
      const same = !!cur && cur.channels === want.channels && cur.layers === want.layers;
      if (f.continue && !same)
        throw new Error(
          '--continue: the saved prior has another shape (or there is none) than --prior-channels/--prior-layers ask for; leave out --continue to fit a new one',
        );
      if (f.continue && !vqPriorTrained(meta))
        throw new Error("--continue: this VQ-VAE's prior has not been trained yet; leave out --continue");
      if (!f.continue) model = withFreshPrior(model, want, new Rng(f.seed));
      const log = (l: string) => process.stderr.write(l + '\n');
      const prior = await fitPrior(
        model,
        data,
        { epochs: f.epochs, batchSize: f.batchSize, seed: f.seed, lr: f.lr, progress: f.progress },
        log,
      );
      if (f.continue) prior.continued_from = (meta.training as { prior?: unknown } | undefined)?.prior;
      await saveModel(dir, model, meta.data, { ...meta.training, prior });
      const final = data.test.n > 0 ? finalVqFigures(model, data.test, true) : {};
      h.out(
        !!f.json,
        { model: dir, epochs: f.epochs, prior: { ...prior, history: undefined }, final },
        `done: prior fitted for ${f.epochs} epochs (${(prior.seconds as number).toFixed(0)} s); saved ${dir}` +
          (final.prior_nll !== undefined
            ? `\ntest −log p(k) ${final.prior_nll.toFixed(2)} nats per grid (${final.prior_bits_per_code.toFixed(3)} bits per code; uniform: ${Math.log2(model.K).toFixed(3)})`
            : ''),
      );
    } finally {
      (model ?? loaded.model).dispose();
    }
  });
}

/** `vaekit eval` of a VQ-VAE, once the evaluation classifier is settled (or not): the VQ report, written and printed. */
export async function evalVqCommand(
  model: VQVAE,
  meta: ModelMeta,
  dir: string,
  data: Dataset,
  split: Split,
  f: Record<string, any>,
  o: { samples: number; classifier?: VqEvalOptions['classifier']; skipped?: string; backend: string },
  h: Pick<CliHelpers, 'out'>,
): Promise<void> {
  const quick = !!f.quick;
  const log = (m: string) => process.stderr.write(m + '\n');
  const report = evaluateVqModel(model, split, {
    seed: f.seed,
    limit: f.n ?? (quick ? 1000 : undefined),
    priorTrained: vqPriorTrained(meta),
    samples: o.samples,
    sampleMode: f.sampleMode,
    classifier: o.classifier,
    sampleQualitySkipped: o.skipped,
    reference: f.split === 'test' ? data.train : data.test,
    backend: o.backend,
    log: f.json ? undefined : (m) => log(`vaekit: ${m}…`),
  });
  const full = { model: dir, dataset: data.name, protocol: data.protocol, split: f.split, ...report };
  const abs = path.resolve(dir);
  const file = f.out ?? path.join(path.dirname(abs), `${path.basename(abs)}.eval.json`);
  await writeFileAtomic(file, JSON.stringify(full, null, 2) + '\n');
  if (f.json) {
    for (const w of full.warnings) process.stderr.write(`vaekit: warning: ${w}\n`);
    h.out(true, { ...full, report_file: file }, '');
  } else h.out(false, {}, `${formatVqEvalReport(full)}\n\nreport: ${file}`);
}
