// The trainer: minibatch stochastic optimisation of any objective over any model. It knows nothing of
// models beyond the LatentVariableModel interface; progress, metrics, checkpoints, the NaN guard and
// resume live here once for all of them.
import * as tf from '@tensorflow/tfjs-core';
import path from 'node:path';
import { prefetchBatches, stepsPerEpoch } from '../data/batches.js';
import { rowSize } from '../data/split.js';
import type { Dataset } from '../data/types.js';
import { ensureDirSync, writeFileAtomic } from '../util/atomic.js';
import { appendFileChecked } from '../util/fs-errors.js';
import type { DataInfo } from '../models/files.js';
import type { LatentVariableModel } from '../models/types.js';
import { objectiveConfig, type ObjectiveConfig } from '../objectives/config.js';
import type { Objective } from '../objectives/types.js';
import { withWordDropout } from '../objectives/word-dropout.js';
import { Rng } from '../rng.js';
import { loadCheckpoint, recoverCheckpoint, saveCheckpoint, type TrainState } from './checkpoint.js';
import { Optimizer, type OptimizerConfig } from './optimizers.js';
import { FUSED_TERMS, fusedStepFor } from './fused-step.js';
import { createProgress, type ProgressMode } from './progress.js';
import { betaAt, lrAt, parseLrSchedule } from './schedules.js';

export type { Objective, ObjectiveContext } from '../objectives/types.js';

export interface TrainOptions {
  epochs: number;
  /** Stop after this many steps in all (may end inside an epoch). */
  maxSteps?: number;
  batchSize: number;
  seed: number;
  optimizer: OptimizerConfig;
  /** constant | cosine[:MIN] | step:EVERY:GAMMA */
  lrSchedule?: string;
  beta: number;
  /** Linear KL warm-up over this many steps (0: none). */
  klWarmup?: number;
  /**
   * Free bits λ, nats per latent unit, handed to the objective (ctx.freeBits). Recorded in the checkpoint
   * and the metrics; on resume, undefined keeps the checkpoint's λ (0 for a run without), a number sets it.
   */
  freeBits?: number;
  /** Word dropout rate of a sequence VAE's teacher forcing (0 or undefined: none; src/objectives/word-dropout.ts). */
  wordDropout?: number;
  /** Where metrics.jsonl and checkpoint/ go; nothing is written without it (the caller saves the model). */
  outDir?: string;
  resume?: boolean;
  /** Also checkpoint every this many steps inside an epoch (0: at epoch ends only). */
  checkpointEvery?: number;
  progress?: ProgressMode;
  dataInfo: DataInfo;
  /** Held-out figures per epoch (e.g. test −ELBO), merged into the epoch's metrics as test_*. */
  evaluate?: (model: LatentVariableModel, epoch: number) => Record<string, number>;
  /** Extra fields for the run's identity (resume refuses a checkpoint whose run differs). */
  run?: Record<string, unknown>;
  log?: (line: string) => void;
  /** After each epoch's metrics are recorded (metrics.jsonl appended), before its checkpoint: e.g. the live HTML report. */
  onEpoch?: (metrics: EpochMetrics, model: LatentVariableModel) => void | Promise<void>;
}

export interface EpochMetrics {
  epoch: number;
  steps: number;
  seconds: number;
  lr: number;
  beta: number;
  num_tensors: number;
  [term: string]: number;
}

export class TrainingDivergedError extends Error {}

export interface TrainResult<M extends LatentVariableModel = LatentVariableModel> {
  /** The trained model (the one passed in, trained in place): the caller saves it (src/io/model.ts saveModel). */
  model: M;
  metrics: EpochMetrics[];
  state: TrainState;
  /** What a saved model records of its training (config.json's `training`), the run's objective settings in `objective`. */
  training: Record<string, unknown> & { objective: ObjectiveConfig };
}

