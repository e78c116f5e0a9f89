// Numeric time series from a CSV file, for the sequence VAE with a Gaussian output per step.
//
// Layout: a header row, then one series per row; the columns are the time steps, in order (t0, t1, …).
// With C channels per step (`channels`), the columns are step-major: t0_c0, t0_c1, …, t0_c(C−1), t1_c0, …,
// so the number of columns must be a multiple of C (T = columns / C). Every row is a full series of the
// same length (no missing cells; pad or crop series beforehand). A series thus travels flat [T·C], like
// the one-hot words [T·V].
//
// Normalisation is per channel, over all steps of the training rows ('standardize': (x − mean_c) / std_c;
// 'minmax': into [0, 1]; 'none'), not per column: a per-column scale would change the shape of every
// series. It is saved as the CSV normaliser (per column, equal within a channel), so the CSV tools
// (applyNormalizer / invertNormalizer) map model outputs back to data units. A saved model's normaliser
// (`normalizer`) is re-applied as it is instead of fitting a new one (its columns must match the file's).
//
// Bad input stops with the file, line and column (src/data/csv.ts): a ragged row, an empty, non-numeric
// or non-finite (NaN/Inf) cell; a series shorter than 2 steps or fewer than 2 rows are errors too.
import { Rng } from '../rng.js';
import {
  applyNormalizer,
  NORMALIZE_KINDS,
  readCsvFile,
  validateNormalizer,
  type NormalizeKind,
  type Normalizer,
} from './csv.js';
import type { Dataset } from './types.js';

export interface TimeSeriesOptions {
  path: string;
  /** Values per step (default 1). */
  channels?: number;
  /** Per-channel normalisation fitted on the training rows (default 'standardize'). */
  normalize?: NormalizeKind;
  /** Held-out fraction (default 0.1) and the seed of the split (default 0). */
  testFraction?: number;
  seed?: number;
  /** Quick runs: the first N training series and the first ceil(N/6) test series. */
  limit?: number;
  /** Re-apply this saved normaliser (a trained model's) instead of fitting one on the training rows. */
  normalizer?: Normalizer;
}

/** Fits a per-channel normaliser on n rows of T·C values; stored per column (columns t·C + c share channel c's figures). */
export function fitChannelNormalizer(
  x: Float32Array,
  n: number,
  columns: string[],
  channels: number,
  kind: NormalizeKind,
): Normalizer {
  if (!NORMALIZE_KINDS.includes(kind))
    throw new Error(`timeseries: unknown normalize '${kind}' (known: ${NORMALIZE_KINDS.join(', ')})`);
  if (kind === 'none') return { kind, columns: [...columns] };
  const D = columns.length;
  const C = channels;
  const min = new Array<number>(C).fill(Infinity);
  const max = new Array<number>(C).fill(-Infinity);
  const sum = new Float64Array(C);
  const sq = new Float64Array(C);
  for (let i = 0; i < n * D; i++) {
    const c = i % C;
    const v = x[i];
    if (v < min[c]) min[c] = v;
    if (v > max[c]) max[c] = v;
    sum[c] += v;
  }
  const count = n * (D / C);
  const mean = Array.from(sum, (s) => s / count);
  for (let i = 0; i < n * D; i++) {
    const t = x[i] - mean[i % C];
    sq[i % C] += t * t;
  }
  const perColumn = (a: number[]) => columns.map((_, j) => a[j % C]);
  if (kind === 'minmax') return { kind, columns: [...columns], min: perColumn(min), max: perColumn(max) };
  const std = Array.from(sq, (s, c) => (min[c] === max[c] ? 0 : Math.sqrt(s / count)));
  return {
    kind,
    columns: [...columns],
    mean: perColumn(mean.map((m, c) => (min[c] === max[c] ? min[c] : m))),
    std: perColumn(std),
  };
}

export async function loadTimeSeries(opts: TimeSeriesOptions): Promise<Dataset> {
  const C = opts.channels ?? 1;
  const kind = opts.normalizer ? validateNormalizer(opts.normalizer).kind : (opts.normalize ?? 'standardize');
  const frac = opts.testFraction ?? 0.1;
  const seed = opts.seed ?? 0;
  if (!(Number.isInteger(C) && C > 0)) throw new Error(`timeseries: channels must be a positive integer, got ${C}`);
  if (!(frac > 0 && frac < 1)) throw new Error(`timeseries: testFraction must be in (0, 1), got ${frac}`);
  const table = await readCsvFile(opts.path);
  if (table.d % C !== 0)
    throw new Error(`timeseries ${opts.path}: ${table.d} columns are not a whole number of steps of ${C} channels`);
  if (opts.normalizer && opts.normalizer.columns.length !== table.d)
    throw new Error(
      `timeseries ${opts.path}: ${table.d} columns (${table.d / C} steps × ${C} channels), the model was trained on ${opts.normalizer.columns.length}`,
    );
  const T = table.d / C;
  if (T < 2) throw new Error(`timeseries ${opts.path}: a series needs at least 2 steps, the file has ${T}`);
  if (table.n < 2)
    throw new Error(`timeseries ${opts.path}: need at least 2 series (rows) for a train/test split, found ${table.n}`);
  const nTest = Math.min(table.n - 1, Math.max(1, Math.round(table.n * frac)));
  const perm = new Rng(seed).permutation(table.n);
  let trIdx = perm.subarray(0, table.n - nTest);
  let teIdx = perm.subarray(table.n - nTest);
  if (opts.limit !== undefined) {
    if (!(Number.isInteger(opts.limit) && opts.limit > 0))
      throw new Error(`timeseries: limit must be a positive integer, got ${opts.limit}`);
    trIdx = trIdx.subarray(0, opts.limit);
    teIdx = teIdx.subarray(0, Math.ceil(opts.limit / 6));
  }
  const gather = (idx: Uint32Array) => {
    const out = new Float32Array(idx.length * table.d);
    idx.forEach((r, i) => out.set(table.x.subarray(r * table.d, (r + 1) * table.d), i * table.d));
    return out;
  };
  const trainRaw = gather(trIdx);
  const normalizer = opts.normalizer
    ? validateNormalizer(opts.normalizer)
    : fitChannelNormalizer(trainRaw, trIdx.length, table.columns, C, kind);
  const shape = [T, C];
  return {
    name: `timeseries:${opts.path}`,
    train: { x: applyNormalizer(normalizer, trainRaw), n: trIdx.length, shape },
    test: { x: applyNormalizer(normalizer, gather(teIdx)), n: teIdx.length, shape },
    shape,
    protocol: kind,
    normalizer,
    source: opts.path,
    splitSeed: seed,
  };
}
