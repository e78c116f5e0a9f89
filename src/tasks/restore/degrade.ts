// Degradations y = A(x) + noise for restoration, explicit, seeded and recorded (a plain object that says what
// was done, saved beside the outputs). Images are flat rows [n, D], D = H·W·C, channel-last (HWC).
//   denoise   gaussian     y = x + σ ε, ε ~ N(0, 1)                 (continuous models; not clipped)
//             bit-flip     y = x ⊕ b, b ~ Bernoulli(p)              (binary models)
//             salt-pepper  y = x with prob 1 − p, else 0 or 1 (½ each)   (binary models)
//   inpaint   y = m ⊙ x, m ∈ {0,1}^(H·W) per pixel (1 observed, 0 missing), shared by the channels:
//             a centre block of s×s, a random fraction (exactly round(f·H·W) pixels per image), the bottom
//             half, or a mask of the user
//   superres  y = box average over f×f blocks, [n, (H/f)·(W/f)·C]; the model's size is the output size
import { Rng } from '../../rng.js';

/** [H, W, C] of one image. */
export type ImageShape = [number, number, number];

export type MaskSpec =
  | { kind: 'center'; size: number }
  | { kind: 'random'; fraction: number; seed: number }
  | { kind: 'bottom' }
  /** H·W values, 1 observed, 0 missing (e.g. read from a PNG by the CLI); `name` says where it came from. */
  | { kind: 'user'; name: string; values: ArrayLike<number> };

export type Degradation =
  | { task: 'denoise'; noise: 'gaussian'; sigma: number; seed: number }
  | { task: 'denoise'; noise: 'bit-flip' | 'salt-pepper'; p: number; seed: number }
  | { task: 'inpaint'; mask: MaskSpec }
  | { task: 'superres'; factor: number };

export type RestoreTask = Degradation['task'];

/** What was done, as JSON: the degradation (a user mask by its name and count, not its values) and the sizes. */
export interface DegradationRecord {
  task: RestoreTask;
  params: Record<string, string | number>;
  shape: ImageShape;
  n: number;
  /** Inpainting: the fraction of pixels missing over all images. */
  missingFraction?: number;
}

export interface Degraded {
  record: DegradationRecord;
  degradation: Degradation;
  shape: ImageShape;
  n: number;
  /** The observation: [n, D] (inpainting: missing values 0), superres: [n, D/f²] at yShape. */
  y: Float32Array;
  yShape: ImageShape;
  /** Inpainting: [n, D], 1 observed, 0 missing (per value, the pixel's mask repeated over its channels). */
  mask?: Float32Array;
  /** y shown at the clean size in [0, 1]: clipped noise, missing values at 0.5, low-res blown up (nearest). */
  display: Float32Array;
}

const size = (s: ImageShape) => s[0] * s[1] * s[2];

/** An error unless shape is [H, W, C] of positive integers and x holds n rows of it. */
export function checkImages(x: ArrayLike<number>, n: number, shape: number[]): ImageShape {
  if (shape.length !== 3 || !shape.every((d) => Number.isInteger(d) && d > 0))
    throw new Error(`restore: images need a shape [H, W, C], got [${shape}]`);
  const s = shape as ImageShape;
  if (!Number.isInteger(n) || n < 1 || x.length !== n * size(s))
    throw new Error(`restore: ${x.length} values are not ${n} images of [${shape}]`);
  return s;
}

/** An error naming the problem unless the degradation's parameters are valid for images of this shape. */
export function validateDegradation(d: Degradation, shape: ImageShape): void {
  const [H, W] = shape;
  const prob = (p: number, what: string) => {
    if (!(p >= 0 && p <= 1)) throw new Error(`${what} must be a probability in [0, 1], got ${p}`);
  };
  if (d.task === 'denoise') {
    if (d.noise === 'gaussian') {
      if (!(d.sigma > 0 && Number.isFinite(d.sigma))) throw new Error(`sigma must be positive, got ${d.sigma}`);
    } else prob(d.p, `p (${d.noise})`);
  } else if (d.task === 'superres') {
    if (!(Number.isInteger(d.factor) && d.factor >= 2))
      throw new Error(`factor must be an integer ≥ 2, got ${d.factor}`);
    if (H % d.factor !== 0 || W % d.factor !== 0)
      throw new Error(`factor ${d.factor} does not divide the image size ${H}×${W}`);
  } else {
    const m = d.mask;
    if (m.kind === 'center') {
      if (!(Number.isInteger(m.size) && m.size >= 1 && m.size <= Math.min(H, W)))
        throw new Error(`centre block size must be an integer in 1..${Math.min(H, W)}, got ${m.size}`);
    } else if (m.kind === 'random') {
      if (!(m.fraction > 0 && m.fraction < 1)) throw new Error(`missing fraction must be in (0, 1), got ${m.fraction}`);
    } else if (m.kind === 'user') checkPixelMask(m.values, H, W, m.name);
  }
}

