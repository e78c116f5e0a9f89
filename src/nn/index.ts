// Encoder/decoder builders, chosen by the network spec in a model's config.
import type * as tfl from '@tensorflow/tfjs-layers';
import { buildConvNetworks, type ConvSpec } from './conv.js';
import { buildMlp, type MlpSpec } from './mlp.js';
import { prod } from '../util/math.js';

/** `{ type: 'mlp', hidden, activation? }` or `{ type: 'conv', channels, kernel, stride, dense, activation? }`. */
export type NetworkSpec = MlpSpec | ConvSpec;

export interface EncoderDecoder {
  /** x (flat, [B, D]) → [B, outDim] */
  encoder: tfl.LayersModel;
  /** z ([B, zDim]) → [B, D] flat parameters of p(x|z) */
  decoder: tfl.LayersModel;
}

/** Builds the encoder (x → encOut) and decoder (zDim → decOut) for a spec; data stay flat at the edges. */
export function buildNetworks(
  spec: NetworkSpec,
  inputShape: number[],
  encOut: number,
  zDim: number,
  decOut: number,
): EncoderDecoder {
  switch (spec.type) {
    case 'mlp': {
      const D = prod(inputShape);
      return {
        encoder: buildMlp('encoder', D, spec.hidden, encOut, spec.activation),
        decoder: buildMlp('decoder', zDim, [...spec.hidden].reverse(), decOut, spec.activation),
      };
    }
    case 'conv':
      return buildConvNetworks(spec, inputShape, encOut, zDim, decOut);
    default:
      throw new Error(`unknown network type "${(spec as { type: string }).type}" (expected mlp or conv)`);
  }
}

export { buildMlp, type MlpSpec } from './mlp.js';
export {
  buildConvNetworks,
  buildDecoderNet,
  buildEncoderNet,
  netBody,
  type Conditioning,
  type ConvSpec,
  type NetBody,
} from './conv.js';
export { initTorchStyle } from './init.js';
