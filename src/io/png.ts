// PNG images for samples, reconstructions and grids. Pixels are row-major, channels interleaved
// (h × w × c), floats in [0, 1] (or bytes 0–255). Encoding/decoding via pngjs.

import { PNG } from 'pngjs';
import { writeFileAtomic } from '../util/atomic.js';

export type Channels = 1 | 3 | 4;

/** An image held as floats in [0, 1], h × w × c interleaved. */
export interface Image {
  pixels: Float32Array;
  width: number;
  height: number;
  channels: Channels;
}

const COLOR_TYPE: Record<Channels, 0 | 2 | 6> = { 1: 0, 3: 2, 4: 6 }; // PNG grayscale / RGB / RGBA

function checkDims(fn: string, width: number, height: number): void {
  for (const [k, v] of [
    ['width', width],
    ['height', height],
  ] as const) {
    if (!Number.isSafeInteger(v) || v <= 0) throw new Error(`${fn}: ${k} must be a positive integer, got ${v}`);
  }
}

function checkChannels(fn: string, c: number): asserts c is Channels {
  if (c !== 1 && c !== 3 && c !== 4) throw new Error(`${fn}: channels must be 1, 3 or 4, got ${c}`);
}

/** Float [0,1] → byte, clamped; NaN is an error (it means the model diverged, not a dark pixel). */
export function toBytes(pixels: Float32Array | Float64Array | Uint8Array): Uint8Array {
  if (pixels instanceof Uint8Array) return pixels;
  const out = new Uint8Array(pixels.length);
  for (let i = 0; i < pixels.length; i++) {
    const v = pixels[i];
    if (Number.isNaN(v)) throw new Error(`image has NaN at element ${i}; refusing to write a PNG from it`);
    out[i] = v <= 0 ? 0 : v >= 1 ? 255 : Math.round(v * 255);
  }
  return out;
}

/**
 * Encode pixels as an 8-bit PNG (grayscale, RGB or RGBA by `channels`). Float input is taken as
 * [0, 1] and clamped (NaN throws); Uint8Array input is written as is.
 */
export function encodePng(
  pixels: Float32Array | Float64Array | Uint8Array,
  width: number,
  height: number,
  channels: Channels,
): Buffer {
  checkDims('encodePng', width, height);
  checkChannels('encodePng', channels);
  const expected = width * height * channels;
  if (pixels.length !== expected) {
    throw new Error(`encodePng: ${width}×${height}×${channels} needs ${expected} values, got ${pixels.length}`);
  }
  const bytes = toBytes(pixels);
  const colorType = COLOR_TYPE[channels];
  return PNG.sync.write(
    { width, height, data: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), gamma: 0 } as unknown as PNG,
    { colorType, inputColorType: colorType, inputHasAlpha: channels === 4, bitDepth: 8 },
  );
}

/** Encode an Image. */
export function imageToPng(image: Image): Buffer {
  return encodePng(image.pixels, image.width, image.height, image.channels);
}

/** Write an Image as a PNG file (atomically). */
export async function writePng(file: string, image: Image): Promise<void> {
  await writeFileAtomic(file, imageToPng(image));
}

/**
 * Decode a PNG into floats in [0, 1]. channels: 1 for grayscale, 3 for RGB/palette, 4 when the
 * image has an alpha channel or transparency (gray+alpha is expanded to RGBA). 16-bit images are
 * reduced to 8 bits.
 */
export function decodePng(buf: Uint8Array): Image {
  let png: { width: number; height: number; data: Buffer; colorType: number; color: boolean };
  try {
    png = PNG.sync.read(Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength)) as unknown as typeof png;
  } catch (e) {
    throw new Error(`decodePng: not a valid PNG (${(e as Error).message})`, { cause: e });
  }
  const { width, height, data } = png; // data is always RGBA 8-bit
  const npx = width * height;
  let channels: Channels;
  let hasTransparency = false;
  for (let i = 0; i < npx && !hasTransparency; i++) if (data[i * 4 + 3] !== 255) hasTransparency = true;
  if ((png.colorType & 4) !== 0 || hasTransparency) channels = 4;
  else channels = png.color ? 3 : 1;
  const pixels = new Float32Array(npx * channels);
  for (let i = 0; i < npx; i++) {
    for (let ch = 0; ch < channels; ch++) pixels[i * channels + ch] = data[i * 4 + ch] / 255;
  }
  return { pixels, width, height, channels };
}