/** An error unless v holds H·W values that are all 0 or 1, with at least one of each. */
export function checkPixelMask(v: ArrayLike<number>, H: number, W: number, name = 'mask'): void {
  if (v.length !== H * W) throw new Error(`${name}: ${v.length} pixels, the images have ${H}×${W} = ${H * W}`);
  let ones = 0;
  for (let i = 0; i < v.length; i++) {
    if (v[i] !== 0 && v[i] !== 1) throw new Error(`${name} is not binary: pixel ${i} is ${v[i]} (want 0 or 1)`);
    ones += v[i];
  }
  if (ones === 0 || ones === v.length)
    throw new Error(`${name}: ${ones === 0 ? 'no pixel is observed' : 'no pixel is missing'}`);
}

/** The pixel masks [n, H·W] (1 observed, 0 missing) of a mask spec. */
export function pixelMasks(spec: MaskSpec, n: number, H: number, W: number): Uint8Array {
  const P = H * W;
  const out = new Uint8Array(n * P).fill(1);
  if (spec.kind === 'random') {
    const rng = new Rng(spec.seed);
    const k = Math.round(spec.fraction * P);
    for (let i = 0; i < n; i++) {
      const perm = rng.permutation(P);
      for (let j = 0; j < k; j++) out[i * P + perm[j]] = 0;
    }
    return out;
  }
  const one = new Uint8Array(P).fill(1);
  if (spec.kind === 'center') {
    const r0 = Math.floor((H - spec.size) / 2),
      c0 = Math.floor((W - spec.size) / 2);
    for (let r = r0; r < r0 + spec.size; r++) for (let c = c0; c < c0 + spec.size; c++) one[r * W + c] = 0;
  } else if (spec.kind === 'bottom') {
    one.fill(0, Math.floor(H / 2) * W);
  } else for (let j = 0; j < P; j++) one[j] = spec.values[j];
  for (let i = 0; i < n; i++) out.set(one, i * P);
  return out;
}

/** Per-value masks [n, D] from pixel masks [n, H·W] (every channel of a pixel shares its mask). */
export function expandMask(pixels: Uint8Array, n: number, shape: ImageShape): Float32Array {
  const [H, W, C] = shape;
  const out = new Float32Array(n * H * W * C);
  for (let j = 0; j < pixels.length; j++) if (pixels[j]) out.fill(1, j * C, j * C + C);
  return out;
}

/** Box average over f×f blocks: [n, H·W·C] → [n, (H/f)·(W/f)·C]. */
export function boxDownsample(x: ArrayLike<number>, n: number, shape: ImageShape, f: number): Float32Array {
  const [H, W, C] = shape;
  const h = H / f,
    w = W / f;
  const out = new Float32Array(n * h * w * C);
  const inv = 1 / (f * f);
  for (let i = 0; i < n; i++) {
    const base = i * H * W * C,
      ob = i * h * w * C;
    for (let r = 0; r < H; r++)
      for (let c = 0; c < W; c++)
        for (let k = 0; k < C; k++)
          out[ob + ((Math.floor(r / f) * w + Math.floor(c / f)) * C + k)] += x[base + (r * W + c) * C + k] * inv;
  }
  return out;
}

/** Nearest-neighbour blow-up by f: [n, h·w·C] → [n, (h·f)·(w·f)·C]. */
export function nearestUpsample(y: ArrayLike<number>, n: number, low: ImageShape, f: number): Float32Array {
  const [h, w, C] = low;
  const H = h * f,
    W = w * f;
  const out = new Float32Array(n * H * W * C);
  for (let i = 0; i < n; i++)
    for (let r = 0; r < H; r++)
      for (let c = 0; c < W; c++)
        for (let k = 0; k < C; k++)
          out[i * H * W * C + (r * W + c) * C + k] =
            y[i * h * w * C + (Math.floor(r / f) * w + Math.floor(c / f)) * C + k];
  return out;
}

const clip01 = (v: number) => (v < 0 ? 0 : v > 1 ? 1 : v);

