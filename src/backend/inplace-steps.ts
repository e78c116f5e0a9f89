// In-place optimizer steps by backend: a backend that can update a variable's memory in place (the
// native backend: one C++ loop per parameter) registers its steps here when it registers itself;
// fused.ts asks for the active backend's and otherwise runs the same update as plain tfjs ops.
// Browser-safe: no node: module, no addon.
import type * as tf from '@tensorflow/tfjs-core';
import type { RngState } from '../rng.js';

export interface AdamStepOptions {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  /** 1-based step count (bias correction). */
  t: number;
}
export interface SgdStepOptions {
  lr: number;
  momentum: number;
  nesterov?: boolean;
}
export interface AdagradStepOptions {
  lr: number;
  eps: number;
}

/** One network of a dense VAE for denseVaeStep: its kernels and biases in layer order, their Adam moments, widths. */
export interface DenseNet {
  /** [kernel0 [d0, d1], bias0 [d1], kernel1, bias1, ...] */
  params: tf.Variable[];
  m: Float32Array[];
  s: Float32Array[];
  /** d0 → d1 → … → dL */
  dims: number[];
}

/**
 * One whole training step of a dense VAE (ReLU hidden layers, linear outputs; encoder → [μ | log σ²],
 * decoder → Bernoulli logits; loss mean_b[BCE + β·KL], one ε per example; Adam): forward, backward
 * and the update of every parameter, in place. `eps` is asked for only once the step can run.
 */
export interface DenseVaeStepArgs {
  encoder: DenseNet;
  decoder: DenseNet;
  x: Float32Array;
  batch: number;
  eps: () => Float32Array;
  beta: number;
  adam: AdamStepOptions;
}

/**
 * The convolutions of a conv VAE for convVaeStep: kernels and biases in layer order, their Adam moments.
 * Encoder: conv2d kernels [k, k, c_in, c_out]; decoder: conv2dTranspose kernels [k, k, c_out, c_in].
 * `images[i]`: the [H, W, C] that layer i's convolution reads ('same' padding, `stride`): the encoder
 * layer's input, the transposed convolution's output.
 */
export interface ConvNet {
  params: tf.Variable[];
  m: Float32Array[];
  s: Float32Array[];
  stride: number;
  images: [number, number, number][];
}

/**
 * One whole training step of a conv VAE (src/nn/conv.ts: ReLU convolutions, CHW flatten, ReLU dense
 * layers, [μ | log σ²]; decoder ReLU dense layers, HWC, ReLU transposed convolutions, a linear last
 * one giving Bernoulli logits; the ELBO and Adam as denseVaeStep). `grads` (tests): receives every
 * parameter's gradient, in the order encConv, encDense, decDense, decConv.
 */
export interface ConvVaeStepArgs {
  encConv: ConvNet;
  encDense: DenseNet;
  decDense: DenseNet;
  decConv: ConvNet;
  x: Float32Array;
  batch: number;
  eps: () => Float32Array;
  beta: number;
  adam: AdamStepOptions;
  grads?: Float32Array[];
}

/**
 * A backend's in-place steps. Each returns true when it updated `v` (and the state arrays) in place,
 * false when it cannot for these tensors (e.g. a dtype it does not hold as a Float32Array); the
 * caller then runs the tfjs update. Sizes are checked by the caller.
 */
export interface InPlaceSteps {
  adam(v: tf.Variable, g: tf.Tensor, m: Float32Array, s: Float32Array, o: AdamStepOptions): boolean;
  sgd(v: tf.Variable, g: tf.Tensor, mom: Float32Array | null, o: SgdStepOptions): boolean;
  adagrad(v: tf.Variable, g: tf.Tensor, acc: Float32Array, o: AdagradStepOptions): boolean;
  /** The whole step of a dense VAE: [mean loss, mean rec, mean KL], or null (nothing done) when it cannot run. */
  denseVaeStep?(a: DenseVaeStepArgs): [number, number, number] | null;
  /** The whole step of a conv VAE: [mean loss, mean rec, mean KL], or null (nothing done) when it cannot run. */
  convVaeStep?(a: ConvVaeStepArgs): [number, number, number] | null;
  /**
   * The k-sample importance log-weights of a dense VAE's Bernoulli decoder (nothing is updated):
   * log p(x|z) + log p(z) − log q(z|x) for z = μ + σ ⊙ ε, [k·B] sample-major; null when it cannot run.
   */
  denseVaeLogWeights?(a: DenseVaeLogWeightsArgs): Float32Array | null;
  /**
   * rng.fillNormal(out), value for value and leaving rng in the same state (the native backend: the same
   * generator and Box-Muller in C++ with V8's own log/sin/cos); false (nothing drawn) when it cannot.
   */
  fillNormal?(rng: { getState(): RngState; setState(s: RngState): void }, out: Float32Array): boolean;
}

export interface DenseVaeLogWeightsArgs {
  /** The decoder's kernels and biases in layer order, and its widths Z → … → D. */
  decoder: { params: tf.Variable[]; dims: number[] };
  /** q(z|x): μ and log σ², [B, Z] */
  mu: Float32Array;
  logVar: Float32Array;
  /** ε [k·B, Z], sample-major; asked for only once the kernel can run */
  eps: () => Float32Array;
  x: Float32Array;
  k: number;
  batch: number;
}

const registry = new Map<string, InPlaceSteps>();

/** Registers (or replaces) the in-place steps of `backendName`. */
export function registerInPlaceSteps(backendName: string, steps: InPlaceSteps): void {
  registry.set(backendName, steps);
}

/** The in-place steps of `backendName`, if that backend registered any. */
export function getInPlaceSteps(backendName: string): InPlaceSteps | undefined {
  return registry.get(backendName);
}
