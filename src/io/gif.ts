// Animated GIFs (latent traversals, training progress) via gifenc. Frames are h × w × c floats in
// [0, 1] (c = 1 grayscale, exact 256-level gray palette; c = 3 RGB, one 256-colour palette
// quantized over all frames).

import gifenc from 'gifenc';
import { writeFileAtomic } from '../util/atomic.js';
import { toBytes, upscale } from './png.js';

export interface GifOptions {
  /** Time per frame in milliseconds (GIF resolution is 10 ms); default 100. */
  delayMs?: number;
  /** -1 play once, 0 loop forever (default), n loop n extra times. */
  repeat?: number;
  /** Nearest-neighbour enlargement factor for visibility; default 1. */
  scale?: number;
}

/** Encode frames (each width × height × channels, values in [0, 1]; NaN throws) as an animated GIF. */
export function encodeGif(
  frames: readonly Float32Array[],
  width: number,
  height: number,
  channels: 1 | 3 = 1,
  opts: GifOptions = {},
): Uint8Array {
  if (frames.length === 0) throw new Error('encodeGif: no frames');
  if (!Number.isSafeInteger(width) || width <= 0 || !Number.isSafeInteger(height) || height <= 0) {
    throw new Error(`encodeGif: width and height must be positive integers, got ${width}×${height}`);
  }
  if (channels !== 1 && channels !== 3) throw new Error(`encodeGif: channels must be 1 or 3, got ${channels}`);
  const scale = opts.scale ?? 1;
  const delay = opts.delayMs ?? 100;
  const repeat = opts.repeat ?? 0;
  if (!Number.isSafeInteger(scale) || scale < 1)
    throw new Error(`encodeGif: scale must be a positive integer, got ${scale}`);
  if (!(delay >= 0)) throw new Error(`encodeGif: delayMs must be >= 0, got ${delay}`);
  if (!Number.isSafeInteger(repeat) || repeat < -1)
    throw new Error(`encodeGif: repeat must be -1, 0 or a positive integer, got ${repeat}`);
  const size = width * height * channels;
  const W = width * scale;
  const H = height * scale;
  const bytes = frames.map((f, i) => {
    if (f.length !== size)
      throw new Error(
        `encodeGif: frame ${i} has ${f.length} values, expected ${size} (${width}×${height}×${channels})`,
      );
    let px = f;
    if (scale > 1) px = upscale({ pixels: f, width, height, channels }, scale).pixels;
    try {
      return toBytes(px);
    } catch (e) {
      throw new Error(`encodeGif: frame ${i}: ${(e as Error).message}`, { cause: e });
    }
  });

  const enc = gifenc.GIFEncoder();
  if (channels === 1) {
    const palette = Array.from({ length: 256 }, (_, i) => [i, i, i]);
    bytes.forEach((b, i) => enc.writeFrame(b, W, H, i === 0 ? { palette, delay, repeat } : { delay }));
  } else {
    const npx = W * H;
    const rgbaFrames = bytes.map((b) => {
      const rgba = new Uint8Array(npx * 4);
      for (let p = 0; p < npx; p++) {
        rgba[p * 4] = b[p * 3];
        rgba[p * 4 + 1] = b[p * 3 + 1];
        rgba[p * 4 + 2] = b[p * 3 + 2];
        rgba[p * 4 + 3] = 255;
      }
      return rgba;
    });
    const all = new Uint8Array(npx * 4 * rgbaFrames.length);
    rgbaFrames.forEach((f, i) => all.set(f, i * npx * 4));
    const palette = gifenc.quantize(all, 256);
    rgbaFrames.forEach((f, i) =>
      enc.writeFrame(gifenc.applyPalette(f, palette), W, H, i === 0 ? { palette, delay, repeat } : { delay }),
    );
  }
  enc.finish();
  return enc.bytes();
}

/** encodeGif + writeFileAtomic. */
export async function writeGif(
  file: string,
  frames: readonly Float32Array[],
  width: number,
  height: number,
  channels: 1 | 3 = 1,
  opts: GifOptions = {},
): Promise<void> {
  await writeFileAtomic(file, encodeGif(frames, width, height, channels, opts));
}
