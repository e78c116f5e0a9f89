// Procedural dSprites: vaekit's own deterministic rendering of the dSprites factor grid (Matthey et al.
// 2017), generated on the fly, never downloaded.
//
// Factors, in the original's order (the original's constant 'color' factor of size 1 is left out):
//
//   factor        size  values (as numpy.linspace computes them)
//   shape           3   1, 2, 3              (square, ellipse, heart)
//   scale           6   linspace(0.5, 1, 6)
//   orientation    40   linspace(0, 2π, 40)  (radians; 0 and 2π are both present and render alike, as in the original)
//   posX           32   linspace(0, 1, 32)
//   posY           32   linspace(0, 1, 32)
//
// Index of a combination = Σ factor_i · base_i with bases [245760, 40960, 1024, 32, 1] (posY fastest);
// 737,280 images in all.
//
// Geometry (64×64 binary images, row-major, row 0 at the top):
//   * Pixel (r, c) covers [c, c+1] × [r, r+1]; its centre is (c + 0.5, r + 0.5). Anti-aliasing is off: a pixel
//     is 1 iff its centre lies inside the shape (boundary included), else 0.
//   * The shape's centre sits on a pixel centre: column 16 + posX index, row 16 + posY index, i.e. at
//     x = 16.5 + 31·posX, y = 16.5 + 31·posY in pixel units. posX grows to the right, posY grows downwards;
//     one position step is exactly one pixel, so moving a sprite is an exact integer shift.
//   * Shapes are defined in their own frame (units: pixels at scale 1, y pointing up), rotated
//     counter-clockwise on screen by `orientation` about their centre, then multiplied by `scale`:
//       square  |x| ≤ 10.5, |y| ≤ 10.5                          (21×21 = 441 pixels unrotated at scale 1)
//       ellipse (x/14.5)² + (y/7.5)² ≤ 1                        (major axis horizontal at orientation 0)
//       heart   (u² + v² − 1)³ − u² v³ ≤ 0 with u = x/11, v = y/11 + 0.12
//               (the classic heart curve, point down, lobes up; mirror-symmetric in x; its bounding box
//               is centred on the rotation centre)
//   * Every shape at scale 1 lies within distance 15 of its centre, whatever the rotation (square corner
//     10.5·√2 ≈ 14.85, ellipse 14.5, heart ≈ 11·1.337 ≈ 14.71), so a lit pixel is at most 14 pixels from the
//     centre pixel along each axis. With centres in rows/columns 16..47, lit pixels stay within rows and
//     columns 2..61: nothing ever leaves the frame or touches its border. The sprite builder checks this
//     bound for every (shape, scale, orientation) and throws if it were ever broken.
//   * Scale tie-free: at orientation 0 no boundary passes through a pixel centre (10.5·scale is never an
//     integer), so the unrotated square at scale s is (2·floor(10.5·s) + 1)² pixels: 11², 13², …, 21².
//
// Rendering caches one 31×31 bitmap per (shape, scale, orientation) (720 in all, built lazily) and blits
// it at the position; render() is therefore exact, deterministic and cheap (about a microsecond).

import { Rng } from '../rng.js';
import { lazySplit } from './split.js';
import type { Dataset, RowSource } from './types.js';

export const DSPRITES_SIZE = 64;
export const DSPRITES_DIM = DSPRITES_SIZE * DSPRITES_SIZE;
export const DSPRITES_SHAPE_NAMES = ['square', 'ellipse', 'heart'] as const;

export interface FactorInfo {
  name: string;
  size: number;
  values: readonly number[];
}

/** numpy.linspace(start, stop, num): start + i·step, with the last value exactly `stop`. */
export function linspace(start: number, stop: number, num: number): number[] {
  if (num === 1) return [start];
  const step = (stop - start) / (num - 1);
  const v = Array.from({ length: num }, (_, i) => start + i * step);
  v[num - 1] = stop;
  return v;
}

export const DSPRITES_FACTORS: readonly FactorInfo[] = Object.freeze([
  { name: 'shape', size: 3, values: Object.freeze([1, 2, 3]) },
  { name: 'scale', size: 6, values: Object.freeze(linspace(0.5, 1, 6)) },
  { name: 'orientation', size: 40, values: Object.freeze(linspace(0, 2 * Math.PI, 40)) },
  { name: 'posX', size: 32, values: Object.freeze(linspace(0, 1, 32)) },
  { name: 'posY', size: 32, values: Object.freeze(linspace(0, 1, 32)) },
]);

