// The model kinds of `vaekit train --model`, one table: each kind's one-line description, the flags only it
// takes, its config from the flags, and the line that describes a built model. `vaekit train` adds the flags,
// refuses a kind's flags given to another kind, and builds the config through this table.
import { Option, type Command } from 'commander';
import type { Dataset } from '../data/dataset.js';
import type { ModelMeta } from '../models/files.js';
import type { ContinuousModelConfig, LatentVariableModel, ModelConfig } from '../models/index.js';
import { VQVAE_DEFAULTS } from '../models/vqvae.js';
import { seqVaeConfigFor } from '../models/seqvae.js';
import type { VqvaeConfig } from '../models/configs.js';
import type { NetworkSpec } from '../nn/index.js';
import type { Activation } from '../nn/mlp.js';
import { DEFAULT_VQ_PRIOR, type VqPriorConfig } from '../nn/pixelcnn.js';
import { flagName } from './common.js';
import { intList, nonNegInt, nonNegNum, posInt, posNum } from './options.js';

export type ModelKindName = ModelConfig['kind'];
type Flags = Record<string, any>;

export interface ModelKind {
  name: ModelKindName;
  /** A few words for --model's help ('' for none). */
  description: string;
  /** The flags only this kind takes (none has a default: a value means it was given). */
  options: () => Option[];
  /** The config of the flags; `given(name)`: whether a flag with a default was given on the command line. */
  config(f: Flags, data: Dataset, given: (name: string) => boolean): ModelConfig;
  /** One line: the network, the latent, the likelihood. */
  describe(config: ModelConfig, model: LatentVariableModel): string;
}

/** Canonical models of docs/PROTOCOL.md: a network and a latent width (`--model mlp|conv`, `--preset`). */
export const PRESETS: Record<string, { network: NetworkSpec; latent: number }> = {
  mlp: { network: { type: 'mlp', hidden: [400] }, latent: 20 },
  conv: { network: { type: 'conv', channels: [32, 64], kernel: 4, stride: 2, dense: [256] }, latent: 16 },
};

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

/** The PixelCNN prior's shape flags (`vaekit train --model vqvae`, `vaekit train-prior`). */
export function priorOptions(forTrain: boolean): Option[] {
  const p = forTrain ? 'vqvae: ' : '';
  return [
    new Option(
      '--prior-channels <C>',
      `${p}feature maps of the PixelCNN prior (default ${DEFAULT_VQ_PRIOR.channels})`,
    ).argParser(posInt('--prior-channels')),
    new Option(
      '--prior-layers <L>',
      `${p}residual layers of the PixelCNN prior (default ${DEFAULT_VQ_PRIOR.layers})`,
    ).argParser(nonNegInt('--prior-layers')),
  ];
}

/** Whether a saved VQ-VAE's PixelCNN prior has been fitted (its config.json says so, under training.prior). */
export function vqPriorTrained(meta: ModelMeta): boolean {
  return (
    meta.config.kind === 'vqvae' && !!meta.config.prior && !!(meta.training as { prior?: unknown } | undefined)?.prior
  );
}

export function priorConfig(f: Flags, base: VqPriorConfig = DEFAULT_VQ_PRIOR): VqPriorConfig {
  return { type: 'pixelcnn', channels: f.priorChannels ?? base.channels, layers: f.priorLayers ?? base.layers };
}

/** The network of --network mlp|conv, --hidden, --channels, --kernel, --stride, --activation over `defaults`. */
function networkOf(
  f: Flags,
  netType: string,
  defaults: { conv: Extract<NetworkSpec, { type: 'conv' }>; mlpHidden: number[] },
): NetworkSpec {
  const activation = f.activation as Activation;
  if (netType === 'conv') {
    const c = defaults.conv;
    return {
      type: 'conv',
      channels: f.channels ?? [...c.channels],
      kernel: f.kernel ?? c.kernel,
      stride: f.stride ?? c.stride,
      dense: f.hidden ?? [...c.dense],
      activation,
    };
  }
  for (const flag of ['channels', 'kernel', 'stride'] as const)
    if (f[flag] !== undefined) throw new Error(`--${flag} is an option of --network conv`);
  return { type: 'mlp', hidden: f.hidden ?? [...defaults.mlpHidden], activation };
}

