// Loading a saved model directory over HTTP (the browser loader of vaekit/browser; Node can use it too, with
// its fetch): what each file of the directory is for (src/models/files.ts), read as such.
//   config.json                           the model config: createModel builds the model's networks
//   tfjs/<net>/model.json + its weights   each network in the tfjs layers format: tfjs-layers' loadLayersModel
//                                         reads it and its weights are set on the model's network of that name
//   model.safetensors                     only the parameters beyond the networks (a learned decoder σ, a VQ
//                                         codebook and its EMA state, …): its header and those tensors by HTTP
//                                         Range requests (a server that ignores Range sends the whole file)
// A directory without tfjs/ (a 404 on the first network's model.json), or with networks that do not fit the
// config (another topology), loads every parameter from model.safetensors instead; `source` says which ran
// and why. Pure: no node: module, the fetch function is given.
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import {
  decodeSafetensors,
  decodeSafetensorsHeader,
  safetensorsHeaderLength,
  safetensorsTensor,
  type SafeTensor,
} from '../codec/safetensors.js';
import { Rng } from '../rng.js';
import { loadParametersFromSafetensors, parametersBeyondNetworks, parseModelMeta, type ModelMeta } from './files.js';
import { createModel } from './index.js';
import { loadStateDict, PYTORCH_LAYOUT } from './state-dict.js';
import type { LatentVariableModel } from './types.js';

/** The part of the fetch API the loader uses (the page's fetch, Node's, or a test's). */
export type FetchLike = (
  url: string,
  init?: { headers?: Record<string, string> },
) => Promise<{
  ok: boolean;
  status: number;
  headers: { get(name: string): string | null };
  json(): Promise<unknown>;
  arrayBuffer(): Promise<ArrayBuffer>;
}>;

/** Where the loaded parameters came from. */
export interface ModelSource {
  /** The networks' weights: from tfjs/ (tfjs-layers), or from model.safetensors (`fallback` says why). */
  networks: 'tfjs' | 'safetensors';
  fallback?: string;
  /** The tensors read from model.safetensors beyond the networks (all of them on the fallback). */
  parameters: string[];
  /** Whether model.safetensors came in parts (Range requests) or whole. */
  safetensors: 'none' | 'ranges' | 'whole';
  /** The URLs fetched, in order. */
  fetched: string[];
}

/** A network's tfjs files do not fit the model built from config.json. */
class NoTfjs extends Error {}
/** A 404. */
class NotFound extends Error {}

function get(fetchFn: FetchLike, fetched: string[]) {
  return async (url: string, headers?: Record<string, string>) => {
    fetched.push(url);
    const r = await fetchFn(url, headers ? { headers } : undefined);
    if (r.status === 404) throw new NotFound(`cannot load ${url}: HTTP 404`);
    if (!r.ok) throw new Error(`cannot load ${url}: HTTP ${r.status}`);
    return r;
  };
}

/** Loads tfjs/<name>/model.json and the weights its manifest names (paths relative to it) with tfjs-layers. */
async function loadNetwork(url: string, fetch: ReturnType<typeof get>): Promise<tfl.LayersModel> {
  const json = (await (await fetch(url)).json()) as tf.io.ModelJSON;
  if (json?.format !== 'layers-model' || !json.modelTopology || !Array.isArray(json.weightsManifest))
    throw new NoTfjs(`${url} is not a tfjs layers model (format "${json?.format}")`);
  const dir = url.slice(0, url.lastIndexOf('/') + 1);
  const specs: tf.io.WeightsManifestEntry[] = [];
  const parts: ArrayBuffer[] = [];
  for (const group of json.weightsManifest) {
    specs.push(...group.weights);
    for (const p of group.paths) parts.push(await (await fetch(dir + p)).arrayBuffer());
  }
  const weightData = tf.io.concatenateArrayBuffers(parts);
  return tfl.loadLayersModel(tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: specs, weightData }));
}

/** Sets `net`'s weights to those of `loaded` (the same network read from tfjs/), or NoTfjs when they do not fit. */
function copyWeights(name: string, net: tfl.LayersModel, loaded: tfl.LayersModel): void {
  const want = net.weights.map((w) => w.shape.join('×'));
  const got = loaded.weights.map((w) => w.shape.join('×'));
  if (want.join(',') !== got.join(','))
    throw new NoTfjs(`tfjs/${name} holds weights [${got.join(', ')}], the config's network [${want.join(', ')}]`);
  net.setWeights(loaded.getWeights());
}

