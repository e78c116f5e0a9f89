// A saved model is a directory:
//   config.json          the model config (rebuilds it exactly) + data protocol/normaliser + training info
//   model.safetensors    every parameter with PyTorch-style names and layouts (Linear [out, in], Conv [out, in, kh, kw])
//   tfjs/<net>/model.json + weights.bin   each network in the tfjs layers format, for the browser
// Written atomically (temp dir + rename): a reader sees the old complete model or the new one.
import * as tf from '@tensorflow/tfjs-core';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { createModel, type LatentVariableModel, type ModelConfig } from '../models/index.js';
import { Rng } from '../rng.js';
import { readJson, recoverDir, writeDirAtomic, type FileData } from '../util/atomic.js';
import { decodeSafetensors, encodeSafetensors, type TensorInput } from '../codec/safetensors.js';

export const MODEL_FORMAT = 'vaekit-model';
export const MODEL_FORMAT_VERSION = 1;

export interface DataInfo {
  dataset: string;
  protocol: string;
  /** Per-example shape. */
  shape: number[];
  numClasses?: number;
  classNames?: string[];
  /** Per-column normaliser of CSV data (plain JSON), to map outputs back to data units. */
  normalizer?: unknown;
}

export interface ModelMeta {
  format: typeof MODEL_FORMAT;
  version: number;
  config: ModelConfig;
  data: DataInfo;
  training?: Record<string, unknown>;
  savedAt: string;
}

/** tfjs layout → PyTorch layout for a parameter named `…weight`: Dense [in,out] → [out,in]; Conv [kh,kw,a,b] → [b,a,kh,kw]. */
function torchPerm(name: string, rank: number): number[] | null {
  if (!name.endsWith('.weight')) return null;
  if (rank === 2) return [1, 0];
  if (rank === 4) return [3, 2, 0, 1];
  return null;
}
function inversePerm(p: number[]): number[] {
  const inv = new Array<number>(p.length);
  p.forEach((v, i) => (inv[v] = i));
  return inv;
}

export function parametersToSafetensors(model: LatentVariableModel, metadata: Record<string, string> = {}): Uint8Array {
  const tensors: Record<string, TensorInput> = {};
  for (const [name, v] of Object.entries(model.namedParameters())) {
    const perm = torchPerm(name, v.rank);
    const t = perm ? tf.transpose(v, perm) : v;
    tensors[name] = { dtype: 'F32', shape: t.shape, data: t.dataSync() as Float32Array };
    if (t !== v) t.dispose();
  }
  return encodeSafetensors(tensors, metadata);
}

export function loadParametersFromSafetensors(model: LatentVariableModel, buf: Uint8Array, source: string): void {
  const { tensors } = decodeSafetensors(buf, { source });
  const params = model.namedParameters();
  for (const [name, v] of Object.entries(params)) {
    const st = tensors[name];
    if (!st) throw new Error(`${source}: parameter "${name}" is missing`);
    const perm = torchPerm(name, v.rank);
    const expected = perm ? perm.map((i) => v.shape[i]) : v.shape;
    if (st.dtype !== 'F32' || st.shape.join(',') !== expected.join(','))
      throw new Error(`${source}: parameter "${name}" is ${st.dtype} [${st.shape}], expected F32 [${expected}]`);
    if (!(st.data as Float32Array).every(Number.isFinite))
      throw new Error(`${source}: parameter "${name}" holds NaN or Inf`);
    tf.tidy(() => {
      const t = tf.tensor(st.data as Float32Array, st.shape);
      v.assign(perm ? tf.transpose(t, inversePerm(perm)) : t);
    });
  }
  const extra = Object.keys(tensors).filter((k) => !(k in params));
  if (extra.length)
    throw new Error(`${source}: unexpected parameters ${extra.join(', ')} (does config.json match the weights?)`);
}

async function tfjsArtifacts(model: LatentVariableModel): Promise<Record<string, FileData>> {
  const files: Record<string, FileData> = {};
  for (const [name, net] of Object.entries(model.networks())) {
    await net.save(
      tf.io.withSaveHandler(async (a) => {
        const modelJson = {
          format: 'layers-model',
          generatedBy: `vaekit via TensorFlow.js ${tf.version_core}`,
          convertedBy: null,
          modelTopology: a.modelTopology,
          weightsManifest: [{ paths: ['weights.bin'], weights: a.weightSpecs }],
        };
        files[`tfjs/${name}/model.json`] = JSON.stringify(modelJson);
        const data = a.weightData as ArrayBuffer;
        files[`tfjs/${name}/weights.bin`] = new Uint8Array(data);
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
      }),
    );
  }
  return files;
}

/** All files of a saved model, for saveModel or a checkpoint that adds its own. */
export async function modelFiles(
  model: LatentVariableModel,
  data: DataInfo,
  training?: Record<string, unknown>,
): Promise<Record<string, FileData>> {
  const meta: ModelMeta = {
    format: MODEL_FORMAT,
    version: MODEL_FORMAT_VERSION,
    config: model.config,
    data,
    training,
    savedAt: new Date().toISOString(),
  };
  return {
    'config.json': JSON.stringify(meta, null, 2) + '\n',
    'model.safetensors': parametersToSafetensors(model, { format: MODEL_FORMAT, kind: model.config.kind }),
    ...(await tfjsArtifacts(model)),
  };
}

export async function saveModel(
  dir: string,
  model: LatentVariableModel,
  data: DataInfo,
  training?: Record<string, unknown>,
): Promise<void> {
  await writeDirAtomic(dir, await modelFiles(model, data, training));
}

export async function readModelMeta(dir: string): Promise<ModelMeta> {
  await recoverDir(dir);
  const meta = await readJson<ModelMeta>(path.join(dir, 'config.json'), 'model config');
  if (meta?.format !== MODEL_FORMAT)
    throw new Error(`${dir}/config.json is not a vaekit model (format "${meta?.format}")`);
  if (meta.version > MODEL_FORMAT_VERSION)
    throw new Error(
      `${dir}: model format version ${meta.version} is newer than this vaekit reads (${MODEL_FORMAT_VERSION})`,
    );
  return meta;
}

/** Rebuilds a model from its directory: config.json → createModel → weights from model.safetensors. */
export async function loadModel(dir: string): Promise<{ model: LatentVariableModel; meta: ModelMeta }> {
  const meta = await readModelMeta(dir);
  const model = createModel(meta.config, new Rng(0));
  const file = path.join(dir, 'model.safetensors');
  let buf: Buffer;
  try {
    buf = await readFile(file);
  } catch (e) {
    model.dispose();
    throw new Error(`cannot read ${file}: ${(e as Error).message}`, { cause: e });
  }
  try {
    loadParametersFromSafetensors(model, buf, file);
  } catch (e) {
    model.dispose();
    throw e;
  }
  return { model, meta };
}
