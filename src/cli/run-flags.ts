// The flags of a `vaekit train` run, kept with its checkpoint (state.json, run.flags) so that `--resume`
// continues the run that was started: flags not given again take the run's values; a flag given with
// another value is taken silently (extending or reporting a run), taken with a notice (β, learning rate,
// warm-up, …), or refused when it would change the data stream, the model or the objective.
import type { Command, Option } from 'commander';
import path from 'node:path';
import { readJson, recoverDir } from '../util/atomic.js';
import type { DataInfo } from '../models/files.js';
import { hasCheckpoint, type TrainState } from '../train/checkpoint.js';
import type { OptimizerKind } from '../train/optimizers.js';
import type { TrainOptions } from '../train/trainer.js';

/** Not stored: how this invocation runs and shows itself, not what it trains. */
const NOT_STORED = new Set(['out', 'resume', 'json', 'progress', 'backend']);

/** Stored and restored, but a new value is taken without comment: extending a run, its checkpoints and reports, where the data files lie. */
const FREE = new Set(['epochs', 'steps', 'checkpointEvery', 'reportK', 'eval', 'dataDir']);

/** Stored; another value on resume is refused: what it would change. */
const FIXED: Record<string, string> = {
  ...Object.fromEntries(
    ['dataset', 'protocol', 'limit', 'tsChannels', 'labelColumn', 'batchSize', 'seed'].map((k) => [
      k,
      "the run's data stream",
    ]),
  ),
  ...Object.fromEntries(
    [
      'model',
      'preset',
      'network',
      'latent',
      'hidden',
      'channels',
      'kernel',
      'stride',
      'activation',
      'labelEncoding',
      'embeddingDim',
      'prior',
      'cell',
      'rnnHidden',
      'embedding',
      'latents',
      'layerHidden',
      'likelihood',
      'sigma',
    ]
      .concat(['codebook', 'codeDim', 'numCodes', 'ema', 'priorChannels', 'priorLayers'])
      .map((k) => [k, "the run's model"]),
  ),
  objective: "the run's objective",
  optimizer: "the run's optimizer (its state is in the checkpoint)",
};

/**
 * Kept out of this mechanism's lines: the trainer keeps the checkpoint's free bits λ itself and says so
 * (and when a given λ differs); the value is still stored and restored here.
 */
const TRAINER_REPORTS = new Set(['freeBits']);

const norm = (v: unknown): unknown => (v === null ? undefined : v);

function same(a: unknown, b: unknown): boolean {
  a = norm(a);
  b = norm(b);
  if (JSON.stringify(a) === JSON.stringify(b)) return true;
  // "1" and "1.0" (--sigma) are the same number
  const num = (v: unknown) => (typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN);
  return Number.isFinite(num(a)) && num(a) === num(b);
}

function defaultOf(o: Option): unknown {
  return o.negate ? true : o.defaultValue;
}

/** `--flag value` as typed (a list comma-separated); undefined: "without --flag". */
function shown(o: Option, v: unknown): string {
  v = norm(v);
  const long = o.long ?? o.flags;
  if (o.negate) return v === false ? long : long.replace(/^--no-/, '--');
  const name = long.replace(/^--no-/, '--');
  if (v === undefined) return `without ${name}`;
  if (typeof v === 'boolean') return v ? name : `without ${name}`;
  return `${name} ${Array.isArray(v) ? v.join(',') : String(v)}`;
}

function valueText(v: unknown): string {
  v = norm(v);
  return v === undefined ? '(unset)' : Array.isArray(v) ? v.join(',') : String(v);
}

function storedOptions(cmd: Command): Option[] {
  return cmd.options.filter((o) => !NOT_STORED.has(o.attributeName()));
}

/** The run's flags as the checkpoint records them: every stored option's value (null: not set). */
export function runFlags(cmd: Command, f: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(storedOptions(cmd).map((o) => [o.attributeName(), f[o.attributeName()] ?? null]));
}

/** What the checkpoint in `outDir` records of its run's flags: none (no checkpoint), or its flags (undefined: a checkpoint from before they were stored). */
export async function readRunFlags(
  outDir: string,
): Promise<{ checkpoint: string; flags: Record<string, unknown> | undefined } | undefined> {
  const dir = path.join(outDir, 'checkpoint');
  if (!hasCheckpoint(dir)) return undefined;
  await recoverDir(dir);
  const state = await readJson<TrainState>(path.join(dir, 'state.json'), 'checkpoint state');
  const flags = state?.run?.flags;
  return {
    checkpoint: dir,
    flags: flags && typeof flags === 'object' && !Array.isArray(flags) ? (flags as Record<string, unknown>) : undefined,
  };
}

/**
 * `vaekit train --resume`: merges the run's stored flags into `f` (the parsed options of `cmd`) and returns
 * the lines to print. Throws, before anything is written, when a flag given explicitly would change the
 * run's data stream, model, objective or optimizer.
 */
export function resumeRunFlags(
  cmd: Command,
  f: Record<string, unknown>,
  stored: Record<string, unknown>,
  checkpoint: string,
): string[] {
  const restored: string[] = [];
  const changed: string[] = [];
  for (const o of storedOptions(cmd)) {
    const k = o.attributeName();
    if (!(k in stored)) continue; // a flag newer than the run: as given
    const given = cmd.getOptionValueSource(k) === 'cli';
    if (!given) {
      f[k] = norm(stored[k]);
      if (!same(stored[k], defaultOf(o)) && !TRAINER_REPORTS.has(k)) restored.push(shown(o, stored[k]));
      continue;
    }
    if (same(stored[k], f[k]) || FREE.has(k)) continue;
    const name = (o.long ?? o.flags).replace(/^--no-/, '--');
    if (k in FIXED) {
      const was = shown(o, stored[k]);
      throw new Error(
        `--resume: ${shown(o, f[k])} would change ${FIXED[k]}: the run in ${path.dirname(checkpoint)} was started ${was.startsWith('without') ? was : `with ${was}`} ` +
          `(resume without ${name}, or start a new run in another --out)`,
      );
    }
    if (!TRAINER_REPORTS.has(k)) changed.push(`${name} ${valueText(stored[k])} → ${valueText(f[k])}`);
  }
  const lines = [
    restored.length
      ? `vaekit: resume: continuing with the run's flags: ${restored.join(' ')}`
      : `vaekit: resume: continuing with the run's flags (nothing to restore beyond the defaults)`,
  ];
  if (changed.length) lines.push(`vaekit: resume: changing the run's flags as given: ${changed.join(', ')}`);
  return lines;
}

/** The warning for a checkpoint that does not record its run's flags. */
export function unrecordedFlagsWarning(checkpoint: string): string {
  return `vaekit: warning: resume: ${checkpoint} does not record the run's flags (a checkpoint from before vaekit stored them); they could not be checked: continuing with the flags given`;
}

/** The trainer options every `vaekit train` run takes from its flags alike (the model-specific ones are added by the caller). */
export function trainerOptionsFromFlags(f: Record<string, any>, dataInfo: DataInfo): Omit<TrainOptions, 'beta'> {
  return {
    epochs: f.epochs,
    maxSteps: f.steps,
    batchSize: f.batchSize,
    seed: f.seed,
    optimizer: { kind: f.optimizer as OptimizerKind, lr: f.lr, momentum: f.momentum },
    lrSchedule: f.lrSchedule,
    outDir: f.out,
    resume: !!f.resume,
    checkpointEvery: f.checkpointEvery,
    progress: f.progress,
    dataInfo,
  };
}