export const DSPRITES_FACTOR_SIZES: readonly number[] = Object.freeze(DSPRITES_FACTORS.map((f) => f.size));
export const DSPRITES_NUM_FACTORS = DSPRITES_FACTORS.length;
/** [245760, 40960, 1024, 32, 1] */
export const DSPRITES_BASES: readonly number[] = Object.freeze(
  DSPRITES_FACTOR_SIZES.map((_, i) => DSPRITES_FACTOR_SIZES.slice(i + 1).reduce((a, b) => a * b, 1)),
);
/** 737,280 */
export const DSPRITES_COUNT = DSPRITES_FACTOR_SIZES.reduce((a, b) => a * b, 1);

/** Shape frame constants (see the geometry above). */
export const DSPRITES_GEOMETRY = Object.freeze({
  /** Centre of the sprite for position index i (both axes): pixel i + 16, whose centre is i + 16.5. */
  firstCentrePixel: 16,
  squareHalfSide: 10.5,
  ellipseSemiAxes: Object.freeze([14.5, 7.5]) as readonly [number, number],
  heartUnit: 11,
  heartYOffset: 0.12,
  /** Every shape at scale 1 lies within this distance of its centre. */
  maxRadius: 15,
});

// ---------------------------------------------------------------------------------------------------
// Indexing

function checkIndex(index: number): void {
  if (!Number.isInteger(index) || index < 0 || index >= DSPRITES_COUNT) {
    throw new RangeError(`dSprites index must be an integer in 0..${DSPRITES_COUNT - 1}, got ${index}`);
  }
}

/** The five factor classes (shape, scale, orientation, posX, posY) of an image index. */
export function factorsOf(index: number, out?: Int32Array): Int32Array {
  checkIndex(index);
  const f = out ?? new Int32Array(DSPRITES_NUM_FACTORS);
  let r = index;
  for (let i = 0; i < DSPRITES_NUM_FACTORS; i++) {
    const b = DSPRITES_BASES[i];
    f[i] = Math.floor(r / b);
    r -= f[i] * b;
  }
  return f;
}

/** The image index of five factor classes (range-checked). */
export function indexOf(factors: ArrayLike<number>): number {
  if (factors.length !== DSPRITES_NUM_FACTORS)
    throw new Error(`indexOf: need ${DSPRITES_NUM_FACTORS} factors, got ${factors.length}`);
  let idx = 0;
  for (let i = 0; i < DSPRITES_NUM_FACTORS; i++) {
    const v = factors[i];
    if (!Number.isInteger(v) || v < 0 || v >= DSPRITES_FACTOR_SIZES[i]) {
      throw new RangeError(
        `indexOf: factor ${DSPRITES_FACTORS[i].name} must be an integer in 0..${DSPRITES_FACTOR_SIZES[i] - 1}, got ${v}`,
      );
    }
    idx += v * DSPRITES_BASES[i];
  }
  return idx;
}

/** Factor values (not classes) of an image index: [shape 1..3, scale, orientation (rad), posX, posY]. */
export function factorValuesOf(index: number): number[] {
  const f = factorsOf(index);
  return Array.from(f, (c, i) => DSPRITES_FACTORS[i].values[c]);
}

// ---------------------------------------------------------------------------------------------------
// Shapes and sprites

/** Inside test in the shape's own frame (pixels at scale 1, y up). */
export function insideShape(shape: number, x: number, y: number): boolean {
  const G = DSPRITES_GEOMETRY;
  switch (shape) {
    case 0:
      return Math.abs(x) <= G.squareHalfSide && Math.abs(y) <= G.squareHalfSide;
    case 1: {
      const a = x / G.ellipseSemiAxes[0];
      const b = y / G.ellipseSemiAxes[1];
      return a * a + b * b <= 1;
    }
    case 2: {
      const u = x / G.heartUnit;
      const v = y / G.heartUnit + G.heartYOffset;
      const q = u * u + v * v - 1;
      return q * q * q - u * u * v * v * v <= 0;
    }
    default:
      throw new RangeError(`dSprites shape must be 0, 1 or 2, got ${shape}`);
  }
}

const SPRITE_R = 15; // bitmap covers offsets −15..15
const SPRITE_W = 2 * SPRITE_R + 1;
const NUM_SPRITES = 3 * 6 * 40;
const spriteCache: (Uint32Array | undefined)[] = new Array(NUM_SPRITES);

/**
 * The lit pixels of sprite (shape, scale, orientation) as offsets from the centre pixel, encoded as
 * (dy + 15) · 31 + (dx + 15), dy downwards, in row-major order. Built once and cached.
 */
