// Numeric CSV files with a header row, and per-column normalisation fitted on training rows.
//
// Format: comma-separated, first non-blank line is the header (names may be "quoted"), every other
// non-blank line one example; all cells numeric (decimal or exponent notation) except an optional label
// column named by the caller. Errors give the file, line and column. Blank lines are skipped; CRLF and a
// UTF-8 BOM are accepted. No quoted commas (it is a numeric format).
//
// Labels: when every label cell is a non-negative integer the labels are those integers (numClasses =
// max+1); otherwise each distinct string is a class, numbered in sorted order (classNames lists them).
//
// Normaliser: plain JSON ({kind, columns, mean/std | min/max}) saved with the model; apply/invert are
// free functions so it round-trips through JSON. Constant columns (min === max on the training rows)
// get std 0 / range 0 stored and a scale of 1 used, so they map to exactly 0 and never divide by zero.

import { readFile } from 'node:fs/promises';

export type NormalizeKind = 'standardize' | 'minmax' | 'none';
export const NORMALIZE_KINDS: readonly NormalizeKind[] = ['standardize', 'minmax', 'none'];

export interface Normalizer {
  kind: NormalizeKind;
  columns: string[];
  /** standardize: per-column mean and population std of the training rows (std 0 for a constant column). */
  mean?: number[];
  std?: number[];
  /** minmax: per-column min and max of the training rows. */
  min?: number[];
  max?: number[];
}

export interface CsvTable {
  file: string;
  /** Feature column names, in file order (the label column excluded). */
  columns: string[];
  /** n × d feature values, row-major. */
  x: Float32Array;
  n: number;
  d: number;
  labelColumn?: string;
  /** Raw label cell per row (mapped to class indices by {@link encodeLabels}). */
  labelCells?: string[];
}

const NUMBER_RE = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const NONFINITE_RE = /^[+-]?(nan|inf|infinity)$/i;

function unquote(s: string): string {
  const t = s.trim();
  return t.length >= 2 && t.startsWith('"') && t.endsWith('"') ? t.slice(1, -1).replace(/""/g, '"') : t;
}

/** A parsed header: the column names, where the label column is, the feature columns. */
export interface CsvHeader {
  file: string;
  header: string[];
  labelIdx: number;
  labelColumn?: string;
  columns: string[];
}

/** Parses the header line (line number `line`, 1-based) of `file`. */
export function parseCsvHeader(raw: string, line: number, file: string, labelColumn?: string): CsvHeader {
  const header = raw.replace(/\r$/, '').split(',').map(unquote);
  header.forEach((h, j) => {
    if (h === '') throw new Error(`CSV ${file}: line ${line}, column ${j + 1}: empty column name in the header`);
    const k = header.indexOf(h);
    if (k !== j)
      throw new Error(`CSV ${file}: line ${line}: column name '${h}' appears twice (columns ${k + 1} and ${j + 1})`);
  });
  let labelIdx = -1;
  if (labelColumn !== undefined) {
    labelIdx = header.indexOf(labelColumn);
    if (labelIdx < 0)
      throw new Error(`CSV ${file}: no label column '${labelColumn}' in the header (columns: ${header.join(', ')})`);
  }
  const columns = header.filter((_, j) => j !== labelIdx);
  if (columns.length === 0) throw new Error(`CSV ${file}: no feature columns (only the label column '${labelColumn}')`);
  return { file, header, labelIdx, labelColumn, columns };
}

/**
 * Parses one data line (no newline; a trailing CR is dropped) into out[off .. off + d): float32 values;
 * returns the label cell when the header has a label column. Errors name the file, line and column.
 */
