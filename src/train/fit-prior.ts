// Fitting a VQ-VAE's PixelCNN prior after the VQ-VAE (van den Oord et al. 2017, §3.2; pythae's
// PixelCNN sampler): maximum likelihood on the code grids k(x) of the training data, the encoder fixed,
// with the shared trainer. The model file (src/models/vq-prior.ts) only defines p(k); fitting it lives here.
import * as tf from '@tensorflow/tfjs-core';
import { rowRange, rowSize } from '../data/split.js';
import type { Dataset, Split } from '../data/types.js';
import type { LatentVariableModel } from '../models/types.js';
import type { VQVAE } from '../models/vqvae.js';
import { priorNll } from '../objectives/vq-prior.js';
import type { OptimizerConfig } from './optimizers.js';
import type { ProgressMode } from './progress.js';
import { train } from './trainer.js';

/** The code grids k(x) of a split as a split of M float-valued indices per row (for the trainer's batching). */
export function codeSplit(model: VQVAE, split: Split, batchSize = 500): Split {
  const M = model.numCodes;
  const out = new Float32Array(split.n * M);
  for (let s = 0; s < split.n; s += batchSize) {
    const e = Math.min(split.n, s + batchSize);
    const k = tf.tidy(() =>
      model.encodeIndices(tf.tensor2d(rowRange(split, s, e), [e - s, rowSize(split)])).dataSync(),
    );
    out.set(k, s * M);
  }
  return { x: out, n: split.n, shape: [M], y: split.y };
}

/**
 * The VQ-VAE seen by the trainer while its prior is fitted: only the PixelCNN's parameters are named
 * (so only they are optimised); everything else is the VQ-VAE's own. Not for saving (it would save only the prior).
 */
export function priorTrainingView(model: VQVAE): LatentVariableModel {
  const net = model.priorNet;
  if (!net) throw new Error('this VQ-VAE has no learned prior (config.prior is null)');
  const params = () => {
    const all = model.namedParameters();
    return Object.fromEntries(Object.entries(all).filter(([k]) => k.startsWith('prior.')));
  };
  const view: LatentVariableModel = {
    config: model.config,
    prior: (b: number) => model.prior(b),
    encode: (x: tf.Tensor2D) => model.encode(x),
    decode: (z: tf.Tensor2D) => model.decode(z),
    variables: () => Object.values(params()),
    networks: () => ({ prior: net }),
    namedParameters: params,
    dispose: () => {},
  };
  return view;
}

export interface PriorTrainOptions {
  epochs: number;
  batchSize: number;
  seed: number;
  optimizer?: OptimizerConfig;
  lrSchedule?: string;
  maxSteps?: number;
  progress?: ProgressMode;
  log?: (line: string) => void;
}

export interface PriorTrainResult {
  /** Per-epoch figures: loss = −log p(k) (nats per grid), bits_per_code, test_* on the test split's codes. */
  metrics: Record<string, number>[];
  seconds: number;
}

/**
 * Fits the PixelCNN prior of a trained VQ-VAE to the codes of data.train (the encoder is fixed), with
 * the shared trainer; the test split's codes give test_loss / test_bits_per_code per epoch. Saves
 * nothing: save the whole VQ-VAE afterwards (saveModel).
 */
export async function trainPrior(model: VQVAE, data: Dataset, opts: PriorTrainOptions): Promise<PriorTrainResult> {
  if (!tf.getKernel('Conv2DBackpropFilter', tf.getBackend()))
    throw new Error(
      `training the PixelCNN prior needs convolution gradients, which the ${tf.getBackend()} backend lacks (build the native backend: npm run build:native)`,
    );
  const t0 = performance.now();
  const M = model.numCodes;
  const codes: Dataset = {
    ...data,
    name: `${data.name}:codes`,
    train: codeSplit(model, data.train),
    test: codeSplit(model, data.test),
    shape: [M],
    protocol: 'codes',
  };
  const view = priorTrainingView(model);
  const evaluate = () => {
    const split = codes.test;
    const sums: Record<string, number> = {};
    for (let s = 0; s < split.n; s += 500) {
      const e = Math.min(split.n, s + 500);
      tf.tidy(() => {
        const t = priorNll(model, tf.tensor2d(rowRange(split, s, e), [e - s, M]));
        for (const [k, v] of Object.entries(t)) sums[k] = (sums[k] ?? 0) + tf.sum(v).dataSync()[0];
      });
    }
    return Object.fromEntries(Object.entries(sums).map(([k, v]) => [k, v / split.n]));
  };
  const { metrics } = await train(view, codes, (_m, x) => priorNll(model, x), {
    epochs: opts.epochs,
    maxSteps: opts.maxSteps,
    batchSize: opts.batchSize,
    seed: opts.seed,
    optimizer: opts.optimizer ?? { kind: 'adam', lr: 1e-3 },
    lrSchedule: opts.lrSchedule,
    beta: 1,
    progress: opts.progress,
    dataInfo: { dataset: codes.name, protocol: 'codes', shape: [M] },
    evaluate: codes.test.n > 0 ? evaluate : undefined,
    log: opts.log,
  });
  return { metrics: metrics as unknown as Record<string, number>[], seconds: (performance.now() - t0) / 1000 };
}
