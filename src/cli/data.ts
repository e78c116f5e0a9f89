// Data and models for the commands: the data set of the flags (or of a saved model), its shape checked
// against the model, the split of --split, and `withModel`, the one path of load model → load data → check
// shape → pick split → dispose.
import { initBackend, type BackendChoice, type BackendInfo } from '../backend/index.js';
import { loadDataset, parseDatasetName, type Dataset, type DatasetSpec, type Split } from '../data/dataset.js';
import type { WordsDataset } from '../data/words.js';
import { loadModel } from '../io/model.js';
import type { DataInfo, ModelMeta } from '../models/files.js';
import type { LatentVariableModel } from '../models/index.js';

export interface DataFlags {
  dataset?: string;
  protocol?: string;
  dataDir?: string;
  labelColumn?: string;
  limit?: number;
  tsChannels?: number;
}

/** The data set of the flags; with a saved model's `meta`, its data set, protocol and normaliser by default. */
export async function loadData(f: DataFlags, meta?: ModelMeta): Promise<Dataset> {
  const name = f.dataset ?? meta?.data.dataset ?? 'mnist';
  const { name: kind, path: p } = parseDatasetName(name);
  let protocol =
    f.protocol ??
    (meta && (f.dataset === undefined || f.dataset === meta.data.dataset) ? meta.data.protocol : undefined);
  if (protocol === undefined && (kind === 'fashion-mnist' || kind === 'mnist')) protocol = 'binary';
  const spec: DatasetSpec = {
    name: kind,
    path: p,
    protocol,
    dataDir: f.dataDir,
    labelColumn: f.labelColumn,
    limit: f.limit,
  };
  if (kind === 'csv' && protocol && ['standardize', 'minmax', 'none'].includes(protocol))
    spec.normalize = protocol as DatasetSpec['normalize'];
  if (kind === 'csv' && meta?.data.normalizer) spec.normalizer = meta.data.normalizer as DatasetSpec['normalizer'];
  if (kind === 'timeseries') {
    // a trained series model re-applies its own normaliser and channel count
    const trained =
      meta?.data.dataset.startsWith('timeseries:') && meta.data.shape.length === 2 ? meta.data : undefined;
    if (trained?.normalizer) spec.normalizer = trained.normalizer as DatasetSpec['normalizer'];
    spec.channels = f.tsChannels ?? trained?.shape[1];
  } else if (f.tsChannels !== undefined) throw new Error(`--ts-channels is an option of --dataset timeseries:PATH`);
  return loadDataset(spec);
}

/** What a saved model records of its data set. */
export function dataInfo(d: Dataset): DataInfo {
  return {
    dataset: d.name,
    protocol: d.protocol,
    shape: d.shape,
    numClasses: d.numClasses,
    classNames: d.classNames,
    normalizer: d.normalizer,
  };
}

export function checkShape(model: LatentVariableModel, d: Dataset): void {
  const a = model.config.inputShape.join('×');
  const b = d.shape.join('×');
  if (a !== b) throw new Error(`the model takes ${a} inputs but dataset ${d.name} has ${b} examples`);
}

export function pickSplit(d: Dataset, which: string): Split {
  if (which !== 'train' && which !== 'test') throw new Error(`--split must be train or test, got "${which}"`);
  return which === 'train' ? d.train : d.test;
}

/** The labels of examples `idx` for a conditional model (its encoder and decoder take y); undefined for other models. */
export function labelsAt(
  model: LatentVariableModel,
  split: Split,
  idx: number[],
  what: string,
): Int32Array | undefined {
  if (model.numClasses === undefined) return undefined;
  if (!split.y)
    throw new Error(`${what}: this ${model.config.kind} is conditioned on the labels y, and the data have none`);
  return Int32Array.from(idx, (i) => split.y![i]);
}

/** The rows `idx` of a split, gathered into one array. */
export function rowsAt(split: Split, idx: number[]): Float32Array {
  const D = split.x.length / split.n;
  const outRows = new Float32Array(idx.length * D);
  idx.forEach((i, k) => {
    if (!Number.isInteger(i) || i < 0 || i >= split.n)
      throw new Error(`example index ${i} is out of range (the split has ${split.n} examples)`);
    outRows.set(split.x.subarray(i * D, (i + 1) * D), k * D);
  });
  return outRows;
}

/** The first n indices from `start`. */
export const range = (start: number, n: number): number[] => Array.from({ length: n }, (_, i) => start + i);

/** The words of a split of a words data set (--dataset words[:PATH]); an error for any other data set. */
export function splitWords(d: Dataset, which: string): string[] {
  const w = (d as Partial<WordsDataset>).words;
  if (!w) throw new Error(`data set ${d.name} has no words (a words model reads --dataset words[:PATH])`);
  pickSplit(d, which);
  return which === 'train' ? w.train : w.test;
}

export interface ModelFlags extends DataFlags {
  backend?: string;
  split?: string;
}

/** A loaded model and, on demand, its data: what a command that works on a saved model is handed. */
export interface ModelContext {
  dir: string;
  model: LatentVariableModel;
  meta: ModelMeta;
  backend: BackendInfo;
  /** The data set of the flags (by default the model's own), loaded once, its shape checked against the model. */
  data(): Promise<Dataset>;
  /** The split of --split (default test) of data(). */
  split(): Promise<Split>;
}

/**
 * Starts the backend of --backend, loads the model in `dir`, runs `fn` and disposes the model however `fn`
 * ends. The data set is loaded only when `fn` asks for it (ctx.data(), ctx.split()).
 */
export async function withModel<T>(dir: string, f: ModelFlags, fn: (ctx: ModelContext) => Promise<T>): Promise<T> {
  const backend = await initBackend((f.backend ?? 'auto') as BackendChoice);
  const { model, meta } = await loadModel(dir);
  let data: Promise<Dataset> | undefined;
  const ctx: ModelContext = {
    dir,
    model,
    meta,
    backend,
    data: () =>
      (data ??= loadData(f, meta).then((d) => {
        checkShape(model, d);
        return d;
      })),
    split: async () => pickSplit(await ctx.data(), f.split ?? 'test'),
  };
  try {
    return await fn(ctx);
  } finally {
    model.dispose();
  }
}
