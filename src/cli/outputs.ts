// One output writer per data kind, chosen once from the model: an image grid (PNG) or table (CSV), numeric
// series (CSV in data units + SVG line plot), or words (text). src/io does the encoding.
import type { Command } from 'commander';
import path from 'node:path';
import type { LatentVariableModel } from '../models/index.js';
import { isImageShape, writePairs, writeRows } from '../io/outputs.js';
import { writeSeries } from '../io/series.js';
import { writeFileAtomic } from '../util/atomic.js';
import { isWordsModel } from '../tasks/words.js';

export type OutputKind = 'grid' | 'series' | 'words';

/** The kind of output of a model: words (a SeqVAE of tokens), series (a Gaussian SeqVAE), else grid. */
export function outputKind(model: LatentVariableModel): OutputKind {
  if (isWordsModel(model)) return 'words';
  if (model.config.kind === 'seqvae' && model.config.likelihood === 'gaussian') return 'series';
  return 'grid';
}

/** What a writer wrote: the file, and for series the line plot beside it. */
export interface Written {
  file: string;
  plot?: string;
}

/** Writes rows of model inputs (normalised) for people. */
export interface RowsWriter {
  kind: 'grid' | 'series';
  /** The default file for `stem` in `dir` (samples → samples.png for images, samples.csv otherwise). */
  fileIn(dir: string, stem: string): string;
  /** n rows; `cols`: grid columns; `title`: the line plot's. */
  rows(file: string, rows: Float32Array, n: number, o: { cols?: number; title: string }): Promise<Written>;
  /** n originals beside their reconstructions. */
  pairs(file: string, originals: Float32Array, rec: Float32Array, n: number, title: string): Promise<Written>;
}

/**
 * Refuses an --out whose extension is not one this writer writes (a .jpg would get PNG bytes), naming what it
 * writes instead: image grids .png or .csv, other rows .csv, series .csv (with an .svg plot beside it).
 */
export function checkOutExtension(kind: 'grid' | 'series', shape: number[], file: string): void {
  const ext = path.extname(file).toLowerCase();
  const ok = kind === 'series' ? ['.csv', '.svg', '.png', ''] : isImageShape(shape) ? ['.png', '.csv'] : ['.csv'];
  if (ok.includes(ext)) return;
  const what =
    kind === 'series'
      ? 'a .csv of the series (and an .svg line plot beside it)'
      : isImageShape(shape)
        ? 'a .png image grid or a .csv table'
        : 'a .csv table';
  throw new Error(`--out ${file}: vaekit writes ${what} here, not ${ext || 'a file without an extension'}`);
}

/** The writer of rows of `shape` (normalised by `normalizer`) for a model of output kind grid or series. */
export function rowsWriter(kind: 'grid' | 'series', shape: number[], normalizer: unknown): RowsWriter {
  const w = rowsWriterOf(kind, shape, normalizer);
  return {
    ...w,
    rows: (file, ...rest) => (checkOutExtension(kind, shape, file), w.rows(file, ...rest)),
    pairs: (file, ...rest) => (checkOutExtension(kind, shape, file), w.pairs(file, ...rest)),
  };
}

function rowsWriterOf(kind: 'grid' | 'series', shape: number[], normalizer: unknown): RowsWriter {
  if (kind === 'series')
    return {
      kind,
      fileIn: (dir, stem) => path.join(dir, `${stem}.csv`),
      rows: async (file, rows, n, o) => {
        const f = await writeSeries(file, rows, n, shape, normalizer, o.title);
        return { file: f.csv, plot: f.svg };
      },
      pairs: async (file, originals, rec, n, title) => {
        const f = await writeSeries(file, rec, n, shape, normalizer, title, originals);
        return { file: f.csv, plot: f.svg };
      },
    };
  return {
    kind,
    fileIn: (dir, stem) => path.join(dir, `${stem}${shape.length === 3 ? '.png' : '.csv'}`),
    rows: async (file, rows, n, o) => ({
      file: await writeRows(file, rows, n, shape, { normalizer, ...(o.cols ? { cols: o.cols } : {}) }),
    }),
    pairs: async (file, originals, rec, n) => ({
      file: await writePairs(file, originals, rec, n, shape, { normalizer }),
    }),
  };
}

/** --out as given, or its default (samples.png) with the extension this writer writes (samples.csv for tables). */
export function outFile(cmd: Command, w: RowsWriter, file: string): string {
  if (cmd.getOptionValueSource('out') === 'cli') return file;
  return w.fileIn(path.dirname(file), path.basename(file, path.extname(file)));
}

/** A words model's text output file: --out when given on the command line (not an image file), else none. */
export function wordsOutFile(cmd: Command, file: string): string | undefined {
  if (cmd.getOptionValueSource('out') !== 'cli') return undefined;
  if (/\.(png|gif|svg)$/i.test(file))
    throw new Error(`--out ${file}: a words model writes text; give a text file (e.g. .txt or .tsv)`);
  return file;
}

/** Text lines to a file, atomically. */
export async function writeLines(file: string, lines: string[]): Promise<void> {
  await writeFileAtomic(file, lines.join('\n') + '\n');
}
