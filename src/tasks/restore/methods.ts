// Restoration with a trained latent-variable model p(x, z) = p(z) p(x | z) and its encoder q(z | x):
//   naive   x̂ = E[x | y, z = μ(ỹ)], ỹ the degraded image as the encoder's input (missing values 0, low-res
//           blown up by nearest neighbours, noise clipped to [0, 1])
//   map     z* = argmax_z log p(y | z) + log p(z) by Adam from R starts (μ(ỹ) and R − 1 prior draws), the best
//           kept per image (Bora et al. 2017); x̂ = E[x | y, z*]
//   gibbs   pseudo-Gibbs (Rezende et al. 2014), inpainting: z ~ q(z | x̃), x̃_mis ~ p(x_mis | z), x̃_obs = y
//   mwg     Metropolis-within-Gibbs (Mattei & Frellsen 2018), inpainting: z' ~ q(z | x̃), accepted with
//           min(1, p(x̃ | z') p(z') q(z | x̃) / (p(x̃ | z) p(z) q(z' | x̃))), then x̃_mis ~ p(x_mis | z)
// E[x | y, z] is the decoder's p(x | z) updated by the measurement (conditionalMoments in measurement.ts: a
// precision-weighted blend for noise, the block means matched for superres), so naive and map agree with y.
// Uncertainty: several posterior samples z_l, each with its mean m_l and variance v_l of x | y, z, give the
// predictive mean Σ w_l m_l and per-value spread √(Σ w_l (v_l + m_l²) − (Σ w_l m_l)²): equal weights over the
// samplers' last L states (gibbs, mwg) and over z_l ~ q(z | ỹ) (naive); self-normalised importance weights
// w_l ∝ p(y | z_l) p(z_l) / q(z_l | x̂) with z_l ~ q(z | x̂) for map. Known pixels are clamped: x̂_obs = y_obs
// exactly and their spread is 0.
import * as tf from '@tensorflow/tfjs-core';
import type { LatentVariableModel } from '../../models/types.js';
import { isCodePosterior } from '../../models/types.js';
import { Rng } from '../../rng.js';
import type { Degraded, ImageShape } from './degrade.js';
import { conditionalMoments, decoderMoments, measurementLogLik } from './measurement.js';

export type RestoreMethod = 'naive' | 'map' | 'gibbs' | 'mwg';
export const RESTORE_METHODS: readonly RestoreMethod[] = ['naive', 'map', 'gibbs', 'mwg'];

export interface RestoreOptions {
  method: RestoreMethod;
  seed?: number;
  /** Posterior samples L behind the uncertainty (and the gibbs/mwg estimate). */
  samples?: number;
  /** map: starts R, Adam steps and learning rate. */
  restarts?: number;
  steps?: number;
  lr?: number;
  /** gibbs, mwg: sweeps T (the last `samples` are kept). */
  iterations?: number;
  /** Images per batch. */
  batchSize?: number;
}

export const RESTORE_DEFAULTS = {
  seed: 0,
  samples: 16,
  restarts: 4,
  steps: 150,
  lr: 0.05,
  iterations: 60,
  batchSize: 100,
} as const;

export interface Restoration {
  /** The restored images [n, D] at the clean shape (known pixels exactly y for inpainting). */
  x: Float32Array;
  /** Per-value predictive spread [n, D] (0 on known pixels). */
  uncertainty: Float32Array;
  method: RestoreMethod;
  options: Required<Omit<RestoreOptions, 'method'>>;
  /** mwg: the fraction of proposals accepted. */
  acceptance?: number;
}

/** An error unless the model has a continuous latent and needs no label (what the methods assume). */
export function checkRestorable(
  model: LatentVariableModel,
  method: RestoreMethod,
  task: Degraded['degradation']['task'],
): void {
  if (model.config.kind === 'vqvae')
    throw new Error('restore: the VQ-VAE has discrete codes; restoration needs a continuous latent z');
  if (model.numClasses)
    throw new Error('restore: a conditional model needs labels; restoration takes unlabelled images');
  if ((method === 'gibbs' || method === 'mwg') && task !== 'inpaint')
    throw new Error(`restore: --method ${method} imputes missing pixels, so it is for --task inpaint only`);
}