/** What vae, cvae and hvae share: the preset, the network, the likelihood and the latent width. */
function continuousBase(f: Flags, data: Dataset) {
  const presetName: string | undefined = f.model in PRESETS ? f.model : f.preset;
  const netType: string = f.network ?? PRESETS[presetName ?? 'mlp']?.network.type ?? 'mlp';
  const preset = PRESETS[presetName ?? netType];
  if (!preset)
    throw new Error(`unknown --preset "${presetName ?? netType}" (expected ${Object.keys(PRESETS).join(', ')})`);
  const base = PRESETS[netType].network; // the network defaults: the preset's, or the canonical one of --network
  const network = networkOf(f, netType, {
    conv: base.type === 'conv' ? base : (PRESETS.conv.network as Extract<NetworkSpec, { type: 'conv' }>),
    mlpHidden: base.type === 'mlp' ? base.hidden : [400],
  });
  const likelihood = f.likelihood ?? (data.protocol === 'binary' ? 'bernoulli' : 'gaussian');
  if (
    (likelihood === 'discretized-logistic' || likelihood === 'local-logistic-mixture') &&
    data.protocol !== 'continuous'
  )
    throw new Error(
      `--likelihood ${likelihood} models 8-bit pixels k/255: it needs image data on the continuous protocol (this data set's protocol is ${data.protocol ?? 'none'})`,
    );
  const sigma: number | 'learned' = f.sigma === 'learned' ? 'learned' : posNum('--sigma')(f.sigma);
  if (f.logisticScale !== undefined && likelihood !== 'discretized-logistic')
    throw new Error('--logistic-scale is an option of --likelihood discretized-logistic');
  for (const [flag, v] of [
    ['--mixtures', f.mixtures],
    ['--neighbours', f.neighbours],
  ] as const)
    if (v !== undefined && likelihood !== 'local-logistic-mixture')
      throw new Error(`${flag} is an option of --likelihood local-logistic-mixture`);
  const latent: number = f.latent ?? preset.latent;
  const common = {
    inputShape: data.shape,
    latentDim: latent,
    network,
    likelihood,
    ...(likelihood === 'gaussian' ? { sigma } : {}),
    ...(f.logisticScale === 'decoder' ? { logisticScale: 'decoder' as const } : {}),
    ...(f.mixtures !== undefined ? { mixtures: f.mixtures as number } : {}),
    ...(f.neighbours !== undefined ? { neighbours: Number(f.neighbours) } : {}),
  };
  return { common, latent };
}

