// vaekit in the browser (package export "vaekit/browser"): load a saved model directory over HTTP (config.json,
// the tfjs networks, from model.safetensors only the parameters beyond them: src/models/load-url.ts) or from
// bytes, and use it with tfjs in the page (on WebGL or the CPU: chooseBackend) — encode, decode, sample,
// reconstruct, interpolate, anomaly scores, restoration. Everything here is the browser-safe part of vaekit: no
// node: module, no native backend (a test bundles this file with esbuild for platform 'browser' and fails on either).
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';

export { tf };
export { Rng } from './rng.js';
export { createModel } from './models/index.js';
export { loadModelFromBuffers, type DataInfo, type ModelMeta } from './models/files.js';
export { loadModelFromUrl, type FetchLike, type ModelSource } from './models/load-url.js';
export type { LatentVariableModel, ModelConfig } from './models/types.js';
export { encode, encodeCodes, generate, interpolate, reconstruct } from './tasks/generate.js';
export {
  reconstructWords,
  sampleWords,
  interpolateWords,
  isWordsModel,
  wordProblem,
  wordMeans,
  wordsAt,
} from './tasks/words.js';
export { decodeWords, encodeWords } from './data/words.js';
export {
  decodeLatent,
  decodeWidth,
  klPerUnit,
  nearestRows,
  pcaInverse,
  pcaMap,
  unitsByUse,
  type PcaMap,
} from './tasks/explore.js';
export { codeUsage, codeVectors, decodeCodes } from './tasks/explore-codes.js';
export {
  scoreBatch,
  defaultScore,
  pixelViolation,
  SCORER_DEFAULTS,
  type BatchScores,
  type ScoreName,
} from './tasks/anomaly.js';
export {
  checkRestorable,
  degrade,
  restoreImages,
  RESTORE_METHODS,
  type Degradation,
  type Degraded,
  type RestoreMethod,
} from './tasks/restore/index.js';
export { compressBinaryImages, decompressBinaryImages, modelFingerprint } from './tasks/compress/index.js';

export type BackendChoice = 'auto' | 'webgl' | 'cpu';

/**
 * Picks tfjs's backend in the page: WebGL when asked for (or 'auto') and the browser gives a WebGL context,
 * else the CPU backend; `fallback` says why WebGL is not used. Call it before loading a model. The WebGL
 * backend is imported only here, on demand (Node never loads it). Its float textures may be 16-bit on some
 * GPUs (`float32` false): the CPU backend matches Node's tfjs-cpu to 1e-5, WebGL only to its precision.
 */
export async function chooseBackend(
  want: BackendChoice = 'auto',
): Promise<{ backend: string; float32: boolean; fallback?: string }> {
  let fallback: string | undefined;
  if (want !== 'cpu') {
    try {
      await import('@tensorflow/tfjs-backend-webgl');
      if (await tf.setBackend('webgl')) {
        await tf.ready();
        return { backend: 'webgl', float32: tf.env().getBool('WEBGL_RENDER_FLOAT32_CAPABLE') };
      }
      fallback = 'WebGL is not available in this browser';
    } catch (e) {
      fallback = `WebGL failed: ${e instanceof Error ? e.message : e}`;
    }
  }
  await tf.setBackend('cpu');
  await tf.ready();
  return { backend: tf.getBackend(), float32: true, ...(fallback ? { fallback } : {}) };
}