export function spriteOffsets(shape: number, scale: number, orientation: number): Uint32Array {
  const key = (shape * 6 + scale) * 40 + orientation;
  const hit = spriteCache[key];
  if (hit) return hit;
  const s = DSPRITES_FACTORS[1].values[scale];
  const th = DSPRITES_FACTORS[2].values[orientation];
  if (s === undefined || th === undefined || !(shape >= 0 && shape < 3)) {
    throw new RangeError(`dSprites sprite (${shape}, ${scale}, ${orientation}) out of range`);
  }
  const c = Math.cos(th);
  const sn = Math.sin(th);
  const lit: number[] = [];
  // One ring wider than the bitmap, to prove that nothing is cut off.
  const R = SPRITE_R + 1;
  for (let dy = -R; dy <= R; dy++) {
    for (let dx = -R; dx <= R; dx++) {
      const u = dx;
      const v = -dy; // y up
      // Rotate the pixel centre by −θ into the shape's frame, then undo the scale.
      const x = (u * c + v * sn) / s;
      const y = (-u * sn + v * c) / s;
      if (!insideShape(shape, x, y)) continue;
      if (Math.abs(dx) > SPRITE_R - 1 || Math.abs(dy) > SPRITE_R - 1) {
        throw new Error(
          `dSprites geometry: sprite (${shape}, ${scale}, ${orientation}) reaches offset (${dx}, ${dy}), beyond the 14-pixel bound`,
        );
      }
      lit.push((dy + SPRITE_R) * SPRITE_W + (dx + SPRITE_R));
    }
  }
  const arr = Uint32Array.from(lit);
  spriteCache[key] = arr;
  return arr;
}

/** Renders image `index` (64×64, values 0/1) into `out` (length ≥ 4096; zeroed here) or a new array. */
export function render(index: number, out?: Float32Array): Float32Array {
  checkIndex(index);
  const img = out ?? new Float32Array(DSPRITES_DIM);
  if (img.length < DSPRITES_DIM) throw new Error(`render: output has ${img.length} values, need ${DSPRITES_DIM}`);
  renderInto(index, img, 0);
  return img;
}

function renderInto(index: number, img: Float32Array, off: number): void {
  const sh = Math.floor(index / 245760);
  let r = index - sh * 245760;
  const sc = Math.floor(r / 40960);
  r -= sc * 40960;
  const or = Math.floor(r / 1024);
  r -= or * 1024;
  const px = Math.floor(r / 32);
  const py = r - px * 32;
  img.fill(0, off, off + DSPRITES_DIM);
  const sprite = spriteOffsets(sh, sc, or);
  // Top-left of the 31×31 bitmap: centre pixel (16 + p) minus 15.
  const row0 = DSPRITES_GEOMETRY.firstCentrePixel + py - SPRITE_R;
  const col0 = DSPRITES_GEOMETRY.firstCentrePixel + px - SPRITE_R;
  const base = off + row0 * DSPRITES_SIZE + col0;
  for (let k = 0; k < sprite.length; k++) {
    const o = sprite[k];
    const dy = (o / SPRITE_W) | 0;
    img[base + dy * DSPRITES_SIZE + (o - dy * SPRITE_W)] = 1;
  }
}

/** Renders images `indices` into one [n × 4096] array (`out` if given). */
export function renderBatch(indices: ArrayLike<number>, out?: Float32Array): Float32Array {
  const n = indices.length;
  const x = out ?? new Float32Array(n * DSPRITES_DIM);
  if (x.length < n * DSPRITES_DIM)
    throw new Error(`renderBatch: output has ${x.length} values, need ${n * DSPRITES_DIM}`);
  for (let i = 0; i < n; i++) {
    checkIndex(indices[i]);
    renderInto(indices[i], x, i * DSPRITES_DIM);
  }
  return x;
}

/** Renders factor classes [n × 5] (row-major) into [n × 4096]. */
export function renderFactors(factors: ArrayLike<number>, out?: Float32Array): Float32Array {
  if (factors.length % DSPRITES_NUM_FACTORS !== 0)
    throw new Error(`renderFactors: ${factors.length} values is not a multiple of ${DSPRITES_NUM_FACTORS}`);
  const n = factors.length / DSPRITES_NUM_FACTORS;
  const idx = new Uint32Array(n);
  const row = new Array<number>(DSPRITES_NUM_FACTORS);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < DSPRITES_NUM_FACTORS; j++) row[j] = factors[i * DSPRITES_NUM_FACTORS + j];
    idx[i] = indexOf(row);
  }
  return renderBatch(idx, out);
}

