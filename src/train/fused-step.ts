// The whole training step in one call, where the backend has one for the model and the objective: the
// dense VAE (tfjs Dense layers, ReLU hidden layers, linear outputs, a Bernoulli decoder) trained on the
// one-sample ELBO (any β, no free bits, no word dropout) with Adam: the canonical mlp model of
// docs/PROTOCOL.md. The native backend runs forward, backward and the Adam update of every parameter
// in C++ (native/train_step.cc) instead of ~150 tfjs kernels, tape entries and tensors a step. It is
// the same computation: the same ε from the run's Rng, drawn in the same order, the same Adam slots
// and step count, so checkpoints, resume and the learning curve are those of the tfjs path (the
// trainer test compares both with tfjs-cpu). VAEKIT_FUSED_STEP=0 turns it off.
import type * as tfl from '@tensorflow/tfjs-layers';
import * as tf from '@tensorflow/tfjs-core';
import { getInPlaceSteps, type DenseNet } from '../backend/inplace-steps.js';
import { VAE } from '../models/vae.js';
import type { LatentVariableModel } from '../models/types.js';
import { elboSamples } from '../objectives/elbo.js';
import type { Objective } from '../objectives/types.js';
import type { Rng } from '../rng.js';
import type { Optimizer } from './optimizers.js';

/** The terms a fused step reports, in the order of the ELBO's: total (β-weighted), rec, kl (batch means). */
export const FUSED_TERMS = ['total', 'rec', 'kl'];

/** Runs one step on a batch x [n, D]; the batch means of FUSED_TERMS, or null (nothing done) to take the tfjs path. */
export type FusedStep = (x: Float32Array, n: number, rng: Rng, beta: number, lr: number) => Float32Array | null;

/** The Dense stack of a network as a DenseNet (kernels and biases in order), or null if it is anything else. */
function denseNet(net: tfl.LayersModel, name: string, params: Record<string, tf.Variable>, optimizer: Optimizer) {
  const n: DenseNet = { params: [], m: [], s: [], dims: [] };
  const L = net.layers.length;
  for (let i = 0; i < L; i++) {
    const layer = net.layers[i];
    const c = layer.getConfig();
    if (layer.getClassName() !== 'Dense' || c.useBias === false) return null;
    if ((c.activation ?? 'linear') !== (i < L - 1 ? 'relu' : 'linear')) return null;
    const w = params[`${name}.layers.${i}.weight`],
      b = params[`${name}.layers.${i}.bias`];
    if (!w || !b || w.rank !== 2 || b.rank !== 1 || w.dtype !== 'float32' || b.dtype !== 'float32') return null;
    if (i === 0) n.dims.push(w.shape[0]);
    if (w.shape[0] !== n.dims[i] || b.shape[0] !== w.shape[1]) return null;
    n.dims.push(w.shape[1]);
    for (const [v, p] of [
      [w, 'weight'],
      [b, 'bias'],
    ] as const) {
      const key = `${name}.layers.${i}.${p}`;
      n.params.push(v);
      n.m.push(optimizer.slot(`${key}.m`, v.size));
      n.s.push(optimizer.slot(`${key}.v`, v.size));
    }
  }
  return n;
}

/**
 * The fused step for this model, objective and optimizer on the active backend, or null when one of
 * them is not what it computes (then the trainer runs the tfjs graph).
 */
export function fusedStepFor(
  model: LatentVariableModel,
  objective: Objective,
  optimizer: Optimizer,
  settings: { freeBits: number },
): FusedStep | null {
  if (process.env.VAEKIT_FUSED_STEP === '0') return null;
  const run = getInPlaceSteps(tf.getBackend())?.denseVaeStep;
  if (!run || elboSamples(objective) !== 1 || settings.freeBits > 0) return null;
  if (optimizer.config.kind !== 'adam') return null;
  if (!(model instanceof VAE) || model.config.likelihood !== 'bernoulli' || model.config.network.type !== 'mlp')
    return null;
  const params = model.namedParameters();
  const encoder = denseNet(model.encoder, 'encoder', params, optimizer);
  const decoder = denseNet(model.decoder, 'decoder', params, optimizer);
  if (!encoder || !decoder) return null;
  if (encoder.params.length + decoder.params.length !== Object.keys(params).length) return null; // other parameters
  const D = encoder.dims[0],
    Z = decoder.dims[0];
  if (encoder.dims[encoder.dims.length - 1] !== 2 * Z || decoder.dims[decoder.dims.length - 1] !== D) return null;
  const c = optimizer.config;
  return (x, n, rng, beta, lr) => {
    if (x.length !== n * D) return null;
    const t = optimizer.t + 1;
    const adam = { lr, beta1: c.beta1 ?? 0.9, beta2: c.beta2 ?? 0.999, eps: c.eps ?? 1e-8, t };
    // z = μ + σ ⊙ ε with ε drawn as DiagGaussian.sample draws it (one normal per latent, row-major)
    const eps = () => rng.fillNormal(new Float32Array(n * Z));
    const r = run({ encoder, decoder, x, batch: n, eps, beta, adam });
    if (!r) return null;
    if (r.every(Number.isFinite)) optimizer.t = t; // a non-finite loss updated nothing: the trainer stops
    return Float32Array.from(r);
  };
}
