// A saved model is a directory (its files: src/models/files.ts), written atomically (temp dir + rename): a reader
// sees the old complete model or the new one. This is the Node side: reading and writing the directory. A
// re-save keeps the files vaekit writes beside the model (calibration.json, see ./calibration.ts).
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { loadModelFromBuffers, modelFiles, parseModelMeta, type DataInfo, type ModelMeta } from '../models/files.js';
import type { LatentVariableModel } from '../models/types.js';
import { readJson, recoverDir, writeDirAtomic, type FileData } from '../util/atomic.js';
import { CALIBRATION_FILE } from './calibration.js';
import { validateModelConfigJson } from './model-schema.js';

export async function saveModel(
  dir: string,
  model: LatentVariableModel,
  data: DataInfo,
  training?: Record<string, unknown>,
): Promise<void> {
  const files: Record<string, FileData> = await modelFiles(model, data, training);
  await recoverDir(dir);
  for (const name of KEPT_FILES) {
    const old = await readFile(path.join(dir, name)).catch(() => undefined);
    if (old) files[name] = old;
  }
  await writeDirAtomic(dir, files);
}

/** Files of a model directory that are not the model's own and survive a re-save. */
export const KEPT_FILES = [CALIBRATION_FILE];

export async function readModelMeta(dir: string): Promise<ModelMeta> {
  await recoverDir(dir);
  const file = path.join(dir, 'config.json');
  const json = await readJson<unknown>(file, 'model config');
  validateModelConfigJson(json, file);
  return parseModelMeta(json, file);
}

/** Rebuilds a model from its directory: config.json → createModel → weights from model.safetensors. */
export async function loadModel(dir: string): Promise<{ model: LatentVariableModel; meta: ModelMeta }> {
  const meta = await readModelMeta(dir);
  const file = path.join(dir, 'model.safetensors');
  let buf: Buffer;
  try {
    buf = await readFile(file);
  } catch (e) {
    throw new Error(`cannot read ${file}: ${(e as Error).message}`, { cause: e });
  }
  return loadModelFromBuffers(meta, buf, path.normalize(dir).replace(/\/+$/, ''));
}
