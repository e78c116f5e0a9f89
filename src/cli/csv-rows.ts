// A CSV file read as a stream of row batches, for scoring inputs larger than memory: a line reader over the
// file (never the whole text), the model's columns picked by name from the header (a CSV model's saved
// normaliser names them and is applied; an image model takes every column, in order), each cell checked to be
// a finite number. Memory: one batch.
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { applyNormalizer, type Normalizer } from '../data/csv.js';
import type { Rows } from '../tasks/anomaly.js';

export interface CsvRowsOptions {
  /** The rows' shape (the model's inputShape); prod(shape) feature columns are read. */
  shape: readonly number[];
  /** A CSV model's normaliser: its columns are read by name and it is applied to every batch. */
  normalizer?: Normalizer;
  /** A column to skip (the labels). */
  labelColumn?: string;
  batchSize: number;
}

const unquote = (s: string) => s.trim().replace(/^"(.*)"$/, '$1');

/** Batches of rows of a CSV file, in file order (an error names the file, line and column of a bad cell). */
export async function* csvRowBatches(file: string, o: CsvRowsOptions): AsyncGenerator<Rows> {
  const D = o.shape.reduce((a, b) => a * b, 1);
  const stream = createReadStream(file, { encoding: 'utf8' });
  const opened = new Promise<void>((resolve, reject) => {
    stream.once('open', () => resolve());
    stream.once('error', (e) => reject(new Error(`cannot read ${file}: ${e.message}`)));
  });
  await opened;
  const lines = createInterface({ input: stream, crlfDelay: Infinity });
  let pick: number[] | undefined; // file column of each model column
  let names: string[] = [];
  let x = new Float32Array(o.batchSize * D);
  let n = 0;
  let lineNo = 0;
  const flush = (): Rows => {
    const rows = x.subarray(0, n * D);
    const out = o.normalizer ? applyNormalizer(o.normalizer, rows) : rows.slice();
    const r: Rows = { x: out, n, shape: o.shape };
    x = new Float32Array(o.batchSize * D);
    n = 0;
    return r;
  };
  try {
    for await (const raw of lines) {
      lineNo++;
      const line = lineNo === 1 ? raw.replace(/^\uFEFF/, '') : raw;
      if (line.trim() === '') continue;
      const cells = line.split(',');
      if (!pick) {
        names = cells.map(unquote);
        const want = o.normalizer?.columns;
        if (want) {
          pick = want.map((c) => {
            const j = names.indexOf(c);
            if (j < 0) throw new Error(`${file}: the model's column '${c}' is not in the header`);
            return j;
          });
        } else {
          pick = names.map((_, j) => j).filter((j) => names[j] !== o.labelColumn);
          if (pick.length !== D)
            throw new Error(`${file}: ${pick.length} feature columns, the model takes ${D} values per row`);
        }
        continue;
      }
      if (cells.length !== names.length)
        throw new Error(`${file}:${lineNo}: ${cells.length} cells, the header has ${names.length} columns`);
      for (let k = 0; k < D; k++) {
        const cell = cells[pick[k]].trim();
        const v = cell === '' ? NaN : Number(cell);
        if (!Number.isFinite(v))
          throw new Error(`${file}:${lineNo}: column '${names[pick[k]]}' is "${cell}", not a finite number`);
        x[n * D + k] = v;
      }
      if (++n === o.batchSize) yield flush();
    }
  } finally {
    lines.close();
    stream.destroy();
  }
  if (!pick) throw new Error(`${file}: no header row`);
  if (n > 0) yield flush();
}
