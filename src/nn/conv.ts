// Convolutional encoders and decoders for images, and the conditional (two-input) form of the networks,
// as tfjs-layers functional models. x travels flat [B, H·W·C] at the edges: the encoder starts with a
// reshape and the decoder ends with a flatten, so a saved tfjs model takes and gives flat rows in the
// browser as is.
//
//   encoder  x → H×W×C → [conv c_i, k×k, stride s, same → act]_i → flatten → [concat label]
//              → [dense → act]… → dense outDim (linear)
//   decoder  z → [concat label] → [dense → act]… (widths mirrored) → dense h_L·w_L·c_L → act
//              → [transposed conv c_{i−1}, k×k, stride s, same → act]_i → transposed conv C (linear)
//              → crop to H×W → flatten
//
// Feature maps are flattened in PyTorch's C·H·W order (a permute before the flatten, and after the
// decoder's reshape), so the dense weights saved in PyTorch layout (src/io/model.ts) load into the
// same network written with nn.Conv2d / nn.Flatten / nn.ConvTranspose2d.
//
// A conditional network takes a second input, the label as a one-hot row [B, K] (soft labels work
// too); with `embed` it first maps it to a learned embedding, dense K → E without bias (the same as
// nn.Embedding, stored as a Linear weight).
import * as tfl from '@tensorflow/tfjs-layers';
import type { Activation, MlpSpec } from './mlp.js';
import { isPosInt } from '../util/math.js';

export interface ConvSpec {
  type: 'conv';
  /** Channels of the strided convolutions, encoder order; the decoder mirrors them with transposed convolutions. */
  channels: number[];
  /** Square kernel size. */
  kernel: number;
  stride: number;
  /** Dense widths between the flattened feature map and the output, encoder order (the decoder mirrors them). */
  dense: number[];
  activation?: Activation;
}

/** Label conditioning: the network's second input is onehot(y) of `classes` columns. */
export interface Conditioning {
  classes: number;
  /** Learned embedding width (dense K → E, no bias) instead of the one-hot row itself. */
  embed?: number;
}

/** The body of a network: strided convolutions (none for an MLP) and dense widths. */
export interface NetBody {
  conv?: { channels: number[]; kernel: number; stride: number };
  dense: number[];
  activation?: Activation;
}

export function validateConvSpec(spec: ConvSpec): void {
  const bad = (m: string) => {
    throw new Error(`invalid conv network: ${m}`);
  };
  if (!Array.isArray(spec.channels) || spec.channels.length === 0 || !spec.channels.every(isPosInt))
    bad(`channels must be one or more positive integers, got ${JSON.stringify(spec.channels)}`);
  if (!isPosInt(spec.kernel)) bad(`kernel must be a positive integer, got ${spec.kernel}`);
  if (!isPosInt(spec.stride)) bad(`stride must be a positive integer, got ${spec.stride}`);
  if (!Array.isArray(spec.dense) || !spec.dense.every(isPosInt))
    bad(`dense must be positive integers, got ${JSON.stringify(spec.dense)}`);
}

/** [H, W, C] of an image input shape ([H, W] is one channel). */
export function imageDims(inputShape: number[]): [number, number, number] {
  if ((inputShape.length === 3 || inputShape.length === 2) && inputShape.every(isPosInt))
    return [inputShape[0], inputShape[1], inputShape[2] ?? 1];
  throw new Error(
    `a conv network needs image-shaped inputs [H, W, C], got [${inputShape}] (use --network mlp for flat data)`,
  );
}

/** Spatial sizes after each strided 'same' convolution: h_{i+1} = ⌈h_i / s⌉. */
export function convSizes(h: number, w: number, depth: number, stride: number): [number, number][] {
  const out: [number, number][] = [[h, w]];
  for (let i = 0; i < depth; i++) {
    const [a, b] = out[i];
    out.push([Math.ceil(a / stride), Math.ceil(b / stride)]);
  }
  return out;
}