interface Batch {
  y: tf.Tensor2D; // observation
  input: tf.Tensor2D; // ỹ, the encoder's input at the clean size
  mask?: tf.Tensor2D;
}

function batchTensors(deg: Degraded, start: number, end: number): Batch {
  const D = deg.shape[0] * deg.shape[1] * deg.shape[2];
  const Dy = deg.yShape[0] * deg.yShape[1] * deg.yShape[2];
  const b = end - start;
  const y = tf.tensor2d(deg.y.subarray(start * Dy, end * Dy), [b, Dy]);
  if (deg.degradation.task === 'inpaint') {
    const mask = tf.tensor2d(deg.mask!.subarray(start * D, end * D), [b, D]);
    return { y, input: tf.keep(tf.mul(y, mask) as tf.Tensor2D), mask };
  }
  const input = tf.tidy(() => tf.clipByValue(tf.tensor2d(deg.display.subarray(start * D, end * D), [b, D]), 0, 1));
  return { y, input: input as tf.Tensor2D };
}

/** Posterior draws: z [L·B, dz] sample-major from q(z | x) for x [B, D]; also log q(z | x) [L·B]. */
function drawPosterior(
  model: LatentVariableModel,
  x: tf.Tensor2D,
  L: number,
  rng: Rng,
): { z: tf.Tensor2D; logQ: tf.Tensor1D } {
  return tf.tidy(() => {
    const q = model.encode(tf.tile(x, [L, 1]) as tf.Tensor2D);
    if (isCodePosterior(q)) throw new Error('restore: discrete codes');
    const z = q.sample(rng) as tf.Tensor2D;
    return { z, logQ: q.logProb(z) };
  });
}

/** Mixture moments over L samples (sample-major [L·B, D]) with weights w [L, B] (rows sum to one per image). */
function mixture(
  m: tf.Tensor2D,
  v: tf.Tensor2D,
  w: tf.Tensor2D,
  L: number,
): { mean: tf.Tensor2D; spread: tf.Tensor2D } {
  return tf.tidy(() => {
    const B = m.shape[0] / L,
      D = m.shape[1];
    const w3 = tf.reshape(w, [L, B, 1]);
    const m3 = tf.reshape(m, [L, B, D]),
      v3 = tf.reshape(v, [L, B, D]);
    const mean = tf.sum(tf.mul(w3, m3), 0) as tf.Tensor2D;
    const second = tf.sum(tf.mul(w3, tf.add(v3, tf.square(m3))), 0);
    return { mean, spread: tf.sqrt(tf.relu(tf.sub(second, tf.square(mean)))) as tf.Tensor2D };
  });
}

function clampKnown(x: tf.Tensor2D, spread: tf.Tensor2D, b: Batch): { x: tf.Tensor2D; spread: tf.Tensor2D } {
  if (!b.mask) return { x: tf.clipByValue(x, 0, 1) as tf.Tensor2D, spread };
  const keep = tf.sub(1, b.mask);
  return {
    x: tf.add(tf.mul(b.y, b.mask), tf.mul(tf.clipByValue(x, 0, 1), keep)) as tf.Tensor2D,
    spread: tf.mul(spread, keep) as tf.Tensor2D,
  };
}

const logPrior = (model: LatentVariableModel, z: tf.Tensor2D) => model.prior(z.shape[0]).logProb(z);

