// The network of a VQ-VAE's learned prior (van den Oord et al., 2017, §3.2; the prior itself, p(k), is
// CodePrior in src/distributions/codes.ts; fitting it, src/train/fit-prior.ts):
//   p(k) = Π_i p(k_i | k_<i)            (raster order over the h×w code grid; an MLP's M codes are a 1×M grid)
//   p(k_i | k_<i) = Categorical(softmax(f(k_<i)_i))
// f is a small PixelCNN without blind spot (van den Oord et al., 2016; the shifted convolutions of
// PixelCNN++, Salimans et al., 2017) built from standard tfjs layers only (zero-padding, 'valid'
// convolutions, cropping), so the saved tfjs model runs in the browser as is:
//   u  = ↓(conv_{2×3}(x))                              vertical stack: sees the rows above
//   ul = ↓(conv_{1×3}(x)) + →(conv_{2×1}(x))           horizontal stack: rows above + left in the row
//   L× u  ← u  + conv_{2×3}(elu(u))
//      ul ← ul + conv_{2×2}(elu(ul)) + nin(elu(u))
//   logits = nin(elu(ul))                              [h, w, K]
// where x = onehot(k), conv_{a×b} is padded a−1 rows on top (and (b−1)/2 columns each side, or b−1 on the
// left for the 2×2/2×1 ones) so that it never looks down or right, ↓ shifts one row down and → one
// column right (so that position i never sees k_i itself).
// Before it is trained (or with `prior: null`) the prior is the uniform one the VQ-VAE is trained with.
import * as tfl from '@tensorflow/tfjs-layers';
import { isPosInt } from '../util/math.js';

/** The PixelCNN prior's shape (saved in the VQ-VAE's config). */
export interface VqPriorConfig {
  type: 'pixelcnn';
  /** Feature maps of both stacks. */
  channels: number;
  /** Residual layers (each widens the receptive field by one row up and one column left/right). */
  layers: number;
}

export const DEFAULT_VQ_PRIOR: VqPriorConfig = { type: 'pixelcnn', channels: 64, layers: 5 };

export function validateVqPriorConfig(c: VqPriorConfig): void {
  if (c.type !== 'pixelcnn')
    throw new Error(`invalid VQ prior: type must be "pixelcnn", got ${JSON.stringify(c.type)}`);
  if (!isPosInt(c.channels))
    throw new Error(`invalid VQ prior: channels must be a positive integer, got ${c.channels}`);
  if (!Number.isInteger(c.layers) || c.layers < 0)
    throw new Error(`invalid VQ prior: layers must be a non-negative integer, got ${c.layers}`);
}

/** The PixelCNN as a tfjs-layers model: flat onehot(k) [B, h·w·K] → flat logits [B, h·w·K] (position-major). */
export function buildPixelCnn(name: string, grid: [number, number], K: number, cfg: VqPriorConfig): tfl.LayersModel {
  validateVqPriorConfig(cfg);
  const [h, w] = grid;
  const C = cfg.channels;
  let n = 0;
  const id = (what: string) => `${name}_${what}${n++}`;
  const apply = (layer: tfl.layers.Layer, t: tfl.SymbolicTensor | tfl.SymbolicTensor[]) =>
    layer.apply(t) as tfl.SymbolicTensor;
  const pad = (t: tfl.SymbolicTensor, p: [[number, number], [number, number]]) =>
    apply(tfl.layers.zeroPadding2d({ padding: p, name: id('pad') }), t);
  const crop = (t: tfl.SymbolicTensor, c: [[number, number], [number, number]]) =>
    apply(tfl.layers.cropping2D({ cropping: c, name: id('crop') }), t);
  const conv = (t: tfl.SymbolicTensor, filters: number, k: [number, number]) =>
    apply(tfl.layers.conv2d({ filters, kernelSize: k, padding: 'valid', name: id('conv') }), t);
  const elu = (t: tfl.SymbolicTensor) => apply(tfl.layers.activation({ activation: 'elu', name: id('elu') }), t);
  const add = (ts: tfl.SymbolicTensor[]) => apply(tfl.layers.add({ name: id('add') }), ts);
  // a kh×kw convolution that sees rows r−kh+1 … r and columns c ± (kw−1)/2
  const downConv = (t: tfl.SymbolicTensor, f: number, kh: number, kw: number) =>
    conv(
      pad(t, [
        [kh - 1, 0],
        [(kw - 1) / 2, (kw - 1) / 2],
      ]),
      f,
      [kh, kw],
    );
  // a kh×kw convolution that sees rows r−kh+1 … r and columns c−kw+1 … c
  const downRightConv = (t: tfl.SymbolicTensor, f: number, kh: number, kw: number) =>
    conv(
      pad(t, [
        [kh - 1, 0],
        [kw - 1, 0],
      ]),
      f,
      [kh, kw],
    );
  const downShift = (t: tfl.SymbolicTensor) =>
    crop(
      pad(t, [
        [1, 0],
        [0, 0],
      ]),
      [
        [0, 1],
        [0, 0],
      ],
    );
  const rightShift = (t: tfl.SymbolicTensor) =>
    crop(
      pad(t, [
        [0, 0],
        [1, 0],
      ]),
      [
        [0, 0],
        [0, 1],
      ],
    );
  const nin = (t: tfl.SymbolicTensor, f: number) => conv(t, f, [1, 1]);

  const input = tfl.input({ shape: [h * w * K], name: `${name}_codes` });
  const x = apply(tfl.layers.reshape({ targetShape: [h, w, K], name: `${name}_grid` }), input);
  let u = downShift(downConv(x, C, 2, 3)); //                              rows < r
  let ul = add([downShift(downConv(x, C, 1, 3)), rightShift(downRightConv(x, C, 2, 1))]); // rows < r, or row r and columns < c
  for (let l = 0; l < cfg.layers; l++) {
    u = add([u, downConv(elu(u), C, 2, 3)]);
    ul = add([ul, downRightConv(elu(ul), C, 2, 2), nin(elu(u), C)]);
  }
  const logits = nin(elu(ul), K);
  const out = apply(tfl.layers.flatten({ name: `${name}_flatten` }), logits);
  return tfl.model({ inputs: input, outputs: out, name });
}