export function parseCsvRow(
  raw: string,
  line: number,
  h: CsvHeader,
  out: Float32Array,
  off: number,
): string | undefined {
  if (raw.endsWith('\r')) raw = raw.slice(0, -1);
  const cells = raw.split(',');
  const width = h.header.length;
  if (cells.length !== width)
    throw new Error(`CSV ${h.file}: line ${line} has ${cells.length} fields, the header has ${width} (ragged row)`);
  let label: string | undefined;
  let k = off;
  for (let j = 0; j < width; j++) {
    const cell = unquote(cells[j]);
    if (j === h.labelIdx) {
      if (cell === '') throw new Error(`CSV ${h.file}: line ${line}, column ${j + 1} ('${h.header[j]}'): empty label`);
      label = cell;
      continue;
    }
    const v = Number(cell);
    const f = Math.fround(v);
    if (cell === '' || !Number.isFinite(f) || !NUMBER_RE.test(cell)) {
      const where = `CSV ${h.file}: line ${line}, column ${j + 1} ('${h.header[j]}')`;
      if (cell === '') throw new Error(`${where}: empty cell (missing values are not supported)`);
      if (NONFINITE_RE.test(cell)) throw new Error(`${where}: value '${cell}' is not finite (NaN/Inf are not allowed)`);
      if (!NUMBER_RE.test(cell)) throw new Error(`${where}: '${cell}' is not a number`);
      if (!Number.isFinite(v)) throw new Error(`${where}: value '${cell}' overflows to infinity`);
      throw new Error(`${where}: value '${cell}' is outside the float32 range`);
    }
    out[k++] = f;
  }
  return label;
}

/** Parses CSV text; `file` only names the source in errors. */
export function parseCsv(text: string, opts: { file?: string; labelColumn?: string } = {}): CsvTable {
  const file = opts.file ?? '<csv>';
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const lines = text.split('\n');
  let li = 0;
  while (li < lines.length && lines[li].trim() === '') li++;
  if (li >= lines.length) throw new Error(`CSV ${file}: file is empty (expected a header row of column names)`);
  const headerLine = li + 1;
  const h = parseCsvHeader(lines[li], headerLine, file, opts.labelColumn);
  const d = h.columns.length;
  let values = new Float32Array(Math.max(16, d * 64));
  let n = 0;
  const labelCells: string[] | undefined = h.labelIdx >= 0 ? [] : undefined;
  for (li = li + 1; li < lines.length; li++) {
    const raw = lines[li];
    if (raw.trim() === '') continue;
    if ((n + 1) * d > values.length) {
      const grown = new Float32Array(values.length * 2);
      grown.set(values);
      values = grown;
    }
    const label = parseCsvRow(raw, li + 1, h, values, n * d);
    if (labelCells) labelCells.push(label!);
    n++;
  }
  if (n === 0) throw new Error(`CSV ${file}: no data rows after the header (line ${headerLine})`);
  return { file, columns: h.columns, x: values.slice(0, n * d), n, d, labelColumn: opts.labelColumn, labelCells };
}

export async function readCsvFile(path: string, opts: { labelColumn?: string } = {}): Promise<CsvTable> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new Error(`CSV ${path}: cannot read (${(err as Error).message})`, { cause: err });
  }
  return parseCsv(text, { file: path, labelColumn: opts.labelColumn });
}

/**
 * Class indices for label cells. Integer labels (all cells match /^\d+$/) are used as they are;
 * otherwise the distinct strings, sorted, are the classes. Pass `classNames` to map with an existing
 * class list (a test file mapped like its training file); an unknown label is then an error.
 */
export function encodeLabels(
  cells: string[],
  opts: { file?: string; classNames?: string[]; numClasses?: number } = {},
): { y: Int32Array; numClasses: number; classNames?: string[] } {
  const y = new Int32Array(cells.length);
  const integer = cells.every((c) => /^\d+$/.test(c));
  if (opts.classNames) {
    const index = new Map(opts.classNames.map((c, i) => [c, i]));
    cells.forEach((c, i) => {
      const k = index.get(c);
      if (k === undefined)
        throw new Error(`CSV ${opts.file ?? '<csv>'}: label '${c}' (row ${i + 1}) is not one of the training classes`);
      y[i] = k;
    });
    return { y, numClasses: opts.classNames.length, classNames: opts.classNames };
  }
  if (integer) {
    let max = -1;
    cells.forEach((c, i) => {
      y[i] = Number(c);
      max = Math.max(max, y[i]);
    });
    return { y, numClasses: Math.max(max + 1, opts.numClasses ?? 0) };
  }
  const classNames = [...new Set(cells)].sort();
  const index = new Map(classNames.map((c, i) => [c, i]));
  cells.forEach((c, i) => (y[i] = index.get(c)!));
  return { y, numClasses: classNames.length, classNames };
}

