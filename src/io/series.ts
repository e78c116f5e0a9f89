// Numeric series for people: a CSV table in data units (the saved normaliser inverted) and an SVG line plot
// of the first 16, with reconstructions drawn dashed over their originals. All writes are atomic.
import { invertNormalizer, validateNormalizer } from '../data/csv.js';
import { writeSeriesSvg } from './lineplot.js';
import { writePairs, writeRows } from './outputs.js';

/** The CSV and the SVG line plot written for series output to `file` (its .png/.svg/.csv extension replaced). */
export function seriesFiles(file: string): { csv: string; svg: string } {
  const stem = file.replace(/\.(png|svg|csv)$/i, '');
  return { csv: `${stem}.csv`, svg: `${stem}.svg` };
}

/** Normalised rows back in data units (the saved normaliser inverted), for plots and errors. */
export function dataUnits(rows: Float32Array, normalizer: unknown): Float32Array {
  return normalizer ? invertNormalizer(validateNormalizer(normalizer), rows) : rows;
}

/** Writes n series (rows normalised, shape [T, C]) as CSV in data units and an SVG line plot; returns both files. */
export async function writeSeries(
  file: string,
  rows: Float32Array,
  n: number,
  shape: number[],
  normalizer: unknown,
  title: string,
  originals?: Float32Array,
): Promise<{ csv: string; svg: string }> {
  const f = seriesFiles(file);
  const [T, C] = shape;
  if (originals) await writePairs(f.csv, originals, rows, n, shape, { normalizer });
  else await writeRows(f.csv, rows, n, shape, { normalizer });
  const shown = Math.min(n, 16);
  const cut = (a: Float32Array) => dataUnits(a.subarray(0, shown * T * C), normalizer);
  if (originals) await writeSeriesSvg(f.svg, cut(originals), shown, T, C, { title, overlay: cut(rows) });
  else await writeSeriesSvg(f.svg, cut(rows), shown, T, C, { title });
  return f;
}
