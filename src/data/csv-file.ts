// A CSV file larger than memory: one streaming pass indexes the byte offset of every data row (and checks
// every row, so a ragged or non-numeric row anywhere is an error naming its line before training starts);
// rows are then read by index with positioned reads and parsed on demand, through a bounded cache
// (src/data/cache.ts). What stays resident is 12 bytes per row (offset, length), the labels, and the cache.
import { closeSync, openSync, readSync } from 'node:fs';
import { cacheBudget, RowCache } from './cache.js';
import {
  encodeLabels,
  parseCsvHeader,
  parseCsvRow,
  type CsvHeader,
  type NormalizeKind,
  type Normalizer,
} from './csv.js';
import type { RowSource } from './types.js';

const BLOCK = 4 << 20;

export interface CsvIndex extends CsvHeader {
  n: number;
  d: number;
  /** Byte offset and length (no newline) of each data row. */
  starts: Float64Array;
  lengths: Uint32Array;
  /** Distinct label cells in order of appearance and each row's code into them (label column only). */
  labelValues?: string[];
  labelCodes?: Int32Array;
}

function open(path: string): number {
  try {
    return openSync(path, 'r');
  } catch (err) {
    throw new Error(`CSV ${path}: cannot read (${(err as Error).message})`, { cause: err });
  }
}