export async function train<M extends LatentVariableModel>(
  model: M,
  data: Dataset,
  objective: Objective,
  opts: TrainOptions,
): Promise<TrainResult<M>> {
  const log = opts.log ?? ((l: string) => process.stderr.write(l + '\n'));
  const split = data.train;
  const D = rowSize(split);
  const perEpoch = stepsPerEpoch(split.n, opts.batchSize, false);
  const totalSteps = Math.min(opts.epochs * perEpoch, opts.maxSteps ?? Infinity);
  const lrSched = parseLrSchedule(opts.lrSchedule ?? 'constant', totalSteps);
  const optimizer = new Optimizer(opts.optimizer);
  const params = model.namedParameters();
  const vars = Object.values(params);
  const nameOf = new Map(Object.entries(params).map(([n, v]) => [v.name, n]));
  let freeBits = opts.freeBits ?? 0;
  const run: Record<string, unknown> = {
    dataset: data.name,
    protocol: data.protocol,
    n: split.n,
    batchSize: opts.batchSize,
    seed: opts.seed,
    optimizer: opts.optimizer.kind,
    model: model.config.kind,
    ...opts.run,
  };
  if (freeBits > 0) run.freeBits = freeBits;

  const ckptDir = opts.outDir ? path.join(opts.outDir, 'checkpoint') : null;
  const metricsFile = opts.outDir ? path.join(opts.outDir, 'metrics.jsonl') : null;
  let state: TrainState = {
    epoch: 0,
    epochStep: 0,
    step: 0,
    seed: opts.seed,
    rng: new Rng(opts.seed).getState(),
    optimizer: { config: opts.optimizer, t: 0 },
    run,
  };
  let history: EpochMetrics[] = [];
  let partial = { sums: {} as Record<string, number>, seconds: 0 };

  // --resume: the checkpoint is looked for (and a crashed swap's backup put back) before anything is created,
  // so resuming a run that is not there leaves nothing behind.
  if (opts.resume && (!ckptDir || !(await recoverCheckpoint(ckptDir))))
    throw new Error(`--resume: no checkpoint in ${ckptDir ?? '(no output directory)'}`);
  if (opts.outDir) ensureDirSync(opts.outDir);
  if (opts.resume && ckptDir) {
    state = await loadCheckpoint(ckptDir, model, optimizer);
    for (const k of ['dataset', 'protocol', 'n', 'batchSize', 'seed', 'model'] as const) {
      if (JSON.stringify(state.run[k]) !== JSON.stringify(run[k]))
        throw new Error(
          `--resume: the checkpoint in ${ckptDir} was made with ${k}=${JSON.stringify(state.run[k])}, this run has ${k}=${JSON.stringify(run[k])}`,
        );
    }
    history = ((state.run.history as EpochMetrics[] | undefined) ?? []).slice(0, state.epoch);
    partial = (state.run.partial as typeof partial | undefined) ?? partial;
    const saved = Number(state.run.freeBits ?? 0);
    if (opts.freeBits === undefined) freeBits = saved;
    else if (opts.freeBits !== saved)
      log(`--resume: free bits changed from ${saved} to ${opts.freeBits} nats per latent unit`);
    if (freeBits > 0) run.freeBits = freeBits;
    else delete run.freeBits;
    if (metricsFile) await writeFileAtomic(metricsFile, history.map((m) => JSON.stringify(m) + '\n').join(''));
    log(
      `resuming from ${ckptDir}: epoch ${state.epoch + 1}, step ${state.epochStep}/${perEpoch} of it (${state.step} steps done)` +
        (opts.freeBits === undefined && freeBits > 0
          ? `; free bits ${freeBits} nats per latent unit, as the run had`
          : ''),
    );
  } else if (metricsFile) {
    await writeFileAtomic(metricsFile, '');
  }
  const rng = Rng.fromState(state.rng);
  const stepObjective = withWordDropout(objective, opts.wordDropout ?? 0);
  // the whole step in one native call where the backend has it for this model and objective (fused-step.ts)
  const fused = fusedStepFor(model, stepObjective, optimizer, { freeBits });

  let checkpointed = opts.resume === true; // is there a good checkpoint in ckptDir to point a diverged run at
  const checkpoint = async () => {
    if (!ckptDir) return;
    state.rng = rng.getState();
    state.optimizer = { config: opts.optimizer, t: optimizer.t };
    state.run = { ...run, history, partial };
    await saveCheckpoint(ckptDir, model, optimizer, state, opts.dataInfo);
    checkpointed = true;
  };

  const progress = createProgress(opts.progress ?? 'auto');
  try {
    while (state.epoch < opts.epochs && state.step < totalSteps) {
      const epoch = state.epoch + 1;
      const epochSteps = Math.min(perEpoch, state.epochStep + (totalSteps - state.step));
      progress.startEpoch(epoch, opts.epochs, epochSteps, state.epochStep);
      let t0 = performance.now();
      let lr = opts.optimizer.lr;
      let beta = opts.beta;
      // the next batch is read (on worker threads where the source has them) while this one is computed
      for await (const batch of prefetchBatches(split, {
        batchSize: opts.batchSize,
        seed: opts.seed,
        epoch: state.epoch,
        startStep: state.epochStep,
        shuffle: true,
      })) {
        if (state.epochStep >= epochSteps) break;
        lr = lrAt(opts.optimizer.lr, lrSched, state.step);
        beta = betaAt(opts.beta, opts.klWarmup ?? 0, state.step);
        const fusedValues = fused?.(batch.x, batch.size, rng, beta, lr) ?? null; // updated the parameters if finite
        let names: string[] = FUSED_TERMS;
        let values: Float32Array = fusedValues ?? new Float32Array(0);
        let grads: tf.NamedTensorMap | null = null; // the tfjs path's, applied below
        if (!fusedValues) {
          const x = tf.tensor2d(batch.x, [batch.size, D]);
          const y = batch.y ? tf.tensor1d(batch.y, 'int32') : undefined;
          const g = tf.variableGrads(() => {
            const terms = stepObjective(model, x, { rng, beta, step: state.step, y, freeBits });
            names = Object.keys(terms);
            values = tf.stack(names.map((k) => tf.mean(terms[k]))).dataSync() as Float32Array;
            return tf.mean(terms.total) as tf.Scalar;
          }, vars);
          x.dispose();
          y?.dispose();
          g.value.dispose();
          grads = g.grads;
        }
        if (!values.every(Number.isFinite)) {
          if (grads) tf.dispose(grads);
          const terms = names.map((k, i) => `${k}=${values[i]}`).join(', ');
          throw new TrainingDivergedError(
            `training diverged: the loss became non-finite at epoch ${epoch}, step ${state.epochStep + 1} (${terms}); ` +
              (ckptDir && checkpointed
                ? `the last good checkpoint in ${ckptDir} is intact (resume with --resume, perhaps with a lower --lr)`
                : ckptDir
                  ? 'it diverged before its first checkpoint, so there is nothing to resume: start again with a lower --lr'
                  : 'try a lower --lr'),
          );
        }
        if (grads) {
          const byName: Record<string, tf.Tensor> = {};
          for (const [vn, g] of Object.entries(grads)) byName[nameOf.get(vn) ?? vn] = g;
          optimizer.step(params, byName, lr);
          tf.dispose(grads);
        }
        names.forEach((k, i) => (partial.sums[k] = (partial.sums[k] ?? 0) + values[i]));
        state.step += 1;
        state.epochStep += 1;
        progress.update(state.epochStep, Object.fromEntries(names.map((k, i) => [k, values[i]])));
        if (opts.checkpointEvery && state.epochStep % opts.checkpointEvery === 0 && state.epochStep < epochSteps) {
          partial.seconds += (performance.now() - t0) / 1000;
          await checkpoint();
          t0 = performance.now();
        }
      }
      const complete = state.epochStep >= perEpoch;
      const seconds = partial.seconds + (performance.now() - t0) / 1000;
      const m: EpochMetrics = { epoch, steps: state.epochStep, seconds, lr, beta, num_tensors: 0 };
      if (freeBits > 0) m.free_bits = freeBits;
      for (const [k, s] of Object.entries(partial.sums)) m[k === 'total' ? 'loss' : k] = s / state.epochStep;
      if (opts.evaluate) {
        const te = performance.now();
        for (const [k, v] of Object.entries(opts.evaluate(model, epoch))) m[`test_${k === 'total' ? 'loss' : k}`] = v;
        m.eval_seconds = (performance.now() - te) / 1000;
      }
      m.num_tensors = tf.memory().numTensors;
      if (complete) {
        history.push(m);
        state.epoch += 1;
        state.epochStep = 0;
        partial = { sums: {}, seconds: 0 };
      } else {
        m.partial = 1; // stopped by --steps inside the epoch; --resume finishes it
        partial.seconds = seconds;
      }
      if (metricsFile) appendFileChecked(metricsFile, JSON.stringify(m) + '\n');
      if (opts.onEpoch) await opts.onEpoch(m, model);
      progress.endEpoch(
        `epoch ${epoch}/${opts.epochs}${complete ? '' : ` (stopped at step ${state.epochStep}/${perEpoch})`}  ${epochFigures(m)}  ${seconds.toFixed(1)}s`,
      );
      await checkpoint();
      if (!complete) break;
    }
  } finally {
    progress.stop();
  }
  const training: TrainResult['training'] = {
    epochs: state.epoch,
    steps: state.step,
    seed: opts.seed,
    optimizer: opts.optimizer,
    batchSize: opts.batchSize,
    // β, its warm-up, free bits and word dropout: the run's objective settings, in one block
    objective: objectiveConfig({
      beta: opts.beta,
      klWarmup: opts.klWarmup,
      freeBits,
      wordDropout: opts.wordDropout,
    }),
    last: history[history.length - 1],
  };
  return { model, metrics: history, state, training };
}

