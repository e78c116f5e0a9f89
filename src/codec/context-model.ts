// A small adaptive context-model coder over image pixels: L(x), the ideal code length of one image in bits,
// learned on that image alone (nothing is fitted beforehand, so it is a generic measure of the image's
// complexity, as the lossless compressors of Serrà et al. 2020 are, only sharper on small images).
//
// Every decision is a binary event b coded with an adaptive Krichevsky–Trofimov estimate in its context c:
//
//   p(b | c) = (n_b(c) + α) / (n_0(c) + n_1(c) + 2α),   α = ½,      L = Σ −log₂ p(b | c)  (bits)
//
// and the counts are updated after each event (so a decoder, which sees the same past, could follow).
//
//   binary images (bits 1): one event per pixel in raster order; its context is the values of the first
//     `neighbours` causal neighbours in the fixed order of NEIGHBOURS (W, N, NW, NE, WW, NN, …); pixels
//     outside the image read 0. 2^neighbours contexts (12 by default: the order that corrected best in
//     bench/ood.ts, a choice made against MNIST; selectContextModel chooses by
//     code length on normal images). binaryImageBitsCtw weights all orders up to that by context-tree weighting.
//   8-bit images (bits 8): the LOCO-I / JPEG-LS median predictor  p̂ = med(W, N, W + N − NW),  then the
//     residual e = v − p̂ as binary events: e = 0?; the sign; the exponent k = ⌊log₂|e|⌋ in unary; the k
//     mantissa bits below the leading one. The zero, sign and exponent events are conditioned on the local
//     activity |W − NW| + |NW − N| + |N − NE| in ACTIVITY_BUCKETS classes; each unary step and each
//     mantissa position has its own counts.
//   Several channels: each plane is coded in turn with its own counts (channels stored interleaved, HWC).
//
// Pure TypeScript, no tfjs, no node: (browser-safe); deterministic.

/** Causal neighbours (dy, dx) in the order they enter a binary pixel's context. */
export const NEIGHBOURS: readonly (readonly [number, number])[] = [
  [0, -1],
  [-1, 0],
  [-1, -1],
  [-1, 1],
  [0, -2],
  [-2, 0],
  [-1, -2],
  [-1, 2],
  [-2, -1],
  [-2, 1],
  [0, -3],
  [-3, 0],
];

/** Upper bounds (inclusive) of the activity classes of the 8-bit coder; above the last: the last class + 1. */
export const ACTIVITY_BUCKETS: readonly number[] = [0, 2, 8, 24, 64];

export interface ContextModelOptions {
  /**
   * Binary images: 'kt' (default) one KT estimate per context of `neighbours` pixels; 'ctw' weights every
   * context order up to `neighbours`. CTW codes shorter, but the KT coder's L(x) corrects the likelihood
   * better (Fashion-MNIST vs MNIST AUROC 0.985 vs 0.980 at 12 neighbours, docs/anomaly.md).
   */
  method?: 'ctw' | 'kt';
  /** Binary images: causal neighbours in the context, 0 … 12 (default 12). */
  neighbours?: number;
  /** The estimator's pseudo-count α (default ½: Krichevsky–Trofimov). */
  alpha?: number;
}

/** Adaptive counts of binary events in numbered contexts; bits accumulates −log₂ p of each coded event. */
class BinaryModel {
  private readonly n0: Float64Array;
  private readonly n1: Float64Array;
  bits = 0;
  constructor(
    contexts: number,
    private readonly alpha: number,
  ) {
    this.n0 = new Float64Array(contexts);
    this.n1 = new Float64Array(contexts);
  }
  code(ctx: number, b: boolean): void {
    const a = this.alpha;
    const n0 = this.n0[ctx];
    const n1 = this.n1[ctx];
    this.bits -= Math.log2(((b ? n1 : n0) + a) / (n0 + n1 + 2 * a));
    if (b) this.n1[ctx] = n1 + 1;
    else this.n0[ctx] = n0 + 1;
  }
}

