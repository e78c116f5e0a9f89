// The fused training step of the conv VAE (src/nn/conv.ts's networks: the canonical conv model of
// docs/PROTOCOL.md and other channel, kernel, stride and dense widths) with a Bernoulli decoder, the
// one-sample ELBO and Adam: forward, backward and the update of every parameter in one native call
// (native/conv_step.cc) instead of ~200 tfjs kernels, tape entries and tensors a step. Same ε from the
// run's Rng in the same order, the same Adam slots and step count as the tfjs path (fused-step.ts says
// the rest); test/native-conv-vae.test.ts compares its gradients, its step and its learning curve with
// the tfjs graph's.
import type * as tfl from '@tensorflow/tfjs-layers';
import type * as tf from '@tensorflow/tfjs-core';
import type { AdamStepOptions, ConvNet, DenseNet, InPlaceSteps } from '../backend/inplace-steps.js';
import { VAE } from '../models/vae.js';
import type { LatentVariableModel } from '../models/types.js';
import type { Rng } from '../rng.js';
import type { Optimizer } from './optimizers.js';

/** fused-step.ts's FusedStep (not imported: fused-step.ts imports this module). */
type FusedStep = (x: Float32Array, n: number, rng: Rng, beta: number, lr: number) => Float32Array | null;

interface Stack {
  params: tf.Variable[];
  names: string[];
}
/** A conv VAE as convVaeStep computes it: parameters by stack, the convolutions' images, the dense widths. */
export interface ConvVaeLayers {
  encConv: Stack & { stride: number; images: [number, number, number][] };
  encDense: Stack & { dims: number[] };
  decDense: Stack & { dims: number[] };
  decConv: Stack & { stride: number; images: [number, number, number][] };
}

type Cfg = Record<string, any>;

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/**
 * The model as the conv VAE the fused step computes, or null: encoder reshape → conv2d ('same', ReLU,
 * bias)… → permute to CHW → flatten → dense ReLU… → dense linear [μ | log σ²]; decoder dense ReLU…
 * (the last one the feature map) → reshape CHW → permute to HWC → conv2dTranspose ('same', ReLU)… →
 * conv2dTranspose (linear) to the image, no crop → flatten; no other parameters.
 */
export function convVae(model: LatentVariableModel): ConvVaeLayers | null {
  if (!(model instanceof VAE) || model.config.likelihood !== 'bernoulli' || model.config.network.type !== 'conv')
    return null;
  const params = model.namedParameters();
  const take = (net: string, i: number, s: Stack, rank: number): tf.Variable | null => {
    const w = params[`${net}.layers.${i}.weight`],
      b = params[`${net}.layers.${i}.bias`];
    if (!w || !b || w.rank !== rank || b.rank !== 1 || w.dtype !== 'float32' || b.dtype !== 'float32') return null;
    s.params.push(w, b);
    s.names.push(`${net}.layers.${i}.weight`, `${net}.layers.${i}.bias`);
    return w;
  };
  const convOk = (c: Cfg, act: string, k: number, st: number) =>
    c.padding === 'same' &&
    c.useBias !== false &&
    (c.activation ?? 'linear') === act &&
    (c.dataFormat ?? 'channelsLast') === 'channelsLast' &&
    same(c.kernelSize, [k, k]) &&
    same(c.strides, [st, st]) &&
    (c.dilationRate === undefined || same(c.dilationRate, [1, 1]));
  const { kernel, stride } = model.config.network;
  const layers = (m: tfl.LayersModel) => m.layers.map((l) => ({ cls: l.getClassName(), c: l.getConfig() as Cfg }));

  // encoder
  const enc = layers(model.encoder);
  const encConv: ConvVaeLayers['encConv'] = { params: [], names: [], stride, images: [] };
  const encDense: ConvVaeLayers['encDense'] = { params: [], names: [], dims: [] };
  let i = 0;
  if (enc[i]?.cls === 'InputLayer') i++;
  if (enc[i]?.cls !== 'Reshape') return null;
  let img = enc[i++].c.targetShape as number[];
  if (!Array.isArray(img) || img.length !== 3) return null;
  for (; enc[i]?.cls === 'Conv2D'; i++) {
    if (!convOk(enc[i].c, 'relu', kernel, stride)) return null;
    const w = take('encoder', i, encConv, 4);
    if (!w || w.shape[2] !== img[2]) return null;
    encConv.images.push([img[0], img[1], img[2]]);
    img = [Math.ceil(img[0] / stride), Math.ceil(img[1] / stride), w.shape[3]!];
  }
  if (!encConv.images.length || enc[i]?.cls !== 'Permute' || !same(enc[i++].c.dims, [3, 1, 2])) return null;
  if (enc[i++]?.cls !== 'Flatten') return null;
  encDense.dims.push(img[0] * img[1] * img[2]);
  for (; enc[i]?.cls === 'Dense'; i++) {
    const last = i === enc.length - 1;
    if ((enc[i].c.activation ?? 'linear') !== (last ? 'linear' : 'relu') || enc[i].c.useBias === false) return null;
    const w = take('encoder', i, encDense, 2);
    if (!w || w.shape[0] !== encDense.dims[encDense.dims.length - 1]) return null;
    encDense.dims.push(w.shape[1]!);
  }
  if (i !== enc.length || encDense.dims.length < 2) return null;

  // decoder
  const dec = layers(model.decoder);
  const decDense: ConvVaeLayers['decDense'] = { params: [], names: [], dims: [] };
  const decConv: ConvVaeLayers['decConv'] = { params: [], names: [], stride, images: [] };
  i = 0;
  if (dec[i]?.cls === 'InputLayer') i++;
  for (; dec[i]?.cls === 'Dense'; i++) {
    if (dec[i].c.activation !== 'relu' || dec[i].c.useBias === false) return null;
    const w = take('decoder', i, decDense, 2);
    if (!w) return null;
    if (!decDense.dims.length) decDense.dims.push(w.shape[0]);
    if (w.shape[0] !== decDense.dims[decDense.dims.length - 1]) return null;
    decDense.dims.push(w.shape[1]!);
  }
  if (decDense.dims.length < 2 || dec[i]?.cls !== 'Reshape') return null;
  const chw = dec[i++].c.targetShape as number[];
  if (!Array.isArray(chw) || chw.length !== 3 || chw[0] * chw[1] * chw[2] !== decDense.dims[decDense.dims.length - 1])
    return null;
  if (dec[i]?.cls !== 'Permute' || !same(dec[i++].c.dims, [2, 3, 1])) return null;
  let map = [chw[1], chw[2], chw[0]];
  for (; dec[i]?.cls === 'Conv2DTranspose'; i++) {
    const last = dec[i + 1]?.cls !== 'Conv2DTranspose';
    if (!convOk(dec[i].c, last ? 'linear' : 'relu', kernel, stride)) return null;
    const w = take('decoder', i, decConv, 4); // [k, k, out, in]
    if (!w || w.shape[3] !== map[2]) return null;
    map = [map[0] * stride, map[1] * stride, w.shape[2]!];
    decConv.images.push([map[0], map[1], map[2]]);
  }
  if (!decConv.images.length || dec[i++]?.cls !== 'Flatten' || i !== dec.length) return null;
  // the decoder ends on the encoder's image (no crop), one logit per value
  if (!same(map, encConv.images[0])) return null;
  const n = [encConv, encDense, decDense, decConv].reduce((a, s) => a + s.params.length, 0);
  if (n !== Object.keys(params).length) return null; // other parameters
  if (encDense.dims[encDense.dims.length - 1] !== 2 * decDense.dims[0]) return null;
  return { encConv, encDense, decDense, decConv };
}

