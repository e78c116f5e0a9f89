// The saved-model format, as bytes (pure: no file I/O, runs in the browser too). A model directory holds
//   config.json          the model config (rebuilds it exactly) + data protocol/normaliser + training info
//   model.safetensors    every parameter in PyTorch's names and layouts (src/models/state-dict.ts): a state dict that
//                        loads into the modules of `vaekit export --pytorch`; metadata layout = "pytorch"
//   tfjs/<net>/model.json + weights.bin   each network in the tfjs layers format
// modelFiles() gives those files' contents; loadModelFromBuffers() rebuilds a model from config.json and
// model.safetensors. Reading and writing the directory (atomically) is src/io/model.ts, for Node.
import * as tf from '@tensorflow/tfjs-core';
import { decodeSafetensors, encodeSafetensors, type TensorInput } from '../codec/safetensors.js';
import { Rng } from '../rng.js';
import { createModel } from './index.js';
import { loadStateDict, PYTORCH_LAYOUT, toStateDict } from './state-dict.js';
import type { LatentVariableModel, ModelConfig } from './types.js';

/** The content of one file of a model directory. */
export type ModelFileData = string | Uint8Array;

export const MODEL_FORMAT = 'vaekit-model';
/** 2: model.safetensors in PyTorch's layout throughout (recurrent weights too; metadata layout = "pytorch"). 1 is read too. */
/**
 * 3: the run's objective settings (β, KL warm-up, free bits, word dropout) in `training.objective`, no longer in
 * the model config. Versions 1 and 2 load: parseModelMeta moves their β (and a SeqVAE's wordDropout) there.
 */
export const MODEL_FORMAT_VERSION = 3;

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

export function parametersToSafetensors(model: LatentVariableModel, metadata: Record<string, string> = {}): Uint8Array {
  const tensors: Record<string, TensorInput> = {};
  for (const [name, t] of Object.entries(toStateDict(model)))
    tensors[name] = { dtype: 'F32', shape: t.shape, data: t.data };
  return encodeSafetensors(tensors, { ...metadata, layout: PYTORCH_LAYOUT });
}

/**
 * The parameters a model holds beyond its networks' weights (a learned decoder log σ², a discretised
 * logistic's log scale, a VQ codebook and its EMA state), by their names in model.safetensors: the ones the
 * tfjs networks of tfjs/ do not carry.
 */
export function parametersBeyondNetworks(model: LatentVariableModel): string[] {
  const inNets = new Set<number>();
  for (const net of Object.values(model.networks())) for (const w of net.weights) inNets.add(w.read().id);
  return Object.entries(model.namedParameters())
    .filter(([, v]) => !inNets.has(v.id))
    .map(([n]) => n);
}

/** Sets the model's parameters from model.safetensors bytes: PyTorch's layout, or that of files written before it. */
export function loadParametersFromSafetensors(model: LatentVariableModel, buf: Uint8Array, source: string): void {
  const { tensors, metadata } = decodeSafetensors(buf, { source });
  loadStateDict(model, tensors, source, metadata.layout === PYTORCH_LAYOUT ? 'pytorch' : 'vaekit-v1');
}

async function tfjsArtifacts(model: LatentVariableModel): Promise<Record<string, ModelFileData>> {
  const files: Record<string, ModelFileData> = {};
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
): Promise<Record<string, ModelFileData>> {
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

/**
 * Checks a parsed config.json (`source` names it in errors): a vaekit model of a format version this code
 * reads, with a model config.
 */
export function parseModelMeta(meta: unknown, source: string): ModelMeta {
  const m = meta as Partial<ModelMeta> | null;
  if (m?.format !== MODEL_FORMAT) throw new Error(`${source} is not a vaekit model (format "${m?.format}")`);
  if (typeof m.version !== 'number' || m.version > MODEL_FORMAT_VERSION)
    throw new Error(
      `${source}: model format version ${m.version} is newer than this vaekit reads (${MODEL_FORMAT_VERSION})`,
    );
  // The full schema check is io/model-schema.ts's (Node); this keeps the browser loader from a TypeError.
  const c = m.config as { kind?: unknown } | undefined;
  if (typeof c !== 'object' || c === null || Array.isArray(c)) throw new Error(`${source}: config must be an object`);
  if (typeof c.kind !== 'string') throw new Error(`${source}: config.kind is missing`);
  const d = m.data as { shape?: unknown } | undefined;
  if (typeof d !== 'object' || d === null || !Array.isArray(d.shape))
    throw new Error(`${source}: data must be an object with the data's shape`);
  return moveLegacyObjective(m as ModelMeta);
}

/** Objective settings that model configs of format versions 1 and 2 held (read by no model). */
const LEGACY_OBJECTIVE_KEYS = ['beta', 'wordDropout'] as const;

/**
 * A model saved before format 3: its config's β and word dropout (and the run's top-level free bits) moved to
 * `training.objective`, where src/objectives/config.ts reads them; the model config keeps what rebuilds the model.
 */
function moveLegacyObjective(m: ModelMeta): ModelMeta {
  const old = m.config as unknown as Record<string, unknown>;
  if (!m.config || !LEGACY_OBJECTIVE_KEYS.some((k) => k in old)) return m;
  const config = { ...old };
  const objective: Record<string, unknown> = {};
  for (const k of LEGACY_OBJECTIVE_KEYS)
    if (k in config) {
      objective[k] = config[k];
      delete config[k];
    }
  const training = { ...(m.training ?? {}) };
  if (typeof training.freeBits === 'number') objective.freeBits = training.freeBits;
  const saved = training.objective as Record<string, unknown> | undefined;
  return {
    ...m,
    config: config as unknown as ModelConfig,
    training: { ...training, objective: { ...objective, ...saved } },
  };
}

/**
 * Rebuilds a model from the bytes of its directory, the same in Node and in the browser: config.json (parsed
 * or as text) → createModel → the parameters from model.safetensors. The tfjs networks hold the same weights
 * and are not needed.
 */
export function loadModelFromBuffers(
  config: ModelMeta | string,
  safetensors: Uint8Array,
  source = 'model',
): { model: LatentVariableModel; meta: ModelMeta } {
  const meta = parseModelMeta(typeof config === 'string' ? JSON.parse(config) : config, `${source}/config.json`);
  const model = createModel(meta.config, new Rng(0));
  try {
    loadParametersFromSafetensors(model, safetensors, `${source}/model.safetensors`);
  } catch (e) {
    model.dispose();
    throw e;
  }
  return { model, meta };
}