function checkImage(px: ArrayLike<number>, h: number, w: number, c: number, what: string): void {
  for (const [name, v] of [
    ['height', h],
    ['width', w],
    ['channels', c],
  ] as const)
    if (!Number.isInteger(v) || v < 1) throw new Error(`${what}: ${name} must be a positive integer, got ${v}`);
  if (px.length !== h * w * c)
    throw new Error(`${what}: ${h}×${w}×${c} pixels need ${h * w * c} values, got ${px.length}`);
}

function checkOptions(opts: ContextModelOptions): { neighbours: number; alpha: number } {
  const neighbours = opts.neighbours ?? 12;
  const alpha = opts.alpha ?? 0.5;
  if (!Number.isInteger(neighbours) || neighbours < 0 || neighbours > NEIGHBOURS.length)
    throw new Error(`neighbours must be an integer in 0 … ${NEIGHBOURS.length}, got ${neighbours}`);
  if (!(alpha > 0) || !Number.isFinite(alpha)) throw new Error(`alpha must be a positive number, got ${alpha}`);
  return { neighbours, alpha };
}

/**
 * Bits of one binary image (values 0 or 1; anything above ½ counts as 1), h × w × c, channels interleaved.
 */
export function binaryImageBits(
  px: ArrayLike<number>,
  h: number,
  w: number,
  c = 1,
  opts: ContextModelOptions = {},
): number {
  checkImage(px, h, w, c, 'binaryImageBits');
  const { neighbours, alpha } = checkOptions(opts);
  const offs = NEIGHBOURS.slice(0, neighbours);
  let bits = 0;
  for (let ch = 0; ch < c; ch++) {
    const m = new BinaryModel(1 << neighbours, alpha);
    const at = (y: number, x: number) => (y >= 0 && x >= 0 && x < w && px[(y * w + x) * c + ch] > 0.5 ? 1 : 0);
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) {
        let ctx = 0;
        for (let j = 0; j < offs.length; j++) ctx |= at(y + offs[j][0], x + offs[j][1]) << j;
        m.code(ctx, px[(y * w + x) * c + ch] > 0.5);
      }
    bits += m.bits;
  }
  return bits;
}

/** log₂(2^a + 2^b) without overflow. */
function logAdd2(a: number, b: number): number {
  const m = Math.max(a, b);
  return m + Math.log2(2 ** (a - m) + 2 ** (b - m));
}

/**
 * Bits of one binary image under context-tree weighting (Willems, Shtarkov and Tjalkens 1995) over the causal
 * neighbours of NEIGHBOURS up to `depth`: every context tree of depth ≤ depth weighted by its size, each leaf a
 * KT estimate, so the coder picks the context order per region of the image without being told.
 *   P_w(s) = P_e(s) at depth D;  P_w(s) = ½ P_e(s) + ½ P_w(s0) P_w(s1) above;   L = −log₂ P_w(root).
 */
export function binaryImageBitsCtw(
  px: ArrayLike<number>,
  h: number,
  w: number,
  c = 1,
  opts: { depth?: number; alpha?: number } = {},
): number {
  checkImage(px, h, w, c, 'binaryImageBitsCtw');
  const depth = opts.depth ?? 12;
  const { alpha } = checkOptions({ alpha: opts.alpha, neighbours: depth });
  const offs = NEIGHBOURS.slice(0, depth);
  const size = 1 << (depth + 1); // node of depth d and context bits p (below d): index p | 1 << d
  const n0 = new Float64Array(size);
  const n1 = new Float64Array(size);
  const logPe = new Float64Array(size);
  const logPw = new Float64Array(size);
  let bits = 0;
  for (let ch = 0; ch < c; ch++) {
    n0.fill(0);
    n1.fill(0);
    logPe.fill(0);
    logPw.fill(0);
    const at = (y: number, x: number) => (y >= 0 && x >= 0 && x < w && px[(y * w + x) * c + ch] > 0.5 ? 1 : 0);
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) {
        let ctx = 0;
        for (let j = 0; j < offs.length; j++) ctx |= at(y + offs[j][0], x + offs[j][1]) << j;
        const b = px[(y * w + x) * c + ch] > 0.5;
        for (let d = depth; d >= 0; d--) {
          const node = (ctx & ((1 << d) - 1)) | (1 << d);
          const a0 = n0[node];
          const a1 = n1[node];
          logPe[node] += Math.log2(((b ? a1 : a0) + alpha) / (a0 + a1 + 2 * alpha));
          if (b) n1[node] = a1 + 1;
          else n0[node] = a0 + 1;
          if (d === depth) logPw[node] = logPe[node];
          else {
            const low = ctx & ((1 << d) - 1);
            const c0 = low | (1 << (d + 1));
            const c1 = low | (1 << d) | (1 << (d + 1));
            logPw[node] = logAdd2(logPe[node], logPw[c0] + logPw[c1]) - 1;
          }
        }
      }
    bits -= logPw[1];
  }
  return bits;
}