/** MAP in z by Adam from R starts; returns the best z per image. */
function mapLatent(
  model: LatentVariableModel,
  deg: Degraded,
  b: Batch,
  o: Required<Omit<RestoreOptions, 'method'>>,
  rng: Rng,
): tf.Tensor2D {
  const B = b.y.shape[0],
    R = o.restarts;
  const init = tf.tidy(() => {
    const q = model.encode(b.input);
    if (isCodePosterior(q)) throw new Error('restore: discrete codes');
    const mu = q.mu;
    if (R === 1) return mu;
    const draws = model.prior((R - 1) * B).sample(rng) as tf.Tensor2D;
    return tf.concat([mu, draws], 0);
  });
  const z = tf.variable(init, true);
  init.dispose();
  const yR = tf.tile(b.y, [R, 1]) as tf.Tensor2D;
  const maskR = b.mask ? (tf.tile(b.mask, [R, 1]) as tf.Tensor2D) : undefined;
  const objective = () =>
    tf.tidy(() =>
      tf.add(measurementLogLik(model.decode(z), yR, deg.degradation, deg.shape, maskR), logPrior(model, z)),
    );
  const opt = tf.train.adam(o.lr);
  for (let s = 0; s < o.steps; s++) {
    const cost = opt.minimize(() => tf.neg(tf.sum(objective())) as tf.Scalar, false, [z]);
    cost?.dispose();
  }
  const best = tf.tidy(() => {
    const score = tf.reshape(objective(), [R, B]);
    const idx = tf.argMax(score, 0) as tf.Tensor1D; // [B] restart index
    const rows = tf.cast(tf.add(tf.mul(idx, B), tf.range(0, B, 1)), 'int32') as tf.Tensor1D;
    return tf.gather(z, rows) as tf.Tensor2D;
  });
  opt.dispose();
  z.dispose();
  yR.dispose();
  maskR?.dispose();
  return best;
}

function restoreBatch(
  model: LatentVariableModel,
  deg: Degraded,
  b: Batch,
  method: RestoreMethod,
  o: Required<Omit<RestoreOptions, 'method'>>,
  rng: Rng,
  stats: { accepted: number; proposed: number },
): { x: tf.Tensor2D; spread: tf.Tensor2D } {
  const B = b.y.shape[0],
    L = o.samples;
  if (method === 'naive' || method === 'map') {
    const zHat =
      method === 'naive'
        ? (tf.tidy(() => (model.encode(b.input) as { mu: tf.Tensor2D }).mu) as tf.Tensor2D)
        : mapLatent(model, deg, b, o, rng);
    return tf.tidy(() => {
      const xHat = conditionalMoments(model.decode(zHat), b.y, deg.degradation, deg.shape).mean;
      const proposalX = method === 'naive' ? b.input : clampKnown(xHat, xHat, b).x;
      const { z, logQ } = drawPosterior(model, proposalX, L, rng);
      const yL = tf.tile(b.y, [L, 1]) as tf.Tensor2D;
      const { mean, variance } = conditionalMoments(model.decode(z), yL, deg.degradation, deg.shape);
      let w: tf.Tensor2D;
      if (method === 'naive') w = tf.fill([L, B], 1 / L) as tf.Tensor2D;
      else {
        const maskL = b.mask ? (tf.tile(b.mask, [L, 1]) as tf.Tensor2D) : undefined;
        const logW = tf.sub(
          tf.add(measurementLogLik(model.decode(z), yL, deg.degradation, deg.shape, maskL), logPrior(model, z)),
          logQ,
        );
        w = tf.transpose(tf.softmax(tf.transpose(tf.reshape(logW, [L, B])))) as tf.Tensor2D;
      }
      const { spread } = mixture(mean, variance, w, L);
      tf.dispose(zHat);
      return clampKnown(xHat, spread, b);
    });
  }
  // gibbs / mwg: a chain per image over (z, x̃_mis), x̃_obs = y_obs
  const mask = b.mask!;
  const keep = L;
  const T = Math.max(o.iterations, keep);
  const fill = (x: tf.Tensor2D) => tf.add(tf.mul(b.y, mask), tf.mul(x, tf.sub(1, mask))) as tf.Tensor2D;
  let xt = tf.keep(b.input);
  let zt: tf.Tensor2D | null = null;
  const means: tf.Tensor2D[] = [],
    vars: tf.Tensor2D[] = [];
  for (let t = 0; t < T; t++) {
    const next = tf.tidy(() => {
      const q = model.encode(xt);
      if (isCodePosterior(q)) throw new Error('restore: discrete codes');
      const zProp = q.sample(rng) as tf.Tensor2D;
      let z = zProp;
      if (method === 'mwg' && zt) {
        // log p(x̃ | z) + log p(z) at the proposal and at the current z, for the current x̃
        const ljProp = tf.add(model.decode(zProp).logProb(xt), logPrior(model, zProp)) as tf.Tensor1D;
        {
          const ljCur = tf.add(model.decode(zt).logProb(xt), logPrior(model, zt)) as tf.Tensor1D;
          const logRho = tf.sub(tf.add(ljProp, q.logProb(zt)), tf.add(ljCur, q.logProb(zProp)));
          const u = tf.tensor1d(rng.fillUniform(new Float32Array(B)));
          const accept = tf.less(tf.log(u), logRho);
          const acc = accept.dataSync();
          for (const a of acc) stats.accepted += a;
          stats.proposed += B;
          const a2 = tf.reshape(accept, [B, 1]);
          z = tf.where(tf.tile(a2, [1, zProp.shape[1]]), zProp, zt) as tf.Tensor2D;
        }
      }
      const p = model.decode(z);
      const { mean, variance } = decoderMoments(p);
      const x = fill(p.sample(rng) as tf.Tensor2D);
      return { z, x, mean, variance };
    });
    xt.dispose();
    xt = next.x;
    zt?.dispose();
    zt = next.z;
    if (t >= T - keep) {
      means.push(next.mean);
      vars.push(next.variance);
    } else {
      next.mean.dispose();
      next.variance.dispose();
    }
  }
  const out = tf.tidy(() => {
    const { mean, spread } = mixture(
      tf.concat(means, 0),
      tf.concat(vars, 0),
      tf.fill([keep, B], 1 / keep) as tf.Tensor2D,
      keep,
    );
    return clampKnown(mean, spread, b);
  });
  tf.dispose([xt, zt!, ...means, ...vars]);
  return out;
}

