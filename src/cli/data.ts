// Data and models for the commands: the data set of the flags (or of a saved model), its shape checked
// against the model, the split of --split, and `withModel`, the one path of load model → load data → check
// shape → pick split → dispose.
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { initBackend, type BackendChoice, type BackendInfo } from '../backend/index.js';
import {
  loadDataset,
  parseDatasetName,
  readRows,
  type Dataset,
  type DatasetSpec,
  type Split,
} from '../data/dataset.js';
import type { WordsDataset } from '../data/words.js';
import { NORMALIZE_KINDS } from '../data/csv.js';
import { isPixelProtocol, PIXEL_PROTOCOLS } from '../data/protocol.js';
import { loadModel } from '../io/model.js';
import type { DataInfo, ModelMeta } from '../models/files.js';
import type { LatentVariableModel } from '../models/index.js';
import { listBackupsSync } from '../util/atomic.js';
import { prod } from '../util/math.js';
import { log } from './common.js';

export interface DataFlags {
  dataset?: string;
  protocol?: string;
  dataDir?: string;
  labelColumn?: string;
  limit?: number;
  tsChannels?: number;
}

/**
 * Checks --dataset and --protocol without reading anything (so a typo fails before the backend starts or any
 * data loads): a known data set name ("did you mean"), and a protocol that applies to it.
 */
export function checkDataFlags(f: DataFlags, meta?: ModelMeta): void {
  if (f.dataset === undefined && f.protocol === undefined) return;
  const { name: kind } = parseDatasetName(f.dataset ?? meta?.data.dataset ?? 'mnist');
  const p = f.protocol;
  if (p === undefined || kind === 'words') return;
  const pixels = Object.keys(PIXEL_PROTOCOLS);
  if (kind === 'csv' || kind === 'timeseries') {
    if (!(NORMALIZE_KINDS as readonly string[]).includes(p))
      throw new Error(`--protocol ${p} does not apply to ${kind} data (use one of: ${NORMALIZE_KINDS.join(', ')})`);
  } else if (!isPixelProtocol(p))
    throw new Error(`--protocol ${p} does not apply to the images of ${kind} (use one of: ${pixels.join(', ')})`);
}

/** The data set of the flags; with a saved model's `meta`, its data set, protocol and normaliser by default. */
export async function loadData(f: DataFlags, meta?: ModelMeta): Promise<Dataset> {
  checkDataFlags(f, meta);
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

/** "28×28×1 (784 values)", "4 values". */
const shapeWords = (s: number[]) => (s.length === 1 ? `${s[0]} values` : `${s.join('×')} (${prod(s)} values)`);

export function checkShape(model: LatentVariableModel, d: Dataset): void {
  const a = model.config.inputShape;
  if (a.join('×') !== d.shape.join('×'))
    throw new Error(
      `the model takes examples of ${shapeWords(a)}, but data set ${d.name} has examples of ${shapeWords(d.shape)}`,
    );
}

const isModelDir = (dir: string) => existsSync(path.join(dir, 'config.json')) || listBackupsSync(dir).length > 0;

/**
 * The model folder that `dir` names: `dir` itself, or `dir/model` when `dir` is a training run's folder
 * (`vaekit sample runs/mnist` for runs/mnist/model). An error that says what is there otherwise.
 */
export function resolveModelDir(dir: string): string {
  if (existsSync(path.join(dir, 'config.json'))) return dir;
  const inRun = path.join(dir, 'model');
  if (isModelDir(inRun)) return inRun;
  if (isModelDir(dir)) return dir; // a crashed swap's backup: loadModel puts it back
  if (!existsSync(dir)) throw new Error(`model config not found: there is no model at ${dir} (it does not exist)`);
  if (!statSync(dir).isDirectory())
    throw new Error(`no model at ${dir}: it is a file (a model is a folder with config.json and model.safetensors)`);
  if (existsSync(path.join(dir, 'checkpoint', 'config.json')))
    throw new Error(
      `no model in ${dir}: the training run has not finished (no ${inRun}); its last checkpoint loads as a model: ${path.join(dir, 'checkpoint')}`,
    );
  throw new Error(
    `model config not found: no model in ${dir}, no config.json (a model folder holds config.json and model.safetensors; a training run keeps its model in RUN/model)`,
  );
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
  for (const i of idx)
    if (!Number.isInteger(i) || i < 0 || i >= split.n)
      throw new Error(`example index ${i} is out of range (the split has ${split.n} examples)`);
  return readRows(split, idx);
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
  dir = resolveModelDir(dir);
  checkDataFlags(f);
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
        if (d.name !== meta.data.dataset)
          log(`vaekit: warning: the model was trained on ${meta.data.dataset}; this runs it on ${d.name}`);
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
