// A network evaluated exactly the same way everywhere: a tfjs-layers model (the chains vaekit builds: dense,
// conv, transposed conv, reshape, permute, flatten, cropping) compiled to plain float64 loops with a fixed
// order of summation. Bits-back coding needs the encoder and decoder to give bit-identical outputs when a
// file is written and when it is read, and the tfjs backends do not: the native backend's BLAS sums in
// another order than tfjs-cpu, and its result moves with the thread count. Rounding the outputs to a grid does
// not close that gap either (a value next to a grid boundary rounds both ways), so the coder runs its own
// loops: IEEE-754 double arithmetic in one fixed order gives one answer on every backend, thread count and
// machine. The weights are the model's float32 values, widened exactly.
import type * as tfl from '@tensorflow/tfjs-layers';
import type { Activation } from '../../nn/mlp.js';

type Act = (v: number) => number;

const ACTS: Record<Activation, Act | null> = {
  linear: null,
  relu: (v) => (v > 0 ? v : 0),
  tanh: Math.tanh,
  elu: (v) => (v > 0 ? v : Math.exp(v) - 1),
  softplus: (v) => (v > 0 ? v + Math.log1p(Math.exp(-v)) : Math.log1p(Math.exp(v))),
  sigmoid: (v) => 1 / (1 + Math.exp(-v)),
};

/** One step: a function of the flat input (row-major in the layer's shape) writing a new flat output. */
interface Step {
  run(x: Float64Array): Float64Array;
}

export interface ExactNet {
  inDim: number;
  outDim: number;
  /** The output for one example (flat, as the tfjs model gives it). */
  apply(x: ArrayLike<number>): Float64Array;
}

function activation(name: unknown, layer: string): Act | null {
  const a = ACTS[name as Activation];
  if (a === undefined)
    throw new Error(`exact network: activation "${String(name)}" of layer ${layer} is not supported`);
  return a;
}

function weights(layer: tfl.layers.Layer): Float64Array[] {
  return layer.getWeights().map((w) => Float64Array.from(w.dataSync()));
}

function applyAct(y: Float64Array, act: Act | null): Float64Array {
  if (act) for (let i = 0; i < y.length; i++) y[i] = act(y[i]);
  return y;
}

function dense(layer: tfl.layers.Layer, inDim: number): { step: Step; outDim: number } {
  const cfg = layer.getConfig();
  const act = activation(cfg.activation, layer.name);
  const [W, b] = weights(layer);
  const out = cfg.units as number;
  if (W.length !== inDim * out) throw new Error(`exact network: layer ${layer.name} has ${W.length} weights`);
  const bias = b ?? new Float64Array(out);
  return {
    outDim: out,
    step: {
      run(x) {
        const y = Float64Array.from(bias);
        for (let i = 0; i < inDim; i++) {
          const xi = x[i];
          if (xi === 0) continue;
          const row = i * out;
          for (let j = 0; j < out; j++) y[j] += xi * W[row + j];
        }
        return applyAct(y, act);
      },
    },
  };
}

/** Spatial output size and leading pad of a tfjs convolution ('same': ⌈n/s⌉, pad ⌊total/2⌋ on the top/left). */
function convGeometry(n: number, k: number, s: number, padding: string): { out: number; pad: number } {
  if (padding === 'valid') return { out: Math.ceil((n - k + 1) / s), pad: 0 };
  const out = Math.ceil(n / s);
  return { out, pad: Math.floor(Math.max((out - 1) * s + k - n, 0) / 2) };
}

function convConfig(layer: tfl.layers.Layer): { k: [number, number]; s: [number, number]; padding: string } {
  const cfg = layer.getConfig();
  const k = cfg.kernelSize as number[];
  const s = cfg.strides as number[];
  const dil = (cfg.dilationRate as number[] | undefined) ?? [1, 1];
  if (
    cfg.dataFormat !== 'channelsLast' ||
    dil.some((d) => d !== 1) ||
    (cfg.padding !== 'same' && cfg.padding !== 'valid')
  )
    throw new Error(`exact network: layer ${layer.name}: only channels-last, undilated, same/valid convolutions`);
  return { k: [k[0], k[1]], s: [s[0], s[1]], padding: cfg.padding as string };
}

