// calibration.json in a model directory: the threshold `vaekit calibrate` picked for an anomaly score at a
// false-positive rate, which `vaekit score` and `vaekit serve`'s /api/score flag with. It records the model's
// fingerprint (SHA-256 of its config and parameters, src/tasks/compress/fingerprint.ts): saveModel keeps the
// file when it re-saves the directory, and a reader whose model no longer matches (retrained weights, a
// refitted VQ prior) is told that the threshold is stale instead of flagging with it.
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { LatentVariableModel } from '../models/types.js';
import { modelFingerprint } from '../tasks/compress/fingerprint.js';
import type { ScoreName } from '../tasks/anomaly.js';
import { readJson, writeJsonAtomic } from '../util/atomic.js';

/** What `vaekit calibrate` writes into the model directory and `vaekit score` reads back. */
export interface CalibrationFile {
  score: ScoreName;
  threshold: number;
  targetFpr: number;
  achievedFpr: number;
  falsePositives: number;
  n: number;
  /** The held-out normal data it was fitted on, and the scorer's settings. */
  data: string;
  k: number;
  /** The regret score's Adam steps, when it is the calibrated score. */
  regretSteps?: number;
  /** The fingerprint of the model it was fitted with (absent in files written before it was recorded). */
  model?: string;
}

export const CALIBRATION_FILE = 'calibration.json';

/** The directory's calibration.json as it is (undefined when there is none). */
export async function readCalibrationFile(dir: string): Promise<CalibrationFile | undefined> {
  const file = path.join(dir, CALIBRATION_FILE);
  if (!existsSync(file)) return undefined;
  return readJson<CalibrationFile>(file, 'calibration');
}

/**
 * The calibration of `model`: the file's, or undefined when there is none or (with `stale` told why) when it
 * was fitted with other weights than the model's.
 */
export async function readCalibration(
  dir: string,
  model?: LatentVariableModel,
  stale?: (why: string) => void,
): Promise<CalibrationFile | undefined> {
  const cal = await readCalibrationFile(dir);
  if (!cal || !model || cal.model === undefined) return cal;
  if (cal.model === modelFingerprint(model)) return cal;
  stale?.(
    `${path.join(dir, CALIBRATION_FILE)} was fitted with other weights of this model (it has been retrained or ` +
      `re-saved since): its threshold is not used; run vaekit calibrate ${dir} again`,
  );
  return undefined;
}

/** Writes calibration.json atomically, with the model's fingerprint. */
export async function writeCalibration(
  dir: string,
  c: Omit<CalibrationFile, 'model'>,
  model: LatentVariableModel,
): Promise<string> {
  const file = path.join(dir, CALIBRATION_FILE);
  await writeJsonAtomic(file, { ...c, model: modelFingerprint(model) });
  return file;
}
