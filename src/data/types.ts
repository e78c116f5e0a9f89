// What every data source yields: splits of flat rows, and the data set that holds them.
import type { Normalizer } from './csv.js';

export interface Split {
  /** n rows of prod(shape) values each, row-major, contiguous. */
  x: Float32Array;
  n: number;
  /** Per-example shape, e.g. [28, 28, 1] or [d]. */
  shape: number[];
  y?: Int32Array;
}

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