function labelInput(name: string, cond: Conditioning): { input: tfl.SymbolicTensor; features: tfl.SymbolicTensor } {
  if (!isPosInt(cond.classes) || cond.classes < 2)
    throw new Error(`${name}: a conditional network needs at least 2 classes, got ${cond.classes}`);
  if (cond.embed !== undefined && !isPosInt(cond.embed))
    throw new Error(`${name}: the label embedding width must be a positive integer, got ${cond.embed}`);
  const input = tfl.input({ shape: [cond.classes], name: `${name}_label` });
  const features = cond.embed
    ? (tfl.layers
        .dense({ units: cond.embed, useBias: false, name: `${name}_embed` })
        .apply(input) as tfl.SymbolicTensor)
    : input;
  return { input, features };
}

/** x (flat [B, prod(inputShape)]) [and onehot(y)] → [B, outDim]. */
export function buildEncoderNet(
  name: string,
  body: NetBody,
  inputShape: number[],
  outDim: number,
  cond?: Conditioning,
): tfl.LayersModel {
  const act = body.activation ?? 'relu';
  const D = inputShape.reduce((a, b) => a * b, 1);
  const x = tfl.input({ shape: [D], name: `${name}_x` });
  const inputs = [x];
  let h: tfl.SymbolicTensor = x;
  if (body.conv) {
    const [H, W, C] = imageDims(inputShape);
    const { channels, kernel, stride } = body.conv;
    h = tfl.layers.reshape({ targetShape: [H, W, C], name: `${name}_image` }).apply(h) as tfl.SymbolicTensor;
    channels.forEach((filters, i) => {
      h = tfl.layers
        .conv2d({
          filters,
          kernelSize: kernel,
          strides: stride,
          padding: 'same',
          activation: act,
          name: `${name}_conv${i}`,
        })
        .apply(h) as tfl.SymbolicTensor;
    });
    h = tfl.layers.permute({ dims: [3, 1, 2], name: `${name}_chw` }).apply(h) as tfl.SymbolicTensor;
    h = tfl.layers.flatten({ name: `${name}_flatten` }).apply(h) as tfl.SymbolicTensor;
  }
  if (cond) {
    const l = labelInput(name, cond);
    inputs.push(l.input);
    h = tfl.layers.concatenate({ axis: -1, name: `${name}_concat` }).apply([h, l.features]) as tfl.SymbolicTensor;
  }
  body.dense.forEach((units, i) => {
    h = tfl.layers.dense({ units, activation: act, name: `${name}_dense${i}` }).apply(h) as tfl.SymbolicTensor;
  });
  const out = tfl.layers
    .dense({ units: outDim, activation: 'linear', name: `${name}_out` })
    .apply(h) as tfl.SymbolicTensor;
  return tfl.model({ inputs, outputs: out, name });
}

/**
 * z ([B, zDim]) [and onehot(y)] → flat [B, prod(outShape)]. With convolutions, outShape is the image
 * [H, W, C'] the last transposed convolution makes (C' = C for one parameter per pixel).
 */
export function buildDecoderNet(
  name: string,
  body: NetBody,
  zDim: number,
  outShape: number[],
  cond?: Conditioning,
): tfl.LayersModel {
  const act = body.activation ?? 'relu';
  const z = tfl.input({ shape: [zDim], name: `${name}_z` });
  const inputs = [z];
  let h: tfl.SymbolicTensor = z;
  if (cond) {
    const l = labelInput(name, cond);
    inputs.push(l.input);
    h = tfl.layers.concatenate({ axis: -1, name: `${name}_concat` }).apply([h, l.features]) as tfl.SymbolicTensor;
  }
  [...body.dense].reverse().forEach((units, i) => {
    h = tfl.layers.dense({ units, activation: act, name: `${name}_dense${i}` }).apply(h) as tfl.SymbolicTensor;
  });
  if (!body.conv) {
    const D = outShape.reduce((a, b) => a * b, 1);
    const out = tfl.layers
      .dense({ units: D, activation: 'linear', name: `${name}_out` })
      .apply(h) as tfl.SymbolicTensor;
    return tfl.model({ inputs, outputs: out, name });
  }
  const [H, W, C] = imageDims(outShape);
  const { channels, stride } = body.conv;
  const L = channels.length;
  const sizes = convSizes(H, W, L, stride);
  const [hL, wL] = sizes[L];
  h = tfl.layers
    .dense({ units: hL * wL * channels[L - 1], activation: act, name: `${name}_map` })
    .apply(h) as tfl.SymbolicTensor;
  h = tfl.layers
    .reshape({ targetShape: [channels[L - 1], hL, wL], name: `${name}_unflatten` })
    .apply(h) as tfl.SymbolicTensor;
  h = tfl.layers.permute({ dims: [2, 3, 1], name: `${name}_hwc` }).apply(h) as tfl.SymbolicTensor;
  h = deconvToImage(name, h, body.conv, act, [H, W, C], [hL, wL]);
  const out = tfl.layers.flatten({ name: `${name}_flatten` }).apply(h) as tfl.SymbolicTensor;
  return tfl.model({ inputs, outputs: out, name });
}