function conv2d(layer: tfl.layers.Layer, [H, W, C]: number[]): { step: Step; shape: number[] } {
  const { k, s, padding } = convConfig(layer);
  const act = activation(layer.getConfig().activation, layer.name);
  const [K, b] = weights(layer); // [kh, kw, C, F]
  const F = layer.getConfig().filters as number;
  const gy = convGeometry(H, k[0], s[0], padding);
  const gx = convGeometry(W, k[1], s[1], padding);
  const [OH, OW] = [gy.out, gx.out];
  return {
    shape: [OH, OW, F],
    step: {
      run(x) {
        const y = new Float64Array(OH * OW * F);
        for (let oy = 0; oy < OH; oy++)
          for (let ox = 0; ox < OW; ox++) {
            const o = (oy * OW + ox) * F;
            if (b) for (let f = 0; f < F; f++) y[o + f] = b[f];
            for (let ky = 0; ky < k[0]; ky++) {
              const iy = oy * s[0] + ky - gy.pad;
              if (iy < 0 || iy >= H) continue;
              for (let kx = 0; kx < k[1]; kx++) {
                const ix = ox * s[1] + kx - gx.pad;
                if (ix < 0 || ix >= W) continue;
                for (let c = 0; c < C; c++) {
                  const xv = x[(iy * W + ix) * C + c];
                  if (xv === 0) continue;
                  const kb = ((ky * k[1] + kx) * C + c) * F;
                  for (let f = 0; f < F; f++) y[o + f] += xv * K[kb + f];
                }
              }
            }
          }
        return applyAct(y, act);
      },
    },
  };
}

function conv2dTranspose(layer: tfl.layers.Layer, [H, W, C]: number[]): { step: Step; shape: number[] } {
  const { k, s, padding } = convConfig(layer);
  const act = activation(layer.getConfig().activation, layer.name);
  const [Kraw, b] = weights(layer); // [kh, kw, F, C]
  const F = layer.getConfig().filters as number;
  const size = (n: number, kk: number, ss: number) => (padding === 'same' ? n * ss : (n - 1) * ss + kk);
  const [OH, OW] = [size(H, k[0], s[0]), size(W, k[1], s[1])];
  // the transposed conv is the gradient of a conv from OH×OW down to H×W: that conv's leading pad
  const padY = padding === 'same' ? Math.floor(Math.max((H - 1) * s[0] + k[0] - OH, 0) / 2) : 0;
  const padX = padding === 'same' ? Math.floor(Math.max((W - 1) * s[1] + k[1] - OW, 0) / 2) : 0;
  const K = new Float64Array(Kraw.length); // → [kh, kw, C, F]
  for (let t = 0; t < k[0] * k[1]; t++)
    for (let f = 0; f < F; f++) for (let c = 0; c < C; c++) K[(t * C + c) * F + f] = Kraw[(t * F + f) * C + c];
  return {
    shape: [OH, OW, F],
    step: {
      run(x) {
        const y = new Float64Array(OH * OW * F);
        if (b) for (let p = 0; p < OH * OW; p++) for (let f = 0; f < F; f++) y[p * F + f] = b[f];
        for (let iy = 0; iy < H; iy++)
          for (let ix = 0; ix < W; ix++)
            for (let c = 0; c < C; c++) {
              const xv = x[(iy * W + ix) * C + c];
              if (xv === 0) continue;
              for (let ky = 0; ky < k[0]; ky++) {
                const oy = iy * s[0] + ky - padY;
                if (oy < 0 || oy >= OH) continue;
                for (let kx = 0; kx < k[1]; kx++) {
                  const ox = ix * s[1] + kx - padX;
                  if (ox < 0 || ox >= OW) continue;
                  const kb = ((ky * k[1] + kx) * C + c) * F;
                  const o = (oy * OW + ox) * F;
                  for (let f = 0; f < F; f++) y[o + f] += xv * K[kb + f];
                }
              }
            }
        return applyAct(y, act);
      },
    },
  };
}

