// Decoding one PNG into 8-bit pixels of a folder's colour mode and size (shared by the whole-folder loader,
// the lazy folder source and its worker threads, so every path gives the same bytes).
import { PNG } from 'pngjs';

export type ColorMode = 'grayscale' | 'rgb';

export interface DecodeSpec {
  color: ColorMode;
  height: number;
  width: number;
  resize: 'none' | 'nearest';
  /** Names the expected size in the error for an odd one ('the size of a.png'). */
  sizeFrom: string;
}

export function resizeNearest(src: Uint8Array, sh: number, sw: number, c: number, th: number, tw: number): Uint8Array {
  const out = new Uint8Array(th * tw * c);
  for (let y = 0; y < th; y++) {
    const sy = Math.min(sh - 1, Math.floor(((y + 0.5) * sh) / th));
    for (let x = 0; x < tw; x++) {
      const sx = Math.min(sw - 1, Math.floor(((x + 0.5) * sw) / tw));
      for (let k = 0; k < c; k++) out[(y * tw + x) * c + k] = src[(sy * sw + sx) * c + k];
    }
  }
  return out;
}

/** The file's pixels: grayscale by BT.601 luma or RGB (alpha ignored), resized or checked against the size. */
export function decodePng(bytes: Uint8Array, path: string, spec: DecodeSpec): Uint8Array {
  let png: PNG;
  try {
    png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  } catch (err) {
    throw new Error(`images: ${path} is not a readable PNG (${(err as Error).message})`, { cause: err });
  }
  const c = spec.color === 'rgb' ? 3 : 1;
  const src = png.data;
  const px = new Uint8Array(png.width * png.height * c);
  for (let p = 0; p < png.width * png.height; p++) {
    const r = src[4 * p];
    const g = src[4 * p + 1];
    const b = src[4 * p + 2];
    if (c === 1) px[p] = Math.round(0.299 * r + 0.587 * g + 0.114 * b);
    else {
      px[3 * p] = r;
      px[3 * p + 1] = g;
      px[3 * p + 2] = b;
    }
  }
  if (png.height === spec.height && png.width === spec.width) return px;
  if (spec.resize !== 'nearest')
    throw new Error(
      `images: ${path} is ${png.height}×${png.width} (H×W) but ${spec.height}×${spec.width} is expected (${spec.sizeFrom}); ` +
        `make all images one size or resize them with resize 'nearest'`,
    );
  return resizeNearest(px, png.height, png.width, c, spec.height, spec.width);
}

/** A batch of files for a decoding worker (png-worker.ts). */
export interface PngJob {
  id: number;
  paths: string[];
  spec: DecodeSpec;
  table: Float32Array;
}