/**
 * The transposed convolutions of a conv decoder, from an h_L×w_L map up to H×W×C: c_{i−1} channels, k×k,
 * stride s, `act` (the last one C channels, linear); 'same' padding gives h_L·s^L ≥ H rows, and the excess
 * is cropped evenly (none for 28 → 7 → 28).
 */
export function deconvToImage(
  name: string,
  h: tfl.SymbolicTensor,
  conv: Pick<ConvSpec, 'channels' | 'kernel' | 'stride'>,
  act: Activation,
  [H, W, C]: [number, number, number],
  [hL, wL]: [number, number],
): tfl.SymbolicTensor {
  const { channels, kernel, stride } = conv;
  const L = channels.length;
  for (let i = L - 1; i >= 0; i--) {
    const last = i === 0;
    h = tfl.layers
      .conv2dTranspose({
        filters: last ? C : channels[i - 1],
        kernelSize: kernel,
        strides: stride,
        padding: 'same',
        activation: last ? 'linear' : act,
        name: `${name}_deconv${L - 1 - i}`,
      })
      .apply(h) as tfl.SymbolicTensor;
  }
  const dh = hL * stride ** L - H;
  const dw = wL * stride ** L - W;
  if (dh > 0 || dw > 0) {
    const crop: [[number, number], [number, number]] = [
      [Math.floor(dh / 2), dh - Math.floor(dh / 2)],
      [Math.floor(dw / 2), dw - Math.floor(dw / 2)],
    ];
    h = tfl.layers.cropping2D({ cropping: crop, name: `${name}_crop` }).apply(h) as tfl.SymbolicTensor;
  }
  return h;
}

/** The body of a network spec: an MLP's hidden widths, or a conv spec's convolutions and dense widths. */
export function netBody(spec: MlpSpec | ConvSpec): NetBody {
  if (spec.type === 'mlp') {
    if (!Array.isArray(spec.hidden) || !spec.hidden.every(isPosInt))
      throw new Error(`invalid mlp network: hidden must be positive integers, got ${JSON.stringify(spec.hidden)}`);
    return { dense: spec.hidden, activation: spec.activation };
  }
  if (spec.type === 'conv') {
    validateConvSpec(spec);
    return {
      conv: { channels: spec.channels, kernel: spec.kernel, stride: spec.stride },
      dense: spec.dense,
      activation: spec.activation,
    };
  }
  throw new Error(`unknown network type "${(spec as { type: string }).type}" (expected mlp or conv)`);
}

/** The conv encoder (x → encOut) and decoder (z → flat image of outChannels per pixel). */
export function buildConvNetworks(
  spec: ConvSpec,
  inputShape: number[],
  encOut: number,
  zDim: number,
  decOut: number,
): { encoder: tfl.LayersModel; decoder: tfl.LayersModel } {
  const body = netBody(spec);
  const [H, W] = imageDims(inputShape);
  if (decOut % (H * W) !== 0)
    throw new Error(`conv decoder: ${decOut} outputs are not a whole number of channels of a ${H}×${W} image`);
  return {
    encoder: buildEncoderNet('encoder', body, inputShape, encOut),
    decoder: buildDecoderNet('decoder', body, zDim, [H, W, decOut / (H * W)]),
  };
}