// ---------------------------------------------------------------------------------------------------
// Sampling and datasets

/** n distinct image indices, uniformly at random without replacement, in random order. */
export function sampleIndices(rng: Rng, n: number): Uint32Array {
  if (!Number.isInteger(n) || n < 0 || n > DSPRITES_COUNT)
    throw new RangeError(`sampleIndices: n must be an integer in 0..${DSPRITES_COUNT}, got ${n}`);
  if (n > DSPRITES_COUNT / 4) return rng.permutation(DSPRITES_COUNT).slice(0, n);
  const seen = new Uint8Array(DSPRITES_COUNT);
  const out = new Uint32Array(n);
  for (let i = 0; i < n;) {
    const j = rng.int(DSPRITES_COUNT);
    if (seen[j]) continue;
    seen[j] = 1;
    out[i++] = j;
  }
  return out;
}

/**
 * A source of observations with known, discrete, independently sampled generative factors: what the
 * disentanglement metrics need (disentanglement_lib's GroundTruthData).
 */
export interface GroundTruthData {
  readonly numFactors: number;
  /** Number of values of each factor; factor classes are 0..size−1. */
  readonly factorSizes: readonly number[];
  readonly factorNames?: readonly string[];
  /** Per-observation shape (e.g. [64, 64, 1]); observations travel flat. */
  readonly observationShape: readonly number[];
  /** n rows of factor classes, each factor uniform and independent: Int32Array [n × numFactors]. */
  sampleFactors(n: number, rng: Rng): Int32Array;
  /** Observations of factor rows [n × numFactors]: Float32Array [n × prod(observationShape)]. */
  render(factors: Int32Array): Float32Array;
}

/** Uniform, independent factor classes [n × sizes.length]. */
export function sampleUniformFactors(sizes: readonly number[], n: number, rng: Rng): Int32Array {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`sampleFactors: n must be a non-negative integer, got ${n}`);
  const F = sizes.length;
  const out = new Int32Array(n * F);
  for (let i = 0; i < n; i++) for (let j = 0; j < F; j++) out[i * F + j] = rng.int(sizes[j]);
  return out;
}

/** dSprites as GroundTruthData: all five factors, images rendered on the fly. */
export function dspritesGroundTruth(): GroundTruthData {
  return {
    numFactors: DSPRITES_NUM_FACTORS,
    factorSizes: DSPRITES_FACTOR_SIZES,
    factorNames: DSPRITES_FACTORS.map((f) => f.name),
    observationShape: [DSPRITES_SIZE, DSPRITES_SIZE, 1],
    sampleFactors: (n, rng) => sampleUniformFactors(DSPRITES_FACTOR_SIZES, n, rng),
    render: (factors) => renderFactors(factors),
  };
}

export interface DspritesDatasetOptions {
  /** Training examples: a seeded draw of this many; undefined: all 737,280 images (as disentanglement_lib). */
  n?: number;
  /** Test examples (default ceil(n / 6) for a draw, DSPRITES_TEST_N for all images). */
  nTest?: number;
  /** Seed of the draw (default 0). */
  seed?: number;
}

/** Test examples of the full data set (a seeded draw; not held out, as disentanglement_lib holds none out). */
export const DSPRITES_TEST_N = 10000;

/** Rows rendered on demand: row i is image `indices[i]` (0/1 values); nothing but the index list is held. */
export function dspritesSource(indices: Uint32Array): RowSource {
  return {
    n: indices.length,
    rowSize: DSPRITES_DIM,
    readRows: (rows) => renderBatch(Uint32Array.from(rows as ArrayLike<number>, (j) => indices[j])),
    residentBytes: () => indices.byteLength,
  };
}

export interface DspritesDataset extends Dataset {
  /** Factor classes of each example, [n × 5] row-major (shape, scale, orientation, posX, posY). */
  trainFactors: Int32Array;
  testFactors: Int32Array;
  /** Factor values of each example, [n × 5] row-major (shape 1..3, scale, orientation in radians, posX, posY). */
  trainFactorValues: Float64Array;
  testFactorValues: Float64Array;
  /** The dSprites image index of each example. */
  trainIndices: Uint32Array;
  testIndices: Uint32Array;
  factors: readonly FactorInfo[];
}

