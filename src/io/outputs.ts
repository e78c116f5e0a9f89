// Writing model outputs for people: image-shaped rows become a PNG grid, anything else a CSV file
// (mapped back to data units through the saved normaliser). All writes are atomic.
import { invertNormalizer, validateNormalizer } from '../data/csv.js';
import { writeFileAtomic } from '../util/atomic.js';
import { imageGrid, reconstructionGrid, upscale, writePng, type Image } from './png.js';

export function isImageShape(shape: number[]): boolean {
  return shape.length === 3 && [1, 3, 4].includes(shape[2]);
}

function toCsv(rows: Float32Array, n: number, cols: string[]): string {
  const d = rows.length / n;
  const lines = [cols.join(',')];
  for (let i = 0; i < n; i++)
    lines.push(Array.from(rows.subarray(i * d, (i + 1) * d), (v) => String(+v.toPrecision(7))).join(','));
  return lines.join('\n') + '\n';
}

function columnsOf(d: number, normalizer?: unknown): string[] {
  const cols = (normalizer as { columns?: string[] } | undefined)?.columns;
  return cols && cols.length === d ? cols : Array.from({ length: d }, (_, i) => `x${i}`);
}

function denormalize(rows: Float32Array, normalizer?: unknown): Float32Array {
  return normalizer ? invertNormalizer(validateNormalizer(normalizer), rows) : rows;
}

/** n rows as a grid image (PNG) or a table (CSV, when the file name ends in .csv or the data are not images). */
export async function writeRows(
  file: string,
  rows: Float32Array,
  n: number,
  shape: number[],
  opts: { cols?: number; scale?: number; normalizer?: unknown } = {},
): Promise<string> {
  if (isImageShape(shape) && !file.endsWith('.csv')) {
    const [h, w, c] = shape;
    const grid = imageGrid(rows, n, h, w, c, { cols: opts.cols });
    await writePng(file, upscale(grid, opts.scale ?? 2));
    return file;
  }
  const d = rows.length / n;
  await writeFileAtomic(file, toCsv(denormalize(rows, opts.normalizer), n, columnsOf(d, opts.normalizer)));
  return file;
}

/** Originals beside their reconstructions (PNG), or a CSV with both (columns prefixed orig_/rec_). */
export async function writePairs(
  file: string,
  a: Float32Array,
  b: Float32Array,
  n: number,
  shape: number[],
  opts: { scale?: number; normalizer?: unknown } = {},
): Promise<string> {
  if (isImageShape(shape) && !file.endsWith('.csv')) {
    const [h, w, c] = shape;
    const img: Image = reconstructionGrid(a, b, n, h, w, c);
    await writePng(file, upscale(img, opts.scale ?? 2));
    return file;
  }
  const d = a.length / n;
  const cols = columnsOf(d, opts.normalizer);
  const A = denormalize(a, opts.normalizer);
  const B = denormalize(b, opts.normalizer);
  const both = new Float32Array(2 * a.length);
  for (let i = 0; i < n; i++) {
    both.set(A.subarray(i * d, (i + 1) * d), 2 * i * d);
    both.set(B.subarray(i * d, (i + 1) * d), (2 * i + 1) * d);
  }
  await writeFileAtomic(file, toCsv(both, n, [...cols.map((c) => `orig_${c}`), ...cols.map((c) => `rec_${c}`)]));
  return file;
}