/** The plain-object record of a degradation (a user mask by name, not its values). */
export function describeDegradation(
  d: Degradation,
  shape: ImageShape,
  n: number,
  mask?: Float32Array,
): DegradationRecord {
  let params: Record<string, string | number>;
  if (d.task === 'denoise')
    params =
      d.noise === 'gaussian'
        ? { noise: d.noise, sigma: d.sigma, seed: d.seed }
        : { noise: d.noise, p: d.p, seed: d.seed };
  else if (d.task === 'superres') params = { factor: d.factor, downsampling: 'box average' };
  else {
    const m = d.mask;
    params =
      m.kind === 'center'
        ? { mask: 'center', size: m.size }
        : m.kind === 'random'
          ? { mask: 'random', fraction: m.fraction, seed: m.seed }
          : m.kind === 'bottom'
            ? { mask: 'bottom' }
            : { mask: 'user', name: m.name };
  }
  const rec: DegradationRecord = { task: d.task, params, shape: [...shape] as ImageShape, n };
  if (mask) {
    let missing = 0;
    for (let i = 0; i < mask.length; i++) missing += 1 - mask[i];
    rec.missingFraction = missing / mask.length;
  }
  return rec;
}

/** Applies a degradation to n clean images x [n, D] of `shape`; seeded, so the same call gives the same y. */
export function degrade(x: ArrayLike<number>, n: number, shapeIn: number[], d: Degradation): Degraded {
  const shape = checkImages(x, n, shapeIn);
  validateDegradation(d, shape);
  const D = size(shape);
  if (d.task === 'superres') {
    const f = d.factor;
    const yShape: ImageShape = [shape[0] / f, shape[1] / f, shape[2]];
    const y = boxDownsample(x, n, shape, f);
    const display = nearestUpsample(y, n, yShape, f);
    return { record: describeDegradation(d, shape, n), degradation: d, shape, n, y, yShape, display };
  }
  const y = new Float32Array(n * D);
  const display = new Float32Array(n * D);
  if (d.task === 'denoise') {
    const rng = new Rng(d.seed);
    for (let i = 0; i < y.length; i++) {
      let v = x[i];
      if (d.noise === 'gaussian') v += d.sigma * rng.normal();
      else if (rng.uniform() < d.p) v = d.noise === 'bit-flip' ? 1 - v : rng.uniform() < 0.5 ? 0 : 1;
      y[i] = v;
      display[i] = clip01(v);
    }
    return { record: describeDegradation(d, shape, n), degradation: d, shape, n, y, yShape: shape, display };
  }
  const mask = expandMask(pixelMasks(d.mask, n, shape[0], shape[1]), n, shape);
  for (let i = 0; i < y.length; i++) {
    y[i] = mask[i] ? x[i] : 0;
    display[i] = mask[i] ? x[i] : 0.5;
  }
  return { record: describeDegradation(d, shape, n, mask), degradation: d, shape, n, y, yShape: shape, mask, display };
}

/**
 * Already-degraded images as the observation (no clean originals): denoise takes them as y; inpaint masks them
 * by the degradation's mask (the values under it are ignored); superres takes low-res images of [H/f, W/f, C].
 * `shape` is the clean (model) size.
 */
export function fromObservation(y: ArrayLike<number>, n: number, shapeIn: number[], d: Degradation): Degraded {
  if (shapeIn.length !== 3 || !shapeIn.every((v) => Number.isInteger(v) && v > 0))
    throw new Error(`restore: images need a shape [H, W, C], got [${shapeIn}]`);
  const shape = shapeIn as ImageShape;
  validateDegradation(d, shape);
  const D = size(shape);
  if (d.task === 'superres') {
    const yShape: ImageShape = [shape[0] / d.factor, shape[1] / d.factor, shape[2]];
    if (y.length !== n * size(yShape))
      throw new Error(`restore: ${y.length} values are not ${n} low-res images of [${yShape}]`);
    const yy = Float32Array.from(y);
    return {
      record: describeDegradation(d, shape, n),
      degradation: d,
      shape,
      n,
      y: yy,
      yShape,
      display: nearestUpsample(yy, n, yShape, d.factor),
    };
  }
  if (y.length !== n * D) throw new Error(`restore: ${y.length} values are not ${n} images of [${shape}]`);
  if (d.task === 'denoise') {
    const yy = Float32Array.from(y);
    return {
      record: describeDegradation(d, shape, n),
      degradation: d,
      shape,
      n,
      y: yy,
      yShape: shape,
      display: yy.map(clip01),
    };
  }
  const mask = expandMask(pixelMasks(d.mask, n, shape[0], shape[1]), n, shape);
  const yy = new Float32Array(n * D),
    display = new Float32Array(n * D);
  for (let i = 0; i < yy.length; i++) {
    yy[i] = mask[i] ? y[i] : 0;
    display[i] = mask[i] ? y[i] : 0.5;
  }
  return {
    record: describeDegradation(d, shape, n, mask),
    degradation: d,
    shape,
    n,
    y: yy,
    yShape: shape,
    mask,
    display,
  };
}