function permute(dims: number[], shape: number[]): { step: Step; shape: number[] } {
  const out = dims.map((d) => shape[d - 1]);
  const inStrides = shape.map((_, i) => shape.slice(i + 1).reduce((a, v) => a * v, 1));
  const n = shape.reduce((a, v) => a * v, 1);
  const src = new Int32Array(n); // output position → input position
  const idx = new Array(out.length).fill(0);
  for (let p = 0; p < n; p++) {
    let q = 0;
    for (let i = 0; i < out.length; i++) q += idx[i] * inStrides[dims[i] - 1];
    src[p] = q;
    for (let i = out.length - 1; i >= 0 && ++idx[i] === out[i]; i--) idx[i] = 0;
  }
  return { shape: out, step: { run: (x) => Float64Array.from(src, (q) => x[q]) } };
}

function crop(cropping: number[][], [H, W, C]: number[]): { step: Step; shape: number[] } {
  const [[t, bt], [l, r]] = cropping;
  const [OH, OW] = [H - t - bt, W - l - r];
  return {
    shape: [OH, OW, C],
    step: {
      run(x) {
        const y = new Float64Array(OH * OW * C);
        for (let oy = 0; oy < OH; oy++)
          for (let ox = 0; ox < OW; ox++)
            for (let c = 0; c < C; c++) y[(oy * OW + ox) * C + c] = x[((oy + t) * W + ox + l) * C + c];
        return y;
      },
    },
  };
}

/** Compiles a single-input chain of layers; anything else is an error naming the layer. */
export function compileExact(model: tfl.LayersModel): ExactNet {
  if (model.inputs.length !== 1 || model.outputs.length !== 1)
    throw new Error(`exact network: ${model.name} must have one input and one output`);
  let shape = (model.inputs[0].shape as (number | null)[]).slice(1) as number[];
  const inDim = shape.reduce((a, v) => a * v, 1);
  const steps: Step[] = [];
  let prev: tfl.layers.Layer | null = null;
  for (const layer of model.layers) {
    const cls = layer.getClassName();
    if (prev) {
      const inbound = layer.inboundNodes[0]?.inboundLayers ?? [];
      if (layer.inboundNodes.length !== 1 || inbound.length !== 1 || inbound[0] !== prev)
        throw new Error(`exact network: ${model.name} is not a chain of layers (at ${layer.name})`);
    }
    prev = layer;
    const cfg = layer.getConfig();
    const flat = shape.reduce((a, v) => a * v, 1);
    if (cls === 'InputLayer') continue;
    if (cls === 'Dense') {
      if (shape.length !== 1) throw new Error(`exact network: dense layer ${layer.name} on a [${shape}] input`);
      const d = dense(layer, flat);
      steps.push(d.step);
      shape = [d.outDim];
    } else if (cls === 'Reshape') {
      shape = cfg.targetShape as number[];
    } else if (cls === 'Flatten') {
      shape = [flat];
    } else if (cls === 'Permute') {
      const p = permute(cfg.dims as number[], shape);
      steps.push(p.step);
      shape = p.shape;
    } else if (cls === 'Conv2D' || cls === 'Conv2DTranspose' || cls === 'Cropping2D') {
      if (shape.length !== 3) throw new Error(`exact network: ${cls} layer ${layer.name} on a [${shape}] input`);
      const c =
        cls === 'Conv2D'
          ? conv2d(layer, shape)
          : cls === 'Conv2DTranspose'
            ? conv2dTranspose(layer, shape)
            : crop(cfg.cropping as number[][], shape);
      steps.push(c.step);
      shape = c.shape;
    } else throw new Error(`exact network: layer ${layer.name} (${cls}) is not supported`);
  }
  const outDim = shape.reduce((a, v) => a * v, 1);
  return {
    inDim,
    outDim,
    apply(x) {
      if (x.length !== inDim) throw new Error(`exact network: ${model.name} takes ${inDim} values, got ${x.length}`);
      let h: Float64Array = Float64Array.from(x);
      for (const s of steps) h = s.run(h);
      return h;
    },
  };
}