function activityClass(a: number): number {
  let q = 0;
  while (q < ACTIVITY_BUCKETS.length && a > ACTIVITY_BUCKETS[q]) q++;
  return q;
}

/** The median edge detector of LOCO-I: med(a, b, a + b − c) for W = a, N = b, NW = c. */
export function medPredict(a: number, b: number, c: number): number {
  if (c >= Math.max(a, b)) return Math.min(a, b);
  if (c <= Math.min(a, b)) return Math.max(a, b);
  return a + b - c;
}

/** Bits of one 8-bit image (integers 0 … 255), h × w × c, channels interleaved. */
export function grayImageBits(
  px: ArrayLike<number>,
  h: number,
  w: number,
  c = 1,
  opts: ContextModelOptions = {},
): number {
  checkImage(px, h, w, c, 'grayImageBits');
  const { alpha } = checkOptions(opts);
  for (let i = 0; i < px.length; i++)
    if (!Number.isInteger(px[i]) || px[i] < 0 || px[i] > 255)
      throw new Error(`grayImageBits: value ${i} is ${px[i]}, not an integer in 0 … 255`);
  const Q = ACTIVITY_BUCKETS.length + 1;
  let bits = 0;
  for (let ch = 0; ch < c; ch++) {
    const zero = new BinaryModel(Q, alpha);
    const sign = new BinaryModel(Q, alpha);
    const unary = new BinaryModel(Q * 8, alpha);
    const mantissa = new BinaryModel(8 * 8, alpha);
    const at = (y: number, x: number) => (y >= 0 && x >= 0 && x < w ? px[(y * w + x) * c + ch] : 0);
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) {
        const a = at(y, x - 1);
        const b = at(y - 1, x);
        const nw = at(y - 1, x - 1);
        const ne = at(y - 1, x + 1);
        const q = activityClass(Math.abs(a - nw) + Math.abs(nw - b) + Math.abs(b - ne));
        const e = px[(y * w + x) * c + ch] - medPredict(a, b, nw);
        zero.code(q, e === 0);
        if (e === 0) continue;
        sign.code(q, e < 0);
        const m = Math.abs(e); // 1 … 255
        const k = 31 - Math.clz32(m); // 0 … 7
        for (let j = 0; j < 7; j++) {
          unary.code(q * 8 + j, j < k); // "the exponent is above j"; at j = k it stops (k = 7 needs no stop)
          if (j >= k) break;
        }
        for (let j = k - 1; j >= 0; j--) mantissa.code(k * 8 + j, ((m >> j) & 1) === 1);
      }
    bits += zero.bits + sign.bits + unary.bits + mantissa.bits;
  }
  return bits;
}

/**
 * L(x) in bits per row for n rows of images in [0, 1] (shape [H, W] or [H, W, C], row-major): bits 1 codes
 * each value as x > ½ (the binary protocol), bits 8 as round(255 x) (the continuous protocol).
 */
