// `csv:PATH` as a data set: the file indexed once (csv-file.ts), rows parsed on demand, the normaliser fitted
// by streaming over the training rows. Train and test are index maps over one source.
import { csvLabels, csvSource, fitNormalizerStreaming, indexCsvFile, type CsvIndex } from './csv-file.js';
import { applyNormalizer, NORMALIZE_KINDS, validateNormalizer, type NormalizeKind, type Normalizer } from './csv.js';
import { indexedSource, lazySplit } from './split.js';
import type { Dataset } from './types.js';

export const DEFAULT_CSV_NORMALIZE: NormalizeKind = 'standardize';

export interface CsvDatasetSpec {
  path?: string;
  testPath?: string;
  labelColumn?: string;
  normalize?: NormalizeKind;
  protocol?: string;
  normalizer?: Normalizer;
}

const iota = (n: number) => Uint32Array.from({ length: n }, (_, i) => i);

export async function loadCsvDataset(
  spec: CsvDatasetSpec,
  name: string,
  lim: { train: number; test: number } | null,
  partition: (n: number, what: string) => [Uint32Array, Uint32Array],
  seed: number,
): Promise<Dataset> {
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

  const index = indexCsvFile(spec.path, { labelColumn: spec.labelColumn });
  let testIndex: CsvIndex = index;
  let trIdx: Uint32Array, teIdx: Uint32Array;
  let trainY: Int32Array | undefined, testY: Int32Array | undefined;
  let numClasses: number | undefined, classNames: string[] | undefined;
  let splitSeed: number | undefined;
  if (spec.testPath) {
    testIndex = indexCsvFile(spec.testPath, { labelColumn: spec.labelColumn });
    if (testIndex.columns.join('\u0000') !== index.columns.join('\u0000')) {
      throw new Error(
        `CSV ${spec.testPath}: columns (${testIndex.columns.join(', ')}) differ from ${spec.path} (${index.columns.join(', ')})`,
      );
    }
    trIdx = iota(index.n);
    teIdx = iota(testIndex.n);
    const tr = csvLabels(index);
    if (tr) {
      const te = csvLabels(testIndex, { classNames: tr.classNames, numClasses: tr.numClasses })!;
      trainY = tr.y;
      testY = te.y;
      numClasses = Math.max(tr.numClasses, te.numClasses);
      classNames = tr.classNames;
    }
  } else {
    [trIdx, teIdx] = partition(index.n, `CSV ${spec.path}`);
    splitSeed = seed;
    const all = csvLabels(index);
    if (all) {
      trainY = Int32Array.from(trIdx, (i) => all.y[i]);
      testY = Int32Array.from(teIdx, (i) => all.y[i]);
      numClasses = all.numClasses;
      classNames = all.classNames;
    }
  }
  if (lim) {
    trIdx = trIdx.subarray(0, Math.min(trIdx.length, lim.train));
    teIdx = teIdx.subarray(0, Math.min(teIdx.length, lim.test));
    trainY = trainY?.subarray(0, trIdx.length);
    testY = testY?.subarray(0, teIdx.length);
  }
  // A saved model's normaliser is reused as it is (its columns must match); otherwise fit on the training rows.
  let normalizer: Normalizer;
  if (spec.normalizer) {
    normalizer = validateNormalizer(spec.normalizer);
    if (normalizer.columns.join(',') !== index.columns.join(','))
      throw new Error(
        `CSV ${spec.path}: columns ${index.columns.join(',')} differ from the model's ${normalizer.columns.join(',')}`,
      );
  } else {
    const raw = csvSource(index);
    normalizer = fitNormalizerStreaming(raw, trIdx, index.columns, kind);
    await raw.close?.();
  }
  const norm = (x: Float32Array) => applyNormalizer(normalizer, x, x);
  const trainSrc = csvSource(index, norm);
  const testSrc = testIndex === index ? trainSrc : csvSource(testIndex, norm);
  const d = index.d;
  return {
    name,
    train: lazySplit(indexedSource(trainSrc, trIdx), [d], trainY),
    test: lazySplit(indexedSource(testSrc, teIdx), [d], testY),
    shape: [d],
    numClasses,
    classNames,
    protocol: kind,
    normalizer,
    source: spec.path,
    splitSeed,
  };
}