function describeContinuous(c: ContinuousModelConfig): string {
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
  return `${c.kind} ${net} z=${z}${extra} ${c.likelihood}`;
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

const continuous = (c: ModelConfig) => describeContinuous(c as ContinuousModelConfig);

/** The VqvaeConfig of `vaekit train --model vqvae` flags (the VAE objectives' flags are refused). */
function vqvaeConfig(f: Flags, data: Dataset, given: (name: string) => boolean): VqvaeConfig {
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
  if (f.latent !== undefined) refuse('--latent', 'does not apply: set the codes with --codebook K and --code-dim D');
  if (f.preset !== undefined) refuse('--preset', 'does not apply (use --network mlp|conv)');
  if (f.sigma === 'learned') refuse('--sigma learned', "is not supported: the VQ-VAE's Gaussian decoder has a fixed σ");
  const image = data.shape.length === 3;
  const netType: string = f.network ?? (image ? 'conv' : 'mlp');
  if (netType === 'conv' && !image)
    throw new Error(
      `--model vqvae --network conv needs image data, and ${data.name} has ${data.shape.join('×')} examples (use --network mlp)`,
    );
  if (netType === 'conv' && f.numCodes !== undefined)
    refuse('--num-codes', 'is set by a conv network (its h×w grid of codes); it is an option of --network mlp');
  const network = networkOf(f, netType, {
    conv: { type: 'conv', ...VQ_CLI_DEFAULTS.conv, channels: [...VQ_CLI_DEFAULTS.conv.channels] },
    mlpHidden: [...VQ_CLI_DEFAULTS.mlpHidden],
  });
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

export const MODEL_KINDS: readonly ModelKind[] = [
  {
    name: 'vae',
    description: '',
    options: () => [],
    config: (f, data) => ({ kind: 'vae', ...continuousBase(f, data).common }),
    describe: continuous,
  },
  {
    name: 'cvae',
    description: 'conditioned on the labels',
    options: () => [
      new Option('--label-encoding <e>', 'cvae: how y enters the networks (default onehot)').choices([
        'onehot',
        'embedding',
      ]),
      new Option('--embedding-dim <E>', 'cvae: width of the learned label embedding (default 16)').argParser(
        posInt('--embedding-dim'),
      ),
      new Option('--prior <p>', 'cvae: p(z|y) = N(0, I), or a learned Gaussian per class (default standard)').choices([
        'standard',
        'learned',
      ]),
    ],
    config: (f, data) => {
      if (!data.train.y) throw new Error(`--model cvae needs labelled data, and ${data.name} has no labels`);
      const numClasses = data.numClasses ?? data.train.y.reduce((m, v) => Math.max(m, v + 1), 0);
      const embedding =
        f.labelEncoding === 'embedding' || (f.labelEncoding === undefined && f.embeddingDim !== undefined);
      return {
        kind: 'cvae',
        ...continuousBase(f, data).common,
        numClasses,
        labelEncoding: embedding ? 'embedding' : 'onehot',
        ...(embedding ? { embeddingDim: f.embeddingDim ?? 16 } : {}),
        prior: f.prior ?? 'standard',
      };
    },
    describe: continuous,
  },
  {
    name: 'hvae',
    description: 'hierarchical',
    options: () => [
      new Option(
        '--latents <widths>',
        'hvae: widths of the stochastic layers z_1 … z_L, bottom to top (default: --latent, half of it)',
      ).argParser(intList('--latents')),
      new Option(
        '--layer-hidden <widths>',
        'hvae: hidden widths of the MLPs between stochastic layers (default 128)',
      ).argParser(intList('--layer-hidden')),
    ],
    config: (f, data) => {
      const { common, latent } = continuousBase(f, data);
      const latentDims: number[] = f.latents ?? [latent, Math.ceil(latent / 2)];
      if (latentDims.length < 2)
        throw new Error(`--latents needs two or more layer widths (bottom to top), got ${latentDims.join(',')}`);
      return {
        kind: 'hvae',
        ...common,
        latentDims,
        latentDim: latentDims.reduce((a, b) => a + b, 0),
        layerHidden: f.layerHidden ?? [128],
      };
    },
    describe: continuous,
  },
  {
    name: 'seqvae',
    description: 'recurrent, --dataset words or timeseries:PATH',
    options: () => [
      new Option('--cell <type>', 'seqvae: recurrent cell').choices(['gru', 'lstm']),
      new Option('--rnn-hidden <n>', 'seqvae: recurrent units per direction (default 192)').argParser(
        posInt('--rnn-hidden'),
      ),
      new Option(
        '--embedding <n>',
        'seqvae: width of the input embedding (default 32 for words, none for numeric series)',
      ).argParser(posInt('--embedding')),
      new Option('--word-dropout <p>', 'seqvae: word dropout rate in training (default 0)').argParser(
        nonNegNum('--word-dropout'),
      ),
    ],
    // Bowman et al. 2016: a recurrent VAE over sequences ([steps, width] data: --dataset words)
    config: (f, data) =>
      seqVaeConfigFor(data as Dataset & { vocabulary?: string }, {
        latentDim: f.latent ?? 16,
        cell: f.cell ?? 'gru',
        hidden: f.rnnHidden ?? 192,
        embedding: f.embedding, // default: 32 for tokens, none for numeric series
      }),
    describe: continuous,
  },
  {
    name: 'vqvae',
    description: 'vector-quantised, discrete codes; --codebook, --code-dim, --prior-epochs',
    options: () => [
      new Option('--codebook <K>', `vqvae: codebook size K (default ${VQ_CLI_DEFAULTS.codebook})`).argParser(
        posInt('--codebook'),
      ),
      new Option('--code-dim <D>', `vqvae: size D of each code vector (default ${VQ_CLI_DEFAULTS.codeDim})`).argParser(
        posInt('--code-dim'),
      ),
      new Option(
        '--num-codes <M>',
        `vqvae with --network mlp: codes per example (default ${VQ_CLI_DEFAULTS.numCodes}; a conv network's grid sets it)`,
      ).argParser(posInt('--num-codes')),
      new Option(
        '--commitment <b>',
        `vqvae: weight β of the commitment loss (default ${VQVAE_DEFAULTS.commitment})`,
      ).argParser(nonNegNum('--commitment')),
      new Option('--ema', 'vqvae: update the codebook by exponential moving averages instead of the codebook loss'),
      new Option(
        '--ema-decay <g>',
        `vqvae: decay γ of the EMA codebook updates, in (0, 1) (default ${VQVAE_DEFAULTS.ema.decay}; implies --ema)`,
      ).argParser(posNum('--ema-decay')),
      new Option(
        '--restart-dead <N>',
        'vqvae: move a code unused for N training steps to a random encoder output (0: never, the default)',
      ).argParser(nonNegInt('--restart-dead')),
      new Option(
        '--prior-epochs <n>',
        'vqvae: then fit the PixelCNN prior over the code grid for this many epochs (0: none; later: vaekit train-prior)',
      ).argParser(nonNegInt('--prior-epochs')),
      new Option(
        '--prior-lr <rate>',
        `vqvae: learning rate of the prior (default ${VQ_CLI_DEFAULTS.priorLr})`,
      ).argParser(posNum('--prior-lr')),
      ...priorOptions(true),
    ],
    config: vqvaeConfig,
    describe: (c, model) => {
      const v = c as VqvaeConfig;
      const grid = (model as { grid?: [number, number] }).grid;
      return `${describeVqvae(v, grid)}, ${v.likelihood}${v.likelihood === 'gaussian' ? ` σ=${v.sigma}` : ''} decoder`;
    },
  },
];

/** The kind of --model (mlp and conv are VAE presets). */
export function modelKind(model: string): ModelKind {
  const name = model in PRESETS ? 'vae' : model;
  const k = MODEL_KINDS.find((m) => m.name === name);
  if (!k) throw new Error(`unknown --model "${model}" (expected ${modelChoices().join(', ')})`);
  return k;
}

/** The values of --model: the kinds, then the presets. */
export const modelChoices = (): string[] => [...MODEL_KINDS.map((k) => k.name), ...Object.keys(PRESETS)];

/** --model's help: each kind with its few words, then the presets. */
export const modelHelp = (): string =>
  MODEL_KINDS.map((k) => (k.description ? `${k.name} (${k.description})` : k.name)).join(' | ') +
  `; ${Object.keys(PRESETS).join(' | ')}: the VAE of that preset`;

/** Adds the flags of the named kinds to `cmd`, in the order named. */
export function addKindOptions(cmd: Command, names: ModelKindName[]): Command {
  for (const name of names) for (const o of modelKind(name).options()) cmd.addOption(o);
  return cmd;
}

/** Refuses a flag of another kind than `--model`'s (and --preset against --model mlp|conv), before any work. */
export function checkKindFlags(f: Flags): ModelKind {
  const kind = modelKind(f.model);
  if (f.model in PRESETS && f.preset !== undefined && f.preset !== f.model)
    throw new Error(`--model ${f.model} is the ${f.model} preset; it conflicts with --preset ${f.preset}`);
  for (const other of MODEL_KINDS)
    if (other !== kind)
      for (const o of other.options())
        if (f[o.attributeName()] !== undefined)
          throw new Error(`${flagName(o.attributeName())} is an option of --model ${other.name} (not ${kind.name})`);
  return kind;
}