/** Streams the file once: the header, the offset of every non-blank row, every row checked. */
export function indexCsvFile(path: string, opts: { labelColumn?: string } = {}): CsvIndex {
  const fd = open(path);
  try {
    let header: CsvHeader | undefined;
    let starts = new Float64Array(1 << 16);
    let lengths = new Uint32Array(1 << 16);
    let codes = new Int32Array(opts.labelColumn !== undefined ? 1 << 16 : 0);
    const labelIndex = new Map<string, number>();
    let n = 0;
    let line = 0;
    let scratch = new Float32Array(0);
    let buf = Buffer.alloc(BLOCK);
    let have = 0; // bytes in buf
    let base = 0; // file offset of buf[0]
    let eof = false;
    const onLine = (a: number, b: number) => {
      line++;
      let text = buf.toString('utf8', a, b);
      if (line === 1 && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      if (text.trim() === '') return;
      if (!header) {
        header = parseCsvHeader(text, line, path, opts.labelColumn);
        scratch = new Float32Array(header.columns.length);
        return;
      }
      const label = parseCsvRow(text, line, header, scratch, 0);
      if (n === starts.length) {
        const s2 = new Float64Array(2 * n);
        s2.set(starts);
        starts = s2;
        const l2 = new Uint32Array(2 * n);
        l2.set(lengths);
        lengths = l2;
      }
      starts[n] = base + a;
      lengths[n] = b - a;
      if (label !== undefined) {
        if (n === codes.length) {
          const c2 = new Int32Array(2 * n);
          c2.set(codes);
          codes = c2;
        }
        let c = labelIndex.get(label);
        if (c === undefined) labelIndex.set(label, (c = labelIndex.size));
        codes[n] = c;
      }
      n++;
    };
    while (!eof || have > 0) {
      if (!eof) {
        const got = readSync(fd, buf, have, buf.length - have, base + have);
        if (got === 0) eof = true;
        have += got;
      }
      let a = 0;
      for (;;) {
        const nl = buf.indexOf(10, a);
        if (nl < 0 || nl >= have) break;
        onLine(a, nl);
        a = nl + 1;
      }
      if (eof) {
        if (a < have) onLine(a, have);
        break;
      }
      // keep the partial line; grow the buffer when one line is longer than it
      buf.copy(buf, 0, a, have);
      base += a;
      have -= a;
      if (have === buf.length) {
        const bigger = Buffer.alloc(2 * buf.length);
        buf.copy(bigger, 0, 0, have);
        buf = bigger;
      }
    }
    if (!header) throw new Error(`CSV ${path}: file is empty (expected a header row of column names)`);
    if (n === 0) throw new Error(`CSV ${path}: no data rows after the header`);
    const h: CsvHeader = header;
    return {
      ...h,
      n,
      d: h.columns.length,
      starts: starts.slice(0, n),
      lengths: lengths.slice(0, n),
      labelValues: h.labelIdx >= 0 ? [...labelIndex.keys()] : undefined,
      labelCodes: h.labelIdx >= 0 ? codes.slice(0, n) : undefined,
    };
  } finally {
    closeSync(fd);
  }
}

/** Class indices of every row (as encodeLabels gives them for the cells), or undefined without labels. */
export function csvLabels(
  index: CsvIndex,
  classes?: { classNames?: string[]; numClasses?: number },
): { y: Int32Array; numClasses: number; classNames?: string[] } | undefined {
  if (!index.labelValues || !index.labelCodes) return undefined;
  const per = encodeLabels(index.labelValues, { file: index.file, ...classes });
  return { ...per, y: Int32Array.from(index.labelCodes, (c) => per.y[c]) };
}

/** The 1-based line number of the line starting at byte `offset`: the newlines before it, counted. */
function lineAt(fd: number, offset: number): number {
  const buf = Buffer.allocUnsafe(1 << 20);
  let lines = 1;
  for (let pos = 0; pos < offset;) {
    const r = readSync(fd, buf, 0, Math.min(buf.length, offset - pos), pos);
    if (r === 0) break;
    for (let i = 0; i < r; i++) if (buf[i] === 10) lines++;
    pos += r;
  }
  return lines;
}

/**
 * The rows of an indexed CSV file, parsed on demand (raw values; `transform` maps each read, e.g. the
 * normaliser). Consecutive uncached indices are read with one positioned read.
 */
export function csvSource(index: CsvIndex, transform?: (x: Float32Array) => Float32Array): RowSource {
  const d = index.d;
  const cache = new RowCache(cacheBudget(), d, (k) => new Float32Array(k));
  let fd: number | null = null;
  const readRun = (first: number, count: number, out: Float32Array, at: number) => {
    fd ??= open(index.file);
    const a = index.starts[first];
    const b = index.starts[first + count - 1] + index.lengths[first + count - 1];
    const buf = Buffer.allocUnsafe(b - a);
    let got = 0;
    while (got < buf.length) {
      const r = readSync(fd, buf, got, buf.length - got, a + got);
      if (r === 0) throw new Error(`CSV ${index.file}: the file got shorter since it was indexed; load it again`);
      got += r;
    }
    for (let k = 0; k < count; k++) {
      const s = index.starts[first + k] - a;
      const text = buf.toString('utf8', s, s + index.lengths[first + k]);
      const row = out.subarray((at + k) * d, (at + k + 1) * d);
      try {
        parseCsvRow(text, 0, index, row, 0);
      } catch (e) {
        // found while streaming (the file was edited after it was indexed): the same message as the indexer's,
        // with the line counted now (only on this error path)
        const line = lineAt(fd, index.starts[first + k]);
        let msg = (e as Error).message;
        try {
          parseCsvRow(text, line, index, row, 0);
        } catch (e2) {
          msg = (e2 as Error).message;
        }
        throw new Error(`${msg} (the file changed since it was indexed)`, { cause: e });
      }
      cache.set(first + k, row);
    }
  };
  return {
    n: index.n,
    rowSize: d,
    readRows(indices) {
      const out = new Float32Array(indices.length * d);
      cache.gather(
        indices,
        Infinity,
        (slots, at) => {
          const slab = cache.slab!;
          for (let t = 0; t < slots.length; t++) out.set(slab.subarray(slots[t] * d, (slots[t] + 1) * d), (at + t) * d);
        },
        (j, m, at) => readRun(j, m, out, at),
      );
      return transform ? transform(out) : out;
    },
    residentBytes: () =>
      index.starts.byteLength + index.lengths.byteLength + (index.labelCodes?.byteLength ?? 0) + cache.bytes,
    async close() {
      if (fd !== null) closeSync(fd);
      fd = null;
    },
  };
}

/**
 * A normaliser fitted on rows `rows` of a source in one streaming pass (read in index order, 8,192 at a
 * time): min, max, and float64 sums shifted by the first row, so mean and population std match fitNormalizer's.
 */
export function fitNormalizerStreaming(
  source: RowSource,
  rows: Uint32Array,
  columns: string[],
  kind: NormalizeKind,
): Normalizer {
  const d = columns.length;
  if (kind === 'none') return { kind, columns: [...columns] };
  if (rows.length < 1) throw new Error('fitNormalizer: no rows to fit on');
  const sorted = Uint32Array.from(rows).sort();
  const min = new Array<number>(d).fill(Infinity);
  const max = new Array<number>(d).fill(-Infinity);
  const shift = source.readRows(sorted.subarray(0, 1));
  const s1 = new Float64Array(d);
  const s2 = new Float64Array(d);
  for (let s = 0; s < sorted.length; s += 8192) {
    const x = source.readRows(sorted.subarray(s, s + 8192));
    for (let i = 0; i < x.length; i += d) {
      for (let j = 0; j < d; j++) {
        const v = x[i + j];
        if (v < min[j]) min[j] = v;
        if (v > max[j]) max[j] = v;
        const t = v - shift[j];
        s1[j] += t;
        s2[j] += t * t;
      }
    }
  }
  if (kind === 'minmax') return { kind, columns: [...columns], min, max };
  const n = sorted.length;
  const mean = Array.from(s1, (s, j) => (min[j] === max[j] ? min[j] : shift[j] + s / n));
  const std = Array.from(s2, (s, j) => (min[j] === max[j] ? 0 : Math.sqrt(Math.max(0, s / n - (s1[j] / n) ** 2))));
  return { kind, columns: [...columns], mean, std };
}