/** Fits a normaliser on n × columns.length rows of x (float64 accumulation, population std). */
export function fitNormalizer(x: Float32Array, n: number, columns: string[], kind: NormalizeKind): Normalizer {
  const d = columns.length;
  if (!NORMALIZE_KINDS.includes(kind))
    throw new Error(`unknown normalisation '${kind}' (known: ${NORMALIZE_KINDS.join(', ')})`);
  if (x.length !== n * d) throw new Error(`fitNormalizer: ${x.length} values is not ${n} rows × ${d} columns`);
  if (kind === 'none') return { kind, columns: [...columns] };
  if (n < 1) throw new Error('fitNormalizer: no rows to fit on');
  const min = new Array<number>(d).fill(Infinity);
  const max = new Array<number>(d).fill(-Infinity);
  const sum = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) {
      const v = x[i * d + j];
      if (v < min[j]) min[j] = v;
      if (v > max[j]) max[j] = v;
      sum[j] += v;
    }
  }
  if (kind === 'minmax') return { kind, columns: [...columns], min, max };
  const mean = Array.from(sum, (s, j) => (min[j] === max[j] ? min[j] : s / n));
  const ss = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) {
      const t = x[i * d + j] - mean[j];
      ss[j] += t * t;
    }
  }
  const std = Array.from(ss, (s, j) => (min[j] === max[j] ? 0 : Math.sqrt(s / n)));
  return { kind, columns: [...columns], mean, std };
}

function offsetScale(norm: Normalizer): { off: number[]; scale: number[] } | null {
  const d = norm.columns.length;
  const check = (name: string, a: number[] | undefined): number[] => {
    if (!Array.isArray(a) || a.length !== d || !a.every(Number.isFinite)) {
      throw new Error(`normaliser '${norm.kind}': '${name}' must be ${d} finite numbers`);
    }
    return a;
  };
  switch (norm.kind) {
    case 'none':
      return null;
    case 'standardize': {
      const mean = check('mean', norm.mean);
      const std = check('std', norm.std);
      return { off: mean, scale: std.map((s) => (s > 0 ? s : 1)) };
    }
    case 'minmax': {
      const min = check('min', norm.min);
      const max = check('max', norm.max);
      return { off: min, scale: max.map((m, j) => (m - min[j] > 0 ? m - min[j] : 1)) };
    }
    default:
      throw new Error(`unknown normalisation '${(norm as Normalizer).kind}' (known: ${NORMALIZE_KINDS.join(', ')})`);
  }
}

/** y = f(x, offset, scale) column by column, into `out` or a new array (identity for normalisation 'none'). */
function mapColumns(
  what: string,
  norm: Normalizer,
  x: Float32Array,
  out: Float32Array | undefined,
  f: (v: number, off: number, scale: number) => number,
): Float32Array {
  const d = norm.columns.length;
  if (x.length % d !== 0) throw new Error(`${what}: ${x.length} values is not a whole number of ${d}-column rows`);
  const y = out ?? new Float32Array(x.length);
  const os = offsetScale(norm);
  if (!os) {
    if (y !== x) y.set(x);
    return y;
  }
  for (let i = 0; i < x.length; i += d) for (let j = 0; j < d; j++) y[i + j] = f(x[i + j], os.off[j], os.scale[j]);
  return y;
}

/** Normalised copy of rows x (or written into `out`): (x - mean)/std or (x - min)/(max - min). */
export function applyNormalizer(norm: Normalizer, x: Float32Array, out?: Float32Array): Float32Array {
  return mapColumns('applyNormalizer', norm, x, out, (v, off, scale) => (v - off) / scale);
}

/** Inverse of {@link applyNormalizer}: back to the original units (e.g. to de-normalise model outputs). */
export function invertNormalizer(norm: Normalizer, x: Float32Array, out?: Float32Array): Float32Array {
  return mapColumns('invertNormalizer', norm, x, out, (v, off, scale) => v * scale + off);
}

/** Checks a parsed-JSON value is a valid Normalizer (e.g. when loading a saved model). */
export function validateNormalizer(v: unknown): Normalizer {
  const o = v as Normalizer;
  if (!o || typeof o !== 'object' || !NORMALIZE_KINDS.includes(o.kind))
    throw new Error('invalid normaliser: bad or missing kind');
  if (!Array.isArray(o.columns) || !o.columns.every((c) => typeof c === 'string'))
    throw new Error('invalid normaliser: columns must be strings');
  offsetScale(o);
  return o;
}
