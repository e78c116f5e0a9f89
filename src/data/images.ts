// A folder of PNG files as raw uint8 images (grayscale or RGB), all of one size.
//
// Files: every `*.png` (any case) directly in the folder, sorted by name (code-unit order, so the order
// is the same on every machine); other files are ignored. Colour: 'grayscale' uses the BT.601 luma
// round(0.299 R + 0.587 G + 0.114 B); 'rgb' keeps the three channels. Alpha is ignored (the stored colour
// values are used). Size: all images must share one H×W (that of the first file, or `size`), or with
// resize 'nearest' each is resized to it by nearest-neighbour sampling; otherwise the odd file is named.

import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import type { RawImages } from './raw.js';

export type ColorMode = 'grayscale' | 'rgb';

export interface ImageFolderOptions {
  color?: ColorMode; // default 'grayscale'
  /** [height, width] every image must have (or is resized to); default the first file's size. */
  size?: [number, number];
  resize?: 'none' | 'nearest'; // default 'none'
}

export interface ImageFolder extends RawImages {
  files: string[];
}

export async function listPngFiles(dir: string): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    throw new Error(`images ${dir}: cannot read the folder (${(err as Error).message})`, { cause: err });
  }
  const files = entries.filter((e) => e.isFile() && /\.png$/i.test(e.name)).map((e) => e.name);
  files.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return files;
}

function resizeNearest(src: Uint8Array, sh: number, sw: number, c: number, th: number, tw: number): Uint8Array {
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

export async function loadImageFolder(dir: string, opts: ImageFolderOptions = {}): Promise<ImageFolder> {
  const color = opts.color ?? 'grayscale';
  if (color !== 'grayscale' && color !== 'rgb')
    throw new Error(`images: color must be 'grayscale' or 'rgb', got '${color}'`);
  const resize = opts.resize ?? 'none';
  if (resize !== 'none' && resize !== 'nearest')
    throw new Error(`images: resize must be 'none' or 'nearest', got '${resize}'`);
  const c = color === 'rgb' ? 3 : 1;
  const files = await listPngFiles(dir);
  if (files.length === 0) throw new Error(`images ${dir}: no .png files in the folder`);

  let h = opts.size?.[0] ?? 0;
  let w = opts.size?.[1] ?? 0;
  if (opts.size && !(Number.isInteger(h) && Number.isInteger(w) && h > 0 && w > 0)) {
    throw new Error(`images: size must be two positive integers [height, width], got [${opts.size.join(', ')}]`);
  }
  let sizeFrom = opts.size ? 'the requested size' : '';
  let pixels = new Uint8Array(0);
  for (let i = 0; i < files.length; i++) {
    const path = join(dir, files[i]);
    let png: PNG;
    try {
      png = PNG.sync.read(await readFile(path));
    } catch (err) {
      throw new Error(`images: ${path} is not a readable PNG (${(err as Error).message})`, { cause: err });
    }
    if (h === 0) {
      h = png.height;
      w = png.width;
      sizeFrom = `the size of ${files[i]}`;
    }
    if (i === 0) pixels = new Uint8Array(files.length * h * w * c);
    // RGBA -> wanted channels.
    const src = png.data;
    const px = new Uint8Array(png.width * png.height * c);
    for (let p = 0; p < png.width * png.height; p++) {
      const r = src[4 * p],
        g = src[4 * p + 1],
        b = src[4 * p + 2];
      if (c === 1) px[p] = Math.round(0.299 * r + 0.587 * g + 0.114 * b);
      else {
        px[3 * p] = r;
        px[3 * p + 1] = g;
        px[3 * p + 2] = b;
      }
    }
    let img: Uint8Array = px;
    if (png.height !== h || png.width !== w) {
      if (resize !== 'nearest') {
        throw new Error(
          `images: ${path} is ${png.height}×${png.width} (H×W) but ${h}×${w} is expected (${sizeFrom}); ` +
            `make all images one size or resize them with resize 'nearest'`,
        );
      }
      img = resizeNearest(px, png.height, png.width, c, h, w);
    }
    pixels.set(img, i * h * w * c);
  }
  return { pixels, n: files.length, height: h, width: w, channels: c, files };
}