/**
 * The figures of an epoch line: the training loss (β-weighted when β ≠ 1: rec + β·kl) with its rec and kl, and
 * the true test −ELBO = rec + KL whatever β weighted the loss; and where the objective reports them (the VQ-VAE),
 * the codebook's perplexity and usage, in training (batch means) and on the test split.
 */
export function epochFigures(m: EpochMetrics): string {
  const f = (v: number) => v.toFixed(2);
  const parts = [m.rec, m.kl].some((v) => v !== undefined)
    ? ` (${[m.rec !== undefined ? `rec ${f(m.rec)}` : '', m.kl !== undefined ? `kl ${f(m.kl)}` : ''].filter(Boolean).join(', ')})`
    : '';
  const weighted =
    m.kl !== undefined && m.beta !== undefined && m.beta !== 1 ? ` (β-weighted, β=${+m.beta.toFixed(4)})` : '';
  let s = `loss ${f(m.loss)}${weighted}${parts}`;
  const codes = (p: string) =>
    m[`${p}perplexity`] !== undefined
      ? `perplexity ${f(m[`${p}perplexity`])}, usage ${(100 * m[`${p}usage`]).toFixed(1)}%`
      : '';
  if (codes('')) s += `  codebook ${codes('')}`;
  const testElbo = m.test_rec !== undefined && m.test_kl !== undefined ? m.test_rec + m.test_kl : undefined;
  if (testElbo !== undefined && m.kl !== undefined) s += `  test −ELBO ${f(testElbo)}`;
  else if (m.test_loss !== undefined) s += `  test ${m.kl !== undefined ? '−ELBO' : 'loss'} ${f(m.test_loss)}`;
  if (m.test_mse !== undefined)
    s += `  test MSE ${m.test_mse.toFixed(5)}${m.test_psnr !== undefined ? `, PSNR ${f(m.test_psnr)} dB` : ''}`;
  if (codes('test_')) s += `  test codebook ${codes('test_')}`;
  return s;
}
