// The VQ-VAE's PixelCNN prior (src/nn/pixelcnn.ts) evaluated exactly and incrementally, for entropy coding
// the code grid: the encoder and the decoder of a lossy .vkz file must turn p(k_i | k_<i) into the same
// integer frequencies, so, as exact-net.ts does for the VAE's chains, the network runs in plain float64 loops
// with one fixed order of summation, never on a tfjs backend.
//
// The decoder knows only k_<i when it needs the logits at position i, so the evaluation is lazy: every layer
// keeps its output per grid position with a "computed" flag, and asking for the logits at i computes, once,
// only the positions of each layer that those logits read (pads, crops, valid convolutions, ELU, adds). The
// PixelCNN is causal by construction (its pads and shifts never look down or right of a position), so every
// position so computed depends on codes already known and never changes afterwards: decoding an image costs one
// forward pass, as teacher forcing does, and the encoder, which runs the same loops in the same order, gets the
// same bits. Asking for a code that is not known yet is an error ("not causal"), not a silent zero.
import type * as tfl from '@tensorflow/tfjs-layers';

type Shape = [number, number, number];

interface Node {
  shape: Shape;
  buf: Float64Array;
  done: Uint8Array;
  /** Computes position (y, x) (its inputs are ensured first). */
  ensure(y: number, x: number): void;
}

const elu = (v: number) => (v > 0 ? v : Math.exp(v) - 1);

function shapeOf(layer: tfl.layers.Layer): Shape {
  const s = layer.outputShape as (number | null)[];
  if (!Array.isArray(s) || s.length !== 4) throw new Error(`exact prior: layer ${layer.name} is not a [h, w, c] map`);
  return [s[1] as number, s[2] as number, s[3] as number];
}

function node(shape: Shape, compute: (y: number, x: number, out: Float64Array, o: number) => void): Node {
  const [H, W, C] = shape;
  const n: Node = {
    shape,
    buf: new Float64Array(H * W * C),
    done: new Uint8Array(H * W),
    ensure(y, x) {
      const p = y * W + x;
      if (n.done[p]) return;
      compute(y, x, n.buf, p * C);
      n.done[p] = 1;
    },
  };
  return n;
}

export interface ExactPrior {
  /** Grid [h, w] and codebook size K. */
  grid: [number, number];
  K: number;
  /** Starts a new image: no code known. */
  reset(): void;
  /** Sets code k at position i (raster order); positions must be set in order 0, 1, …. */
  set(i: number, k: number): void;
  /** The logits of p(k_i | k_<i) (a view, K values; valid until the next reset). */
  logits(i: number): Float64Array;
}