/** The fused conv step on `steps` (the backend's), or null when the model is not a conv VAE it computes. */
export function convFusedStep(model: LatentVariableModel, optimizer: Optimizer, steps: InPlaceSteps): FusedStep | null {
  const run = steps.convVaeStep;
  if (!run) return null;
  const vae = convVae(model);
  if (!vae) return null;
  // the Adam slots of the tfjs path (optimizers.ts), so that either path can resume the other's checkpoint
  const slots = (n: Stack) => ({
    m: n.params.map((v, i) => optimizer.slot(`${n.names[i]}.m`, v.size)),
    s: n.params.map((v, i) => optimizer.slot(`${n.names[i]}.v`, v.size)),
  });
  const conv = (n: ConvVaeLayers['encConv']): ConvNet => ({
    params: n.params,
    stride: n.stride,
    images: n.images,
    ...slots(n),
  });
  const dense = (n: ConvVaeLayers['encDense']): DenseNet => ({ params: n.params, dims: n.dims, ...slots(n) });
  const nets = {
    encConv: conv(vae.encConv),
    encDense: dense(vae.encDense),
    decDense: dense(vae.decDense),
    decConv: conv(vae.decConv),
  };
  const [H, W, C] = vae.encConv.images[0];
  const D = H * W * C,
    Z = vae.decDense.dims[0];
  return adamFusedStep(optimizer, D, Z, (x, batch, eps, beta, adam) => run({ ...nets, x, batch, eps, beta, adam }));
}

/**
 * A FusedStep around a whole-step kernel `call` of a VAE with D inputs and Z latents and Adam: the
 * optimizer's hyperparameters and next step count, ε drawn from the run's Rng once the kernel can run;
 * the step count advances when the loss is finite (a non-finite one updated nothing: the trainer stops).
 */
export function adamFusedStep(
  optimizer: Optimizer,
  D: number,
  Z: number,
  call: (
    x: Float32Array,
    n: number,
    eps: () => Float32Array,
    beta: number,
    adam: AdamStepOptions,
  ) => [number, number, number] | null,
): FusedStep {
  const c = optimizer.config;
  return (x, n, rng, beta, lr) => {
    if (x.length !== n * D) return null;
    const t = optimizer.t + 1;
    const adam = { lr, beta1: c.beta1 ?? 0.9, beta2: c.beta2 ?? 0.999, eps: c.eps ?? 1e-8, t };
    // z = μ + σ ⊙ ε with ε drawn as DiagGaussian.sample draws it (one normal per latent, row-major)
    const eps = () => rng.fillNormal(new Float32Array(n * Z));
    const r = call(x, n, eps, beta, adam);
    if (!r) return null;
    if (r.every(Number.isFinite)) optimizer.t = t;
    return Float32Array.from(r);
  };
}
