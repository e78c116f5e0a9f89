// What every data source yields: splits of flat rows, and the data set that holds them.
//
// A split holds its rows either in memory (`x`, one Float32Array) or behind a `RowSource` that reads rows by
// index (uint8 pixels converted per batch, images rendered or decoded on demand, CSV rows parsed from disk).
// Code that reads rows goes through src/data/split.ts (readRows, rowRange, chunks, …), so both kinds work.
import type { Normalizer } from './csv.js';

/** Rows read by index: the model inputs, float32, with the data protocol already applied. */
export interface RowSource {
  /** Number of rows. */
  readonly n: number;
  /** Values per row. */
  readonly rowSize: number;
  /** Rows `indices`, in that order, in a fresh array of indices.length × rowSize values. */
  readRows(indices: ArrayLike<number>): Float32Array;
  /** The same rows, read off the main thread where the source can (worker threads); same values. */
  readAsync?(indices: ArrayLike<number>): Promise<Float32Array>;
  /** Bytes this source holds in memory now (pixels, offsets, cache). */
  residentBytes(): number;
  /** Releases workers and file handles; reading after close is an error. */
  close?(): Promise<void>;
}

interface SplitBase {
  n: number;
  /** Per-example shape, e.g. [28, 28, 1] or [d]. */
  shape: number[];
  y?: Int32Array;
}

export interface MemorySplit extends SplitBase {
  /** n rows of prod(shape) values each, row-major, contiguous. */
  x: Float32Array;
  source?: undefined;
}

export interface LazySplit extends SplitBase {
  source: RowSource;
  x?: undefined;
}

export type Split = MemorySplit | LazySplit;

export interface Dataset {
  /** As the user named it: 'fashion-mnist', 'mnist', 'csv:PATH', 'images:DIR'. */
  name: string;
  train: Split;
  test: Split;
  shape: number[];
  numClasses?: number;
  classNames?: string[];
  /** 'binary' | 'continuous' for images; the normalisation kind for CSV. Saved with the model. */
  protocol: string;
  normalizer?: Normalizer;
  /** Where the data came from (directory or file). */
  source?: string;
  /** Seed of the train/test split this loader made (mnist, csv and images without a test file). */
  splitSeed?: number;
}