/** The bytes [from, to] (inclusive) of `url` by a Range request; `whole` when the server sent the whole file. */
async function range(
  fetch: ReturnType<typeof get>,
  url: string,
  from: number,
  to: number,
): Promise<{ bytes: Uint8Array; size: number; whole: boolean }> {
  const r = await fetch(url, { range: `bytes=${from}-${to}` });
  const bytes = new Uint8Array(await r.arrayBuffer());
  if (r.status !== 206) return { bytes, size: bytes.length, whole: true };
  const m = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(r.headers.get('content-range') ?? '');
  if (!m || Number(m[1]) !== from || Number(m[2]) !== to || bytes.length !== to - from + 1)
    throw new Error(`${url}: asked for bytes ${from}-${to}, got ${r.headers.get('content-range')} (${bytes.length})`);
  return { bytes, size: Number(m[3]), whole: false };
}

/** The named tensors of model.safetensors: its header and each tensor by Range requests, or the whole file. */
async function readTensors(
  fetch: ReturnType<typeof get>,
  url: string,
  names: string[],
): Promise<{ tensors: Record<string, SafeTensor>; layout: string | undefined; whole: boolean }> {
  const opts = { source: url };
  const first = await range(fetch, url, 0, 7);
  if (first.whole) {
    const { tensors, metadata } = decodeSafetensors(first.bytes, opts);
    const picked: Record<string, SafeTensor> = {};
    for (const n of names) if (tensors[n]) picked[n] = tensors[n];
    return { tensors: picked, layout: metadata.layout, whole: true };
  }
  const n = safetensorsHeaderLength(first.bytes, first.size, opts);
  const head = new Uint8Array(8 + n);
  head.set(first.bytes);
  head.set((await range(fetch, url, 8, 8 + n - 1)).bytes, 8);
  const header = decodeSafetensorsHeader(head, first.size, opts);
  const tensors: Record<string, SafeTensor> = {};
  for (const name of names) {
    const e = header.entries.find((t) => t.name === name);
    if (!e) continue; // loadStateDict names it as missing
    const at = header.dataStart;
    tensors[name] =
      e.end > e.begin
        ? safetensorsTensor(e, (await range(fetch, url, at + e.begin, at + e.end - 1)).bytes)
        : safetensorsTensor(e, new Uint8Array(0));
  }
  return { tensors, layout: header.metadata.layout, whole: false };
}

/**
 * Fetches a model directory served at `base` (by `vaekit serve` at /model, or any static server) and rebuilds
 * the model: config.json, the tfjs networks, and from model.safetensors only what the networks do not hold.
 */
export async function loadModelFromUrl(
  base: string,
  fetchFn: FetchLike = (u, init) => fetch(u, init),
): Promise<{ model: LatentVariableModel; meta: ModelMeta; source: ModelSource }> {
  const root = base.replace(/\/+$/, '');
  const fetched: string[] = [];
  const fetch = get(fetchFn, fetched);
  const cfgUrl = `${root}/config.json`;
  const meta = parseModelMeta(await (await fetch(cfgUrl)).json(), cfgUrl);
  const model = createModel(meta.config, new Rng(0));
  const stUrl = `${root}/model.safetensors`;
  try {
    let fallback: string | undefined;
    try {
      for (const [name, net] of Object.entries(model.networks())) {
        const loaded = await loadNetwork(`${root}/tfjs/${name}/model.json`, fetch);
        try {
          copyWeights(name, net, loaded);
        } finally {
          loaded.dispose();
        }
      }
    } catch (e) {
      if (!(e instanceof NoTfjs || e instanceof NotFound)) throw e;
      fallback = e.message;
    }
    if (fallback !== undefined) {
      const bytes = new Uint8Array(await (await fetch(stUrl)).arrayBuffer());
      loadParametersFromSafetensors(model, bytes, stUrl);
      const parameters = Object.keys(model.namedParameters());
      return { model, meta, source: { networks: 'safetensors', fallback, parameters, safetensors: 'whole', fetched } };
    }
    const names = parametersBeyondNetworks(model);
    let safetensors: ModelSource['safetensors'] = 'none';
    if (names.length) {
      const t = await readTensors(fetch, stUrl, names);
      loadStateDict(model, t.tensors, stUrl, t.layout === PYTORCH_LAYOUT ? 'pytorch' : 'vaekit-v1', new Set(names));
      safetensors = t.whole ? 'whole' : 'ranges';
    }
    return { model, meta, source: { networks: 'tfjs', parameters: names, safetensors, fetched } };
  } catch (e) {
    model.dispose();
    throw e;
  }
}
