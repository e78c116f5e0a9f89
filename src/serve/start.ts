// Starting `vaekit serve`: load the model directory and (for the explorer's map) the first examples of its
// data set's test split, bundle the page, build the app and listen. Binds 127.0.0.1 unless told otherwise.
import type { FastifyInstance } from 'fastify';
import { allRows, loadDataset, parseDatasetName, take, type DatasetSpec } from '../data/dataset.js';
import type { MemorySplit, Split } from '../data/types.js';
import { readCalibration } from '../io/calibration.js';
import { loadModel } from '../io/model.js';
import type { ModelMeta } from '../models/files.js';
import { createApp } from './app.js';
import { readModelFiles } from './model-files.js';
import { explorerPage } from './page.js';

export const DEFAULT_HOST = '127.0.0.1';
export const DEFAULT_PORT = 8080;
/** Test examples on the explorer's map unless told otherwise. */
export const DEFAULT_MAP_EXAMPLES = 1000;

export interface ServeOptions {
  modelDir: string;
  host?: string;
  port?: number;
  /** How many test examples the map shows (0: none). */
  examples?: number;
  /** The data set to take them from (default: the model's, as config.json names it). */
  dataset?: string;
  dataDir?: string;
  /** Loads the data set whose test split the map shows (the CLI's loader, with its flags); default: by its name. */
  loadTest?: (meta: ModelMeta) => Promise<Split>;
  maxInFlight?: number;
  bodyLimit?: number;
  log?: (line: string) => void;
}

async function byName(meta: ModelMeta, name: string, dataDir: string | undefined): Promise<Split> {
  const { name: kind, path: p } = parseDatasetName(name);
  const spec: DatasetSpec = { name: kind, path: p, protocol: meta.data.protocol, dataDir };
  if (meta.data.normalizer) spec.normalizer = meta.data.normalizer as DatasetSpec['normalizer'];
  if (kind === 'timeseries' && meta.data.shape.length === 2) spec.channels = meta.data.shape[1];
  return (await loadDataset(spec)).test;
}

/** The first `count` test examples of the model's data set, or undefined with a line saying why not. */
async function testExamples(
  meta: ModelMeta,
  opts: ServeOptions,
  log: (l: string) => void,
): Promise<MemorySplit | undefined> {
  const count = opts.examples ?? DEFAULT_MAP_EXAMPLES;
  if (count <= 0) return undefined;
  const name = opts.dataset ?? meta.data.dataset;
  try {
    const test = opts.loadTest ? await opts.loadTest(meta) : await byName(meta, name, opts.dataDir);
    const want = meta.config.inputShape.join('×');
    if (test.shape.join('×') !== want)
      throw new Error(`its examples are ${test.shape.join('×')}, the model takes ${want}`);
    const t = take(test, Math.min(count, test.n));
    return { x: allRows(t), n: t.n, shape: t.shape, y: t.y };
  } catch (e) {
    log(`serve: no map of test examples (data set ${name}: ${e instanceof Error ? e.message : e})`);
    return undefined;
  }
}

/**
 * Loads everything and listens; resolves once the server accepts connections. close(): stop accepting, let
 * the requests in flight finish, then dispose of the model.
 */
export async function startServer(
  opts: ServeOptions,
): Promise<{ app: FastifyInstance; url: string; close(): Promise<void> }> {
  const log = opts.log ?? ((l: string) => process.stderr.write(l + '\n'));
  const dir = opts.modelDir;
  const { model, meta } = await loadModel(dir);
  try {
    const files = await readModelFiles(dir, model, log);
    const calibration = await readCalibration(dir, model, (why) => log(`serve: ${why}`));
    const examples = await testExamples(meta, opts, log);
    const page = await explorerPage();
    const app = await createApp({
      model,
      meta,
      files,
      calibration,
      examples,
      page,
      maxInFlight: opts.maxInFlight,
      bodyLimit: opts.bodyLimit,
    });
    const url = await app.listen({ host: opts.host ?? DEFAULT_HOST, port: opts.port ?? DEFAULT_PORT });
    const close = async () => {
      await app.close();
      model.dispose();
    };
    return { app, url, close };
  } catch (e) {
    model.dispose();
    throw e;
  }
}