/** Factor values of factor-class rows [n × 5]: [n × 5] (shape 1..3, scale, orientation, posX, posY). */
export function factorValuesOfRows(factors: ArrayLike<number>): Float64Array {
  const out = new Float64Array(factors.length);
  for (let i = 0; i < factors.length; i++) {
    const j = i % DSPRITES_NUM_FACTORS;
    const v = DSPRITES_FACTORS[j].values[factors[i]];
    if (v === undefined)
      throw new RangeError(`factorValuesOfRows: ${DSPRITES_FACTORS[j].name} class ${factors[i]} out of range`);
    out[i] = v;
  }
  return out;
}

function factorRows(indices: Uint32Array): Int32Array {
  const out = new Int32Array(indices.length * DSPRITES_NUM_FACTORS);
  for (let i = 0; i < indices.length; i++)
    factorsOf(indices[i], out.subarray(i * DSPRITES_NUM_FACTORS, (i + 1) * DSPRITES_NUM_FACTORS));
  return out;
}

/** 0, 1, …, n − 1. */
function iota(n: number): Uint32Array {
  const a = new Uint32Array(n);
  for (let i = 0; i < n; i++) a[i] = i;
  return a;
}

/** A value computed on first use (the factor tables of all 737,280 images are 44 MB). */
function lazy<T>(f: () => T): () => T {
  let v: T | undefined;
  return () => (v ??= f());
}

/**
 * dSprites, rendered on demand (16 KiB per image as float32 is only ever spent per batch). Without `n`: all
 * 737,280 images train, in index order (batching shuffles), and a seeded draw of DSPRITES_TEST_N is the test
 * split, as disentanglement_lib trains on all of them. With `n`: n + nTest distinct images drawn without
 * replacement by a seeded Rng, split into disjoint train and test. Rows are 0/1, shape [64, 64, 1], protocol
 * 'binary'; y: the shape class (0 square, 1 ellipse, 2 heart); all five factor classes in trainFactors / testFactors.
 */
export function dspritesDataset(opts: DspritesDatasetOptions = {}): DspritesDataset {
  const full = opts.n === undefined;
  const n = opts.n ?? DSPRITES_COUNT;
  const nTest = opts.nTest ?? (full ? DSPRITES_TEST_N : Math.ceil(n / 6));
  const seed = opts.seed ?? 0;
  if (!Number.isInteger(n) || n < 1) throw new Error(`dsprites: n must be a positive integer, got ${n}`);
  if (!Number.isInteger(nTest) || nTest < 0)
    throw new Error(`dsprites: nTest must be a non-negative integer, got ${nTest}`);
  if (!full && n + nTest > DSPRITES_COUNT)
    throw new Error(`dsprites: n + nTest = ${n + nTest} exceeds the ${DSPRITES_COUNT} images`);
  if (nTest > DSPRITES_COUNT) throw new Error(`dsprites: nTest = ${nTest} exceeds the ${DSPRITES_COUNT} images`);
  if (!Number.isSafeInteger(seed)) throw new Error(`dsprites: seed must be an integer, got ${seed}`);
  let trainIndices: Uint32Array, testIndices: Uint32Array;
  if (full) {
    trainIndices = iota(DSPRITES_COUNT);
    testIndices = sampleIndices(new Rng(seed), nTest);
  } else {
    const all = sampleIndices(new Rng(seed), n + nTest);
    trainIndices = all.slice(0, n);
    testIndices = all.slice(n);
  }
  const trainFactors = lazy(() => factorRows(trainIndices));
  const testFactors = lazy(() => factorRows(testIndices));
  const trainValues = lazy(() => factorValuesOfRows(trainFactors()));
  const testValues = lazy(() => factorValuesOfRows(testFactors()));
  const shapeOf = (idx: Uint32Array) => Int32Array.from(idx, (i) => Math.floor(i / DSPRITES_BASES[0]));
  const shape = [DSPRITES_SIZE, DSPRITES_SIZE, 1];
  return {
    name: 'dsprites',
    train: lazySplit(dspritesSource(trainIndices), [...shape], shapeOf(trainIndices)),
    test: lazySplit(dspritesSource(testIndices), [...shape], shapeOf(testIndices)),
    shape,
    numClasses: 3,
    classNames: [...DSPRITES_SHAPE_NAMES],
    protocol: 'binary',
    source: 'procedural (vaekit)',
    splitSeed: seed,
    get trainFactors() {
      return trainFactors();
    },
    get testFactors() {
      return testFactors();
    },
    get trainFactorValues() {
      return trainValues();
    },
    get testFactorValues() {
      return testValues();
    },
    trainIndices,
    testIndices,
    factors: DSPRITES_FACTORS,
  };
}
