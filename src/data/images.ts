// A folder of PNG files as raw uint8 images (grayscale or RGB), all of one size.
//
// Files: every `*.png` (any case) directly in the folder, sorted by name (code-unit order, so the order
// is the same on every machine); other files are ignored. Colour: 'grayscale' uses the BT.601 luma
// round(0.299 R + 0.587 G + 0.114 B); 'rgb' keeps the three channels. Alpha is ignored (the stored colour
// values are used). Size: all images must share one H×W (that of the first file, or `size`), or with
// resize 'nearest' each is resized to it by nearest-neighbour sampling; otherwise the odd file is named.

import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { decodePng, type ColorMode } from './png-decode.js';
import type { RawImages } from './raw.js';

export type { ColorMode } from './png-decode.js';

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

/** The options with their defaults, checked: a bad one is an error naming it. */
export function folderOptions(opts: ImageFolderOptions): { color: ColorMode; resize: 'none' | 'nearest' } {
  const color = opts.color ?? 'grayscale';
  if (color !== 'grayscale' && color !== 'rgb')
    throw new Error(`images: color must be 'grayscale' or 'rgb', got '${color}'`);
  const resize = opts.resize ?? 'none';
  if (resize !== 'none' && resize !== 'nearest')
    throw new Error(`images: resize must be 'none' or 'nearest', got '${resize}'`);
  if (opts.size && !(opts.size.length === 2 && opts.size.every((v) => Number.isInteger(v) && v > 0)))
    throw new Error(`images: size must be two positive integers [height, width], got [${opts.size.join(', ')}]`);
  return { color, resize };
}

export async function loadImageFolder(dir: string, opts: ImageFolderOptions = {}): Promise<ImageFolder> {
  const { color, resize } = folderOptions(opts);
  const c = color === 'rgb' ? 3 : 1;
  const files = await listPngFiles(dir);
  if (files.length === 0) throw new Error(`images ${dir}: no .png files in the folder`);

  let h = opts.size?.[0] ?? 0;
  let w = opts.size?.[1] ?? 0;
  let sizeFrom = opts.size ? 'the requested size' : '';
  let pixels = new Uint8Array(0);
  for (let i = 0; i < files.length; i++) {
    const path = join(dir, files[i]);
    const bytes = await readFile(path);
    if (h === 0) {
      const hdr = pngHeader(bytes, path);
      h = hdr.height;
      w = hdr.width;
      sizeFrom = `the size of ${files[i]}`;
    }
    if (i === 0) pixels = new Uint8Array(files.length * h * w * c);
    pixels.set(decodePng(bytes, path, { color, height: h, width: w, resize, sizeFrom }), i * h * w * c);
  }
  return { pixels, n: files.length, height: h, width: w, channels: c, files };
}

/** Width and height from a PNG's IHDR chunk (the first 24 bytes); an error naming the file when it is no PNG. */
export function pngHeader(bytes: Uint8Array, path: string): { width: number; height: number } {
  const sig = [137, 80, 78, 71, 13, 10, 26, 10];
  const ok =
    bytes.length >= 24 &&
    sig.every((v, i) => bytes[i] === v) &&
    String.fromCharCode(bytes[12], bytes[13], bytes[14], bytes[15]) === 'IHDR';
  if (!ok) throw new Error(`images: ${path} is not a readable PNG (no PNG signature and IHDR header)`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, 24);
  const width = dv.getUint32(16);
  const height = dv.getUint32(20);
  if (width === 0 || height === 0) throw new Error(`images: ${path} is not a readable PNG (size ${width}×${height})`);
  return { width, height };
}