/** Compiles the prior network of buildPixelCnn (flat onehot(k) → flat logits) for grid h×w and K codes. */
export function compileExactPrior(model: tfl.LayersModel, grid: [number, number], K: number): ExactPrior {
  const [h, w] = grid;
  const codes = new Int32Array(h * w);
  let known = 0;
  const nodes = new Map<string, Node>();
  let source: Node | null = null;
  let last: Node | null = null;
  const inputOf = (layer: tfl.layers.Layer, j = 0): Node => {
    const inbound = layer.inboundNodes[0]?.inboundLayers ?? [];
    const n = nodes.get(inbound[j]?.name ?? '');
    if (!n) throw new Error(`exact prior: layer ${layer.name} reads an unsupported input`);
    return n;
  };
  for (const layer of model.layers) {
    const cls = layer.getClassName();
    const cfg = layer.getConfig();
    let n: Node;
    if (cls === 'InputLayer') continue;
    if (cls === 'Reshape' && !source) {
      // onehot(k) as an h×w×K grid: a code is read only once it is known
      n = node([h, w, K], (y, x, out, o) => {
        const p = y * w + x;
        if (p >= known)
          throw new Error(`exact prior: position ${p} read before it is decoded (the prior is not causal)`);
        out.fill(0, o, o + K);
        out[o + codes[p]] = 1;
      });
      source = n;
    } else if (cls === 'ZeroPadding2D' || cls === 'Cropping2D') {
      const inp = inputOf(layer);
      const [[t, b], [l, r]] = (cls === 'ZeroPadding2D' ? cfg.padding : cfg.cropping) as number[][];
      const [IH, IW, C] = inp.shape;
      const pad = cls === 'ZeroPadding2D';
      const shape: Shape = pad ? [IH + t + b, IW + l + r, C] : [IH - t - b, IW - l - r, C];
      n = node(shape, (y, x, out, o) => {
        const iy = pad ? y - t : y + t;
        const ix = pad ? x - l : x + l;
        if (iy < 0 || iy >= IH || ix < 0 || ix >= IW) {
          out.fill(0, o, o + C);
          return;
        }
        inp.ensure(iy, ix);
        const io = (iy * IW + ix) * C;
        for (let c = 0; c < C; c++) out[o + c] = inp.buf[io + c];
      });
    } else if (cls === 'Conv2D') {
      const inp = inputOf(layer);
      const [IH, IW, C] = inp.shape;
      const [kh, kw] = cfg.kernelSize as number[];
      const strides = cfg.strides as number[];
      const dil = (cfg.dilationRate as number[] | undefined) ?? [1, 1];
      if (cfg.padding !== 'valid' || strides.some((s) => s !== 1) || dil.some((d) => d !== 1))
        throw new Error(`exact prior: layer ${layer.name}: only stride-1 'valid' convolutions`);
      if (cfg.activation !== 'linear') throw new Error(`exact prior: layer ${layer.name} has an activation`);
      const ws = layer.getWeights().map((t) => Float64Array.from(t.dataSync()));
      const Kw = ws[0]; // [kh, kw, C, F]
      const F = cfg.filters as number;
      const bias = ws[1] ?? new Float64Array(F);
      const OW = IW - kw + 1;
      n = node([IH - kh + 1, OW, F], (y, x, out, o) => {
        for (let f = 0; f < F; f++) out[o + f] = bias[f];
        for (let ky = 0; ky < kh; ky++)
          for (let kx = 0; kx < kw; kx++) {
            inp.ensure(y + ky, x + kx);
            const io = ((y + ky) * IW + x + kx) * C;
            for (let c = 0; c < C; c++) {
              const v = inp.buf[io + c];
              if (v === 0) continue;
              const kb = ((ky * kw + kx) * C + c) * F;
              for (let f = 0; f < F; f++) out[o + f] += v * Kw[kb + f];
            }
          }
      });
    } else if (cls === 'Activation') {
      if (cfg.activation !== 'elu')
        throw new Error(`exact prior: activation ${String(cfg.activation)} of ${layer.name}`);
      const inp = inputOf(layer);
      const [, IW, C] = inp.shape;
      n = node(inp.shape, (y, x, out, o) => {
        inp.ensure(y, x);
        const io = (y * IW + x) * C;
        for (let c = 0; c < C; c++) out[o + c] = elu(inp.buf[io + c]);
      });
    } else if (cls === 'Add') {
      const count = layer.inboundNodes[0]?.inboundLayers.length ?? 0;
      const ins = Array.from({ length: count }, (_, j) => inputOf(layer, j));
      const [, IW, C] = ins[0].shape;
      if (ins.some((m) => m.shape.join() !== ins[0].shape.join()))
        throw new Error(`exact prior: layer ${layer.name} adds maps of different shapes`);
      n = node(ins[0].shape, (y, x, out, o) => {
        const io = (y * IW + x) * C;
        for (const m of ins) m.ensure(y, x);
        for (let c = 0; c < C; c++) {
          let s = ins[0].buf[io + c];
          for (let j = 1; j < ins.length; j++) s += ins[j].buf[io + c];
          out[o + c] = s;
        }
      });
    } else if (cls === 'Flatten') {
      last = inputOf(layer);
      continue;
    } else throw new Error(`exact prior: layer ${layer.name} (${cls}) is not supported`);
    if (n.shape.some((d) => !(d > 0))) throw new Error(`exact prior: layer ${layer.name} has an empty output`);
    const s = shapeOf(layer);
    if (s.join() !== n.shape.join())
      throw new Error(`exact prior: layer ${layer.name} is [${s}], computed [${n.shape}]`);
    nodes.set(layer.name, n);
  }
  const out = last;
  if (!source || !out || out.shape[0] !== h || out.shape[1] !== w || out.shape[2] !== K)
    throw new Error(`exact prior: the network does not map an ${h}×${w}×${K} code grid to logits`);
  const all = [...nodes.values()];
  return {
    grid,
    K,
    reset() {
      known = 0;
      for (const m of all) m.done.fill(0);
    },
    set(i, k) {
      if (i !== known) throw new Error(`exact prior: codes are set in order (expected position ${known}, got ${i})`);
      if (!(Number.isInteger(k) && k >= 0 && k < K)) throw new Error(`exact prior: code ${k} is not in 0…${K - 1}`);
      codes[i] = k;
      known++;
    },
    logits(i) {
      const y = Math.floor(i / w);
      const x = i - y * w;
      out.ensure(y, x);
      return out.buf.subarray(i * K, (i + 1) * K);
    },
  };
}
