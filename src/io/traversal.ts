// A latent traversal's images (src/eval/traversal.ts) as files:
//   traversalGrid(t)  → one image: a row per dimension, a column per value (io/png imageGrid)
//   traversalGif(t)   → an animated GIF: frame s shows every dimension at value s (io/gif encodeGif), forth and back
import type { Traversal } from '../eval/traversal.js';
import { encodeGif, type GifOptions } from './gif.js';
import { imageGrid, type GridOptions, type Image } from './png.js';

/** One row per dimension, one column per value. */
export function traversalGrid(t: Traversal, opts: Omit<GridOptions, 'cols'> = {}): Image {
  const [h, w, c] = t.shape;
  return imageGrid(t.images, t.rows * t.steps, h, w, c, { ...opts, cols: t.steps });
}

export interface TraversalGifOptions extends GifOptions {
  /** Cells per row of each frame (default ceil(sqrt(rows))). */
  cols?: number;
  pad?: number;
  padValue?: number;
  /** Play the values forth and back (default true). */
  pingPong?: boolean;
}

/** Animated GIF: frame s is the grid of every row's image at value s. */
export function traversalGif(t: Traversal, opts: TraversalGifOptions = {}): Uint8Array {
  const [h, w, c] = t.shape;
  const size = h * w * c;
  const order = Array.from({ length: t.steps }, (_, s) => s);
  if (opts.pingPong ?? true) for (let s = t.steps - 2; s > 0; s--) order.push(s);
  let width = 0;
  let height = 0;
  const frames = order.map((s) => {
    const cells = new Float32Array(t.rows * size);
    for (let r = 0; r < t.rows; r++)
      cells.set(t.images.subarray((r * t.steps + s) * size, (r * t.steps + s + 1) * size), r * size);
    const g = imageGrid(cells, t.rows, h, w, c, { cols: opts.cols, pad: opts.pad, padValue: opts.padValue });
    width = g.width;
    height = g.height;
    return g.pixels;
  });
  if (c !== 1 && c !== 3) throw new Error(`traversalGif: channels must be 1 or 3, got ${c}`);
  return encodeGif(frames, width, height, c, { delayMs: opts.delayMs, repeat: opts.repeat, scale: opts.scale });
}
