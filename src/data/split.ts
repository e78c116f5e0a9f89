// Reading rows of a split, whichever kind it is: in memory (`x`) or behind a RowSource (src/data/types.ts).
// Every consumer reads rows through these, so a lazy split (uint8 pixels, rendered, decoded or parsed on
// demand) works wherever an in-memory one does. Pure: no node: imports (objectives and tasks use it).
import type { LazySplit, RowSource, Split } from './types.js';

type AnySplit = Split | LazySplit;

/** Number of values per example. */
export function rowSize(split: Pick<AnySplit, 'shape'>): number {
  return split.shape.reduce((a, b) => a * b, 1);
}

/** An in-memory split's values. */
function values(split: AnySplit): Float32Array {
  if (!split.x) throw new Error('the split has neither values nor a row source');
  return split.x;
}

function checkIndex(split: AnySplit, j: number, what: string): void {
  if (!(Number.isInteger(j) && j >= 0 && j < split.n))
    throw new RangeError(`${what}: index ${j} out of range 0..${split.n - 1}`);
}

/** Rows `indices` of a split, in that order, in a fresh array. */
export function readRows(split: AnySplit, indices: ArrayLike<number>): Float32Array {
  for (let i = 0; i < indices.length; i++) checkIndex(split, indices[i], 'readRows');
  if (split.source) return checkRows(split, split.source.readRows(indices), indices.length);
  const d = rowSize(split);
  const v = values(split);
  const x = new Float32Array(indices.length * d);
  for (let i = 0; i < indices.length; i++) {
    const j = indices[i];
    x.set(v.subarray(j * d, j * d + d), i * d);
  }
  return x;
}

/** readRows off the main thread where the source can; the same values. */
export async function readRowsAsync(split: AnySplit, indices: ArrayLike<number>): Promise<Float32Array> {
  if (!split.source?.readAsync) return readRows(split, indices);
  for (let i = 0; i < indices.length; i++) checkIndex(split, indices[i], 'readRowsAsync');
  return checkRows(split, await split.source.readAsync(indices), indices.length);
}

function checkRows(split: AnySplit, x: Float32Array, m: number): Float32Array {
  if (x.length !== m * rowSize(split))
    throw new Error(`row source gave ${x.length} values for ${m} rows of ${rowSize(split)}`);
  return x;
}

function range(a: number, b: number): Uint32Array {
  const idx = new Uint32Array(b - a);
  for (let i = 0; i < idx.length; i++) idx[i] = a + i;
  return idx;
}

/** Rows [a, b): a view for an in-memory split (do not write to it), read rows for a lazy one. */
export function rowRange(split: AnySplit, a: number, b: number): Float32Array {
  if (!(Number.isInteger(a) && Number.isInteger(b) && 0 <= a && a <= b && b <= split.n))
    throw new RangeError(`rowRange: [${a}, ${b}) is not inside 0..${split.n}`);
  const d = rowSize(split);
  if (!split.source) return values(split).subarray(a * d, b * d);
  return checkRows(split, split.source.readRows(range(a, b)), b - a);
}

/** Largest lazy split allRows will materialise (values); larger ones go through chunks(). */
export const ALL_ROWS_MAX_VALUES = 2 ** 28;

/** All rows in one array: for small data (test splits, eval subsets); a view for an in-memory split. */
export function allRows(split: AnySplit): Float32Array {
  if (split.source && split.n * rowSize(split) > ALL_ROWS_MAX_VALUES)
    throw new Error(
      `this split has ${split.n} rows of ${rowSize(split)} values, too many to hold at once; read it in chunks (or use --limit)`,
    );
  return rowRange(split, 0, split.n);
}

export interface Chunk {
  /** Rows [start, end), as rowRange gives them. */
  x: Float32Array;
  y?: Int32Array;
  start: number;
  end: number;
}

/** Consecutive chunks of at most `size` rows over the first `limit` rows (default all). */
export function* chunks(split: AnySplit, size: number, limit = split.n): Generator<Chunk> {
  if (!Number.isInteger(size) || size < 1) throw new Error(`chunks: size must be a positive integer, got ${size}`);
  const n = Math.min(split.n, limit);
  for (let s = 0; s < n; s += size) {
    const e = Math.min(n, s + size);
    yield { x: rowRange(split, s, e), y: split.y?.subarray(s, e), start: s, end: e };
  }
}

/** Rows `indices` of a split and their labels, gathered into fresh arrays. */
export function gatherRows(split: AnySplit, indices: ArrayLike<number>): { x: Float32Array; y?: Int32Array } {
  const x = readRows(split, indices);
  const y = split.y ? Int32Array.from(indices as ArrayLike<number>, (j) => split.y![j]) : undefined;
  return { x, y };
}

/** A source over rows `idx` of another source (a train/test partition, a draw). */
export function indexedSource(src: RowSource, idx: Uint32Array): RowSource {
  const map = (indices: ArrayLike<number>) => Uint32Array.from(indices as ArrayLike<number>, (j) => idx[j]);
  return {
    n: idx.length,
    rowSize: src.rowSize,
    readRows: (indices) => src.readRows(map(indices)),
    readAsync: src.readAsync ? (indices) => src.readAsync!(map(indices)) : undefined,
    residentBytes: () => src.residentBytes() + idx.byteLength,
    close: src.close ? () => src.close!() : undefined,
  };
}

/** Rows `indices` of a split as a split: copied when in memory, an index map over the source when lazy. */
export function subset<S extends AnySplit>(split: S, indices: ArrayLike<number>): S {
  for (let i = 0; i < indices.length; i++) checkIndex(split, indices[i], 'subset');
  const y = split.y ? Int32Array.from(indices as ArrayLike<number>, (j) => split.y![j]) : undefined;
  const shape = [...split.shape];
  if (!split.source) return { x: readRows(split, indices), n: indices.length, shape, y } as S;
  const idx = Uint32Array.from(indices as ArrayLike<number>);
  return { source: indexedSource(split.source, idx), n: idx.length, shape, y } as S;
}

/** The first k examples of a split: views when in memory, the first k rows of the source when lazy. */
export function take<S extends AnySplit>(split: S, k: number): S {
  if (!Number.isInteger(k) || k < 0) throw new Error(`take: k must be a non-negative integer, got ${k}`);
  const m = Math.min(k, split.n);
  const y = split.y?.subarray(0, m);
  const shape = [...split.shape];
  if (!split.source) return { x: values(split).subarray(0, m * rowSize(split)), n: m, shape, y } as S;
  if (m === split.n) return { ...split, shape, y };
  return { source: indexedSource(split.source, range(0, m)), n: m, shape, y } as S;
}

/** A lazy split over a source (shape gives the row size, which must match). */
export function lazySplit(source: RowSource, shape: number[], y?: Int32Array): LazySplit {
  if (rowSize({ shape }) !== source.rowSize)
    throw new Error(
      `lazySplit: shape [${shape.join(', ')}] has ${rowSize({ shape })} values, the source ${source.rowSize}`,
    );
  if (y && y.length !== source.n) throw new Error(`lazySplit: ${y.length} labels for ${source.n} rows`);
  return { source, n: source.n, shape, y };
}

/** Bytes a split holds in memory (its values or its source's, and its labels). */
export function residentBytes(split: AnySplit): number {
  return (split.source ? split.source.residentBytes() : values(split).byteLength) + (split.y?.byteLength ?? 0);
}

/** Closes the split's source (workers, file handles); nothing for an in-memory split. */
export async function closeSplit(split: AnySplit): Promise<void> {
  await split.source?.close?.();
}