export function contextModelBits(
  x: ArrayLike<number>,
  n: number,
  shape: readonly number[],
  opts: ContextModelOptions & { bits: 1 | 8 },
): Float64Array {
  if (shape.length !== 2 && shape.length !== 3)
    throw new Error(`the context-model coder takes images of shape [H, W] or [H, W, C], got [${shape}]`);
  const [h, w, c = 1] = shape;
  const D = h * w * c;
  if (!Number.isInteger(n) || n < 0 || x.length !== n * D)
    throw new Error(`${n} images of ${D} values need ${n * D} values, got ${x.length}`);
  if (opts.bits !== 1 && opts.bits !== 8) throw new Error(`bits must be 1 or 8, got ${opts.bits}`);
  const out = new Float64Array(n);
  const row = opts.bits === 1 ? new Float32Array(D) : new Uint8Array(D);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < D; j++) {
      const v = x[i * D + j];
      if (!(v >= 0 && v <= 1)) throw new Error(`image ${i}, value ${j} is ${v}, outside [0, 1]`);
      row[j] = opts.bits === 1 ? (v > 0.5 ? 1 : 0) : Math.round(v * 255);
    }
    out[i] =
      opts.bits === 8
        ? grayImageBits(row, h, w, c, opts)
        : opts.method === 'ctw'
          ? binaryImageBitsCtw(row, h, w, c, { depth: opts.neighbours, alpha: opts.alpha })
          : binaryImageBits(row, h, w, c, opts);
  }
  return out;
}

/** The settings selectContextModel chooses among by default, per pixel depth. */
export const CODER_CANDIDATES: Readonly<Record<1 | 8, readonly ContextModelOptions[]>> = {
  // KT over 2 … 12 neighbours × α from 0.02 to 1, and CTW of depth 8 and 12 at α = 0.05, ½ and 1
  1: [
    ...[2, 4, 6, 8, 10, 12].flatMap((neighbours) =>
      [0.02, 0.05, 0.1, 0.2, 0.5, 1].map((alpha) => ({ method: 'kt' as const, neighbours, alpha })),
    ),
    ...[8, 12].flatMap((neighbours) => [0.05, 0.5, 1].map((alpha) => ({ method: 'ctw' as const, neighbours, alpha }))),
  ],
  // the 8-bit coder has only α to set
  8: [0.05, 0.1, 0.2, 0.5, 1, 2, 4, 8].map((alpha) => ({ alpha })),
};

export interface CoderSelection {
  /** The candidate with the shortest mean code length on the rows (the first of equals). */
  options: ContextModelOptions;
  meanBits: number;
  /** Every candidate in the order given, with its mean code length in bits per row. */
  table: { options: ContextModelOptions; meanBits: number }[];
  rows: number;
}

/**
 * Chooses the coder's settings by code length alone: the candidate whose mean L(x) over the n rows (held-out
 * normal data: images of the in-distribution set that no score is evaluated on) is shortest. Nothing but those
 * rows enters the choice, so no outlier and no label does; it is the minimum-description-length choice of the
 * reference coder, the one a compressor would make.
 */
export function selectContextModel(
  x: ArrayLike<number>,
  n: number,
  shape: readonly number[],
  opts: { bits: 1 | 8; candidates?: readonly ContextModelOptions[] },
): CoderSelection {
  const candidates = opts.candidates ?? CODER_CANDIDATES[opts.bits];
  if (!candidates || candidates.length === 0) throw new Error('selectContextModel needs at least one candidate');
  if (!Number.isInteger(n) || n < 1) throw new Error(`selectContextModel needs at least one row, got ${n}`);
  const table = candidates.map((options) => {
    const l = contextModelBits(x, n, shape, { ...options, bits: opts.bits });
    let s = 0;
    for (let i = 0; i < n; i++) s += l[i];
    return { options, meanBits: s / n };
  });
  let best = 0;
  for (let i = 1; i < table.length; i++) if (table[i].meanBits < table[best].meanBits) best = i;
  return { options: table[best].options, meanBits: table[best].meanBits, table, rows: n };
}
