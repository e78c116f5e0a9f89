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
import { adamFusedStep, convFusedStep } from './fused-conv-step.js';

/** The terms a fused step reports, in the order of the ELBO's: total (β-weighted), rec, kl (batch means). */
export const FUSED_TERMS = ['total', 'rec', 'kl'];

/** Runs one step on a batch x [n, D]; the batch means of FUSED_TERMS, or null (nothing done) to take the tfjs path. */
export type FusedStep = (x: Float32Array, n: number, rng: Rng, beta: number, lr: number) => Float32Array | null;

/** A network's Dense stack: kernels and biases in layer order, and the widths d0 → … → dL. */
export interface DenseLayers {
  params: tf.Variable[];
  /** parameter names, as namedParameters gives them */
  names: string[];
  dims: number[];
}

/** The Dense stack of a network (ReLU hidden layers, linear output), or null if it is anything else. */
function denseLayers(net: tfl.LayersModel, name: string, params: Record<string, tf.Variable>): DenseLayers | null {
  const n: DenseLayers = { params: [], names: [], dims: [] };
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
    n.params.push(w, b);
    n.names.push(`${name}.layers.${i}.weight`, `${name}.layers.${i}.bias`);
  }
  return n;
}

/**
 * The model as a dense VAE with a Bernoulli decoder (what the fused native kernels compute), or null:
 * encoder D → … → 2Z ([μ | log σ²]), decoder Z → … → D (logits), and no other parameters.
 */
export function denseVae(model: LatentVariableModel): { encoder: DenseLayers; decoder: DenseLayers } | null {
  if (!(model instanceof VAE) || model.config.likelihood !== 'bernoulli' || model.config.network.type !== 'mlp')
    return null;
  const params = model.namedParameters();
  const encoder = denseLayers(model.encoder, 'encoder', params);
  const decoder = denseLayers(model.decoder, 'decoder', params);
  if (!encoder || !decoder) return null;
  if (encoder.params.length + decoder.params.length !== Object.keys(params).length) return null; // other parameters
  const D = encoder.dims[0],
    Z = decoder.dims[0];
  if (encoder.dims[encoder.dims.length - 1] !== 2 * Z || decoder.dims[decoder.dims.length - 1] !== D) return null;
  return { encoder, decoder };
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
  const steps = getInPlaceSteps(tf.getBackend());
  if (!steps || elboSamples(objective) !== 1 || settings.freeBits > 0) return null;
  if (optimizer.config.kind !== 'adam') return null;
  const vae = denseVae(model);
  if (!vae) return convFusedStep(model, optimizer, steps); // the conv VAE's (fused-conv-step.ts)
  const run = steps.denseVaeStep;
  if (!run) return null;
  // the Adam slots of the tfjs path (optimizers.ts), so that either path can resume the other's checkpoint
  const withSlots = (n: DenseLayers): DenseNet => ({
    params: n.params,
    dims: n.dims,
    m: n.params.map((v, i) => optimizer.slot(`${n.names[i]}.m`, v.size)),
    s: n.params.map((v, i) => optimizer.slot(`${n.names[i]}.v`, v.size)),
  });
  const encoder = withSlots(vae.encoder),
    decoder = withSlots(vae.decoder);
  const D = encoder.dims[0],
    Z = decoder.dims[0];
  return adamFusedStep(optimizer, D, Z, (x, batch, eps, beta, adam) =>
    run({ encoder, decoder, x, batch, eps, beta, adam }),
  );
}
