// Checkpoints: one directory, rewritten atomically each time, holding everything a run needs to go on
// exactly where it stopped: the model (same files as a saved model), optimizer slots and step count,
// the RNG state and the data position (epoch, step within it).
import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { LatentVariableModel } from '../models/types.js';
import { listBackupsSync, readJson, recoverDir, writeDirAtomic } from '../util/atomic.js';
import { loadParametersFromSafetensors, modelFiles, type DataInfo } from '../models/files.js';
import { decodeSafetensors, encodeSafetensors, type TensorInput } from '../codec/safetensors.js';
import type { RngState } from '../rng.js';
import type { Optimizer, OptimizerState } from './optimizers.js';

export interface TrainState {
  /** Completed epochs. */
  epoch: number;
  /** Steps done within the current (incomplete) epoch; 0 at an epoch boundary. */
  epochStep: number;
  /** Steps done in all. */
  step: number;
  seed: number;
  rng: RngState;
  optimizer: { config: OptimizerState['config']; t: number };
  /** Options of the run, so `--resume` can refuse a checkpoint of a different run. */
  run: Record<string, unknown>;
}

export async function saveCheckpoint(
  dir: string,
  model: LatentVariableModel,
  optimizer: Optimizer,
  state: TrainState,
  data: DataInfo,
): Promise<void> {
  const files = await modelFiles(model, data, { checkpoint: true, epoch: state.epoch, step: state.step });
  const slots: Record<string, TensorInput> = {};
  for (const [k, v] of optimizer.slots) slots[k] = { dtype: 'F32', shape: [v.length], data: v };
  files['optimizer.safetensors'] = encodeSafetensors(slots);
  files['state.json'] = JSON.stringify(state, null, 2) + '\n';
  await writeDirAtomic(dir, files);
}

/**
 * Whether `dir` holds a checkpoint, or a complete backup of one that recoverDir puts back: a kill between the
 * two renames of a checkpoint swap leaves `dir` missing and `<dir>.bak-<ms>-<pid>-<rand>` beside it.
 */
export function hasCheckpoint(dir: string): boolean {
  return (
    existsSync(path.join(dir, 'state.json')) || listBackupsSync(dir).some((b) => existsSync(path.join(b, 'state.json')))
  );
}

/** Puts back a checkpoint a crashed swap left as a backup (recoverDir), then says whether there is one. */
export async function recoverCheckpoint(dir: string): Promise<boolean> {
  await recoverDir(dir);
  return existsSync(path.join(dir, 'state.json'));
}

/** Restores model weights and optimizer state in place and returns the training state. */
export async function loadCheckpoint(
  dir: string,
  model: LatentVariableModel,
  optimizer: Optimizer,
): Promise<TrainState> {
  await recoverDir(dir);
  const state = await readJson<TrainState>(path.join(dir, 'state.json'), 'checkpoint state');
  if (typeof state?.epoch !== 'number' || typeof state.step !== 'number' || !state.rng)
    throw new Error(`${dir}/state.json is not a vaekit checkpoint state`);
  const weights = path.join(dir, 'model.safetensors');
  loadParametersFromSafetensors(model, await readFile(weights), weights);
  const optFile = path.join(dir, 'optimizer.safetensors');
  const { tensors } = decodeSafetensors(await readFile(optFile), { source: optFile });
  const slots: Record<string, Float32Array> = {};
  for (const [k, t] of Object.entries(tensors)) slots[k] = t.data as Float32Array;
  optimizer.setState({ config: state.optimizer.config, t: state.optimizer.t, slots });
  return state;
}