/**
 * Restores the degraded images with the model by `method` (see the top of the file): estimates and per-value
 * uncertainty, [n, D] each at the clean shape. Seeded: the same call gives the same result.
 */
export function restoreImages(model: LatentVariableModel, deg: Degraded, opts: RestoreOptions): Restoration {
  const o = { ...RESTORE_DEFAULTS, ...Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)) };
  const { method } = opts;
  delete (o as Partial<RestoreOptions>).method;
  const options = o as Required<Omit<RestoreOptions, 'method'>>;
  for (const k of ['samples', 'restarts', 'steps', 'iterations', 'batchSize'] as const)
    if (!(Number.isInteger(options[k]) && options[k] >= 1))
      throw new Error(`restore: ${k} must be a positive integer, got ${options[k]}`);
  if (!(options.lr > 0)) throw new Error(`restore: lr must be positive, got ${options.lr}`);
  checkRestorable(model, method, deg.degradation.task);
  const shape: ImageShape = deg.shape;
  const D = shape[0] * shape[1] * shape[2];
  const inputShape = (model.config as { inputShape?: number[] }).inputShape;
  if (inputShape && inputShape.reduce((a, c) => a * c, 1) !== D)
    throw new Error(`restore: the images are [${shape}], the model takes [${inputShape}]`);
  const rng = new Rng(options.seed);
  const x = new Float32Array(deg.n * D),
    uncertainty = new Float32Array(deg.n * D);
  const stats = { accepted: 0, proposed: 0 };
  for (let start = 0; start < deg.n; start += options.batchSize) {
    const end = Math.min(deg.n, start + options.batchSize);
    const b = batchTensors(deg, start, end);
    const r = restoreBatch(model, deg, b, method, options, rng, stats);
    x.set(r.x.dataSync(), start * D);
    uncertainty.set(r.spread.dataSync(), start * D);
    tf.dispose([r.x, r.spread, b.y, b.input, ...(b.mask ? [b.mask] : [])]);
  }
  const out: Restoration = { x, uncertainty, method, options };
  if (method === 'mwg') out.acceptance = stats.proposed ? stats.accepted / stats.proposed : 0;
  return out;
}
