// Latent health: which latent units the model uses, and a warning on posterior collapse.
//
//   active units (Burda, Grosse & Salakhutdinov 2016):  unit i is active when
//       A_i = Var_x( E_{q(z|x)}[z_i] ) = Var_x( μ_i(x) ) > 0.01
//   (population variance over the evaluated examples, in Float64)
//   KL per dimension: mean over the data of KL(q(z_i|x) ‖ N(0, 1)) = ½ (μ_i² + σ_i² − log σ_i² − 1)
//
// Collapse: 'collapsed' when no unit is active or the total KL is below 0.1 nats (the decoder ignores
// z); 'partial' when at most a tenth of the units (at least one) are active — few units carry
// information; otherwise 'healthy' (inactive units are still listed: that is common and fine).
import * as tf from '@tensorflow/tfjs-core';
import { rowRange, rowSize } from '../data/split.js';
import type { Split } from '../data/types.js';
import { gaussianPosterior, type LatentVariableModel } from '../models/types.js';
import { conditionalLabels } from './reconstruction.js';

export const ACTIVE_UNIT_THRESHOLD = 0.01;
/** Total KL (nats per example) below which the posterior is called collapsed. */
export const COLLAPSE_KL_NATS = 0.1;

export type LatentStatus = 'healthy' | 'partial' | 'collapsed';

export interface LatentHealth {
  n: number;
  latentDim: number;
  threshold: number;
  /** Number of active units. */
  activeUnits: number;
  /** Indices of the active units. */
  active: number[];
  /** Var_x(μ_i(x)) per unit. */
  activity: number[];
  /** Mean over the data of KL(q(z_i|x) ‖ N(0,1)) per unit, nats. */
  klPerDim: number[];
  /** Σ_i klPerDim_i: the mean KL term of the ELBO (β = 1), nats per example. */
  klTotal: number;
  status: LatentStatus;
  warnings: string[];
  seconds: number;
}

/** Population variance per column of an n × d row-major array, in Float64 (two passes). */
export function columnVariance(x: ArrayLike<number>, n: number, d: number): Float64Array {
  const mean = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j] += x[i * d + j];
  for (let j = 0; j < d; j++) mean[j] /= n;
  const v = new Float64Array(d);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < d; j++) {
      const t = x[i * d + j] - mean[j];
      v[j] += t * t;
    }
  for (let j = 0; j < d; j++) v[j] /= n;
  return v;
}

/** Status and warnings from activity and KL figures (exported for tests and other models). */
export function diagnoseCollapse(
  activeUnits: number,
  latentDim: number,
  klTotal: number,
): { status: LatentStatus; warnings: string[] } {
  const warnings: string[] = [];
  let status: LatentStatus = 'healthy';
  if (activeUnits === 0 || klTotal < COLLAPSE_KL_NATS) {
    status = 'collapsed';
    warnings.push(
      `POSTERIOR COLLAPSE: ${activeUnits} of ${latentDim} latent units are active and the KL term is ${klTotal.toFixed(3)} nats — ` +
        `q(z|x) ≈ p(z), the decoder ignores z (try KL warm-up (--kl-warmup), a smaller β, or a weaker decoder)`,
    );
  } else if (activeUnits <= Math.max(1, Math.floor(latentDim / 10))) {
    status = 'partial';
    warnings.push(
      `partial posterior collapse: only ${activeUnits} of ${latentDim} latent units are active (Var_x E[z_i|x] > ${ACTIVE_UNIT_THRESHOLD}); ` +
        `total KL ${klTotal.toFixed(2)} nats`,
    );
  }
  return { status, warnings };
}

/** Active units, KL per latent dimension and the collapse diagnosis over (the first `limit` examples of) a split. */
export function latentHealth(
  model: LatentVariableModel,
  split: Split,
  opts: { limit?: number; batchSize?: number; threshold?: number; y?: Int32Array } = {},
): LatentHealth {
  const t0 = performance.now();
  const n = Math.min(split.n, opts.limit ?? Infinity);
  if (n < 2) throw new Error('latent health: need at least 2 examples');
  const D = rowSize(split);
  const bs = opts.batchSize ?? 1000;
  const threshold = opts.threshold ?? ACTIVE_UNIT_THRESHOLD;
  const labels = opts.y ?? split.y;
  let mus: Float32Array | null = null;
  let dim = 0;
  let klSum: Float64Array | null = null;
  for (let s = 0; s < n; s += bs) {
    const e = Math.min(n, s + bs);
    const { mu, kl, d } = tf.tidy(() => {
      const x = tf.tensor2d(rowRange(split, s, e), [e - s, D]);
      const y = conditionalLabels(model, labels, s, e);
      const q = gaussianPosterior(model.encode(x, y), 'latent health');
      return {
        mu: q.mu.dataSync() as Float32Array,
        kl: q.klStdNormalPerDim().dataSync() as Float32Array,
        d: q.mu.shape[1],
      };
    });
    if (!mus) {
      dim = d;
      mus = new Float32Array(n * dim);
      klSum = new Float64Array(dim);
    }
    mus.set(mu, s * dim);
    for (let i = 0; i < e - s; i++) for (let j = 0; j < dim; j++) klSum![j] += kl[i * dim + j];
  }
  const activity = columnVariance(mus!, n, dim);
  const klPerDim = Array.from(klSum!, (v) => v / n);
  const active: number[] = [];
  activity.forEach((v, i) => v > threshold && active.push(i));
  const klTotal = klPerDim.reduce((a, b) => a + b, 0);
  const { status, warnings } = diagnoseCollapse(active.length, dim, klTotal);
  return {
    n,
    latentDim: dim,
    threshold,
    activeUnits: active.length,
    active,
    activity: Array.from(activity),
    klPerDim,
    klTotal,
    status,
    warnings,
    seconds: (performance.now() - t0) / 1000,
  };
}