export interface GridOptions {
  /** Images per row; default ceil(sqrt(n)). */
  cols?: number;
  /** Pixels of padding between cells and around the border; default 1. */
  pad?: number;
  /** Value of padding and of empty cells, in [0, 1]; default 1 (white). */
  padValue?: number;
}

/**
 * Lay out n images (n × h × w × c, row-major, values in [0, 1]) in a grid, row by row.
 * width = cols·w + (cols+1)·pad, height = rows·h + (rows+1)·pad, rows = ceil(n / cols).
 */
export function imageGrid(
  images: Float32Array,
  n: number,
  h: number,
  w: number,
  c: number,
  opts: GridOptions = {},
): Image {
  checkDims('imageGrid', w, h);
  checkChannels('imageGrid', c);
  if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`imageGrid: n must be a positive integer, got ${n}`);
  if (images.length !== n * h * w * c) {
    throw new Error(`imageGrid: ${n} images of ${h}×${w}×${c} need ${n * h * w * c} values, got ${images.length}`);
  }
  const cols = opts.cols ?? Math.ceil(Math.sqrt(n));
  const pad = opts.pad ?? 1;
  const padValue = opts.padValue ?? 1;
  if (!Number.isSafeInteger(cols) || cols <= 0)
    throw new Error(`imageGrid: cols must be a positive integer, got ${cols}`);
  if (!Number.isSafeInteger(pad) || pad < 0)
    throw new Error(`imageGrid: pad must be a non-negative integer, got ${pad}`);
  const rows = Math.ceil(n / cols);
  const width = cols * w + (cols + 1) * pad;
  const height = rows * h + (rows + 1) * pad;
  const pixels = new Float32Array(width * height * c).fill(padValue);
  const rowLen = w * c;
  for (let k = 0; k < n; k++) {
    const x0 = pad + (k % cols) * (w + pad);
    const y0 = pad + Math.floor(k / cols) * (h + pad);
    for (let y = 0; y < h; y++) {
      const src = (k * h + y) * rowLen;
      pixels.set(images.subarray(src, src + rowLen), ((y0 + y) * width + x0) * c);
    }
  }
  return { pixels, width, height, channels: c };
}

/**
 * Originals and their reconstructions side by side: each cell pair is [original | reconstruction],
 * `pairsPerRow` pairs per row (default ceil(sqrt(n))). Both inputs are n × h × w × c.
 */
export function reconstructionGrid(
  originals: Float32Array,
  reconstructions: Float32Array,
  n: number,
  h: number,
  w: number,
  c: number,
  opts: Omit<GridOptions, 'cols'> & { pairsPerRow?: number } = {},
): Image {
  const size = h * w * c;
  if (originals.length !== n * size || reconstructions.length !== n * size) {
    throw new Error(
      `reconstructionGrid: expected ${n * size} values each, got ${originals.length} originals and ${reconstructions.length} reconstructions`,
    );
  }
  const both = new Float32Array(2 * n * size);
  for (let k = 0; k < n; k++) {
    both.set(originals.subarray(k * size, (k + 1) * size), 2 * k * size);
    both.set(reconstructions.subarray(k * size, (k + 1) * size), (2 * k + 1) * size);
  }
  const pairsPerRow = opts.pairsPerRow ?? Math.ceil(Math.sqrt(n));
  return imageGrid(both, 2 * n, h, w, c, { pad: opts.pad, padValue: opts.padValue, cols: 2 * pairsPerRow });
}

/** Nearest-neighbour enlargement by an integer factor (each pixel becomes factor × factor). */
export function upscale(image: Image, factor: number): Image {
  if (!Number.isSafeInteger(factor) || factor < 1)
    throw new Error(`upscale: factor must be a positive integer, got ${factor}`);
  const { width, height, channels: c, pixels } = image;
  if (pixels.length !== width * height * c) {
    throw new Error(`upscale: ${width}×${height}×${c} needs ${width * height * c} values, got ${pixels.length}`);
  }
  if (factor === 1) return { pixels: pixels.slice(), width, height, channels: c };
  const W = width * factor;
  const H = height * factor;
  const out = new Float32Array(W * H * c);
  const outRow = new Float32Array(W * c);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const src = (y * width + x) * c;
      for (let f = 0; f < factor; f++) {
        for (let ch = 0; ch < c; ch++) outRow[(x * factor + f) * c + ch] = pixels[src + ch];
      }
    }
    for (let f = 0; f < factor; f++) out.set(outRow, (y * factor + f) * W * c);
  }
  return { pixels: out, width: W, height: H, channels: c };
}
