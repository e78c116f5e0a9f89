// How noisy are the encoder gradients of the ELBO under each estimator? On a trained model and one fixed
// batch, draw the minibatch gradient g_r = ∇φ loss(x; ε_r) R times (fresh ε each draw, same x and weights)
// and report, over the encoder's parameters φ (every parameter named encoder*):
//   mean variance    (1/P) Σ_p Var_r[g_r,p]                (the noise per parameter, averaged)
//   norm variance    Var_r[‖g_r‖],  and E_r‖g_r‖, ‖E_r g_r‖ (the signal)
//   bias z           RMS over p of (ḡ_p − ḡ_ref,p) / √(Var_p/R + Var_ref,p/R): ≈ 1 when both estimate the same gradient
//   ratio            mean variance / the reparameterization estimator's (same number of samples L)
// Estimators: the reparameterization trick (src/objectives/elbo.ts) and the score function
// (src/objectives/score-function.ts) without a baseline, with a moving average and with leave-one-out.
// Both share the analytic KL term, so the difference is all in the reconstruction term's gradient.
import * as tf from '@tensorflow/tfjs-core';
import type { LatentVariableModel } from '../models/types.js';
import { elbo } from '../objectives/elbo.js';
import { MovingAverageBaseline, scoreFunctionElbo, type Baseline } from '../objectives/score-function.js';
import { Rng } from '../rng.js';

export interface EstimatorSpec {
  /** Label in the report, e.g. 'score+loo (L=4)'. */
  name: string;
  estimator: 'reparam' | 'score';
  samples: number;
  baseline?: Baseline;
}

export const DEFAULT_ESTIMATORS: EstimatorSpec[] = [
  { name: 'reparam (L=1)', estimator: 'reparam', samples: 1 },
  { name: 'score (L=1)', estimator: 'score', samples: 1, baseline: 'none' },
  { name: 'score+avg (L=1)', estimator: 'score', samples: 1, baseline: 'moving-average' },
  { name: 'reparam (L=4)', estimator: 'reparam', samples: 4 },
  { name: 'score (L=4)', estimator: 'score', samples: 4, baseline: 'none' },
  { name: 'score+loo (L=4)', estimator: 'score', samples: 4, baseline: 'leave-one-out' },
];

export interface GradientVarianceOptions {
  /** Gradient draws per estimator (default 200). */
  draws?: number;
  seed?: number;
  beta?: number;
  estimators?: EstimatorSpec[];
  /** Parameters whose gradients are measured: names starting with this (default 'encoder'). */
  prefix?: string;
  /** Moving-average baseline: its decay and the draws that warm it up before measuring (default 0.9, 20). */
  decay?: number;
  warmup?: number;
  y?: tf.Tensor1D;
  onProgress?: (estimator: string, draw: number) => void;
}

export interface EstimatorStats {
  name: string;
  estimator: 'reparam' | 'score';
  samples: number;
  baseline: Baseline | null;
  draws: number;
  /** (1/P) Σ_p Var[g_p] */
  meanVariance: number;
  /** (1/P) Σ_p E[g_p]² (squared signal per parameter) */
  meanSquaredMean: number;
  /** E‖g‖, Var‖g‖, ‖E g‖ */
  normMean: number;
  normVariance: number;
  meanGradNorm: number;
  /** meanVariance / that of the reparameterization estimator with the same L (1 for itself; null without one). */
  varianceRatio: number | null;
  /** RMS z-score of this estimator's mean gradient against the reference's (≈ 1 when unbiased). */
  biasZ: number | null;
  /** The mean of the loss over the draws (the −ELBO estimate of the batch). */
  loss: number;
  seconds: number;
}

export interface GradientVarianceReport {
  batch: number;
  parameters: number;
  parameterNames: string[];
  draws: number;
  estimators: EstimatorStats[];
}

interface Accum {
  sum: Float64Array;
  sumSq: Float64Array;
  norms: number[];
  loss: number;
}

/** Measures the estimators on the batch x (held fixed) of a trained model. */
export function gradientVariance(
  model: LatentVariableModel,
  x: tf.Tensor2D,
  opts: GradientVarianceOptions = {},
): GradientVarianceReport {
  const draws = opts.draws ?? 200;
  const prefix = opts.prefix ?? 'encoder';
  const estimators = opts.estimators ?? DEFAULT_ESTIMATORS;
  const beta = opts.beta ?? 1;
  if (!(Number.isInteger(draws) && draws >= 2))
    throw new Error(`gradient variance: draws must be an integer ≥ 2, got ${draws}`);
  const named = Object.entries(model.namedParameters()).filter(([n]) => n.startsWith(prefix));
  if (named.length === 0) throw new Error(`gradient variance: the model has no parameters named ${prefix}*`);
  const vars = named.map(([, v]) => v);
  const sizes = vars.map((v) => v.size);
  const P = sizes.reduce((a, b) => a + b, 0);
  const rng = new Rng(opts.seed ?? 0);
  const accums: Accum[] = [];
  const stats: EstimatorStats[] = [];

  for (const spec of estimators) {
    const t0 = performance.now();
    const ma = spec.baseline === 'moving-average' ? new MovingAverageBaseline(opts.decay ?? 0.9) : undefined;
    const loss = () =>
      tf.mean(
        (spec.estimator === 'reparam'
          ? elbo(model, x, { beta, samples: spec.samples, rng, y: opts.y })
          : scoreFunctionElbo(model, x, {
              beta,
              samples: spec.samples,
              rng,
              y: opts.y,
              baseline: spec.baseline,
              movingAverage: ma,
            })
        ).total,
      ) as tf.Scalar;
    if (ma) for (let w = 0; w < (opts.warmup ?? 20); w++) tf.dispose(tf.tidy(loss)); // warm the average up
    const acc: Accum = { sum: new Float64Array(P), sumSq: new Float64Array(P), norms: [], loss: 0 };
    for (let r = 0; r < draws; r++) {
      const { value, grads } = tf.variableGrads(loss, vars);
      acc.loss += value.dataSync()[0];
      let off = 0;
      let sq = 0;
      for (const v of vars) {
        const g = grads[v.name];
        const gv = g ? g.dataSync() : new Float32Array(v.size);
        for (let i = 0; i < gv.length; i++) {
          acc.sum[off + i] += gv[i];
          acc.sumSq[off + i] += gv[i] * gv[i];
          sq += gv[i] * gv[i];
        }
        off += v.size;
      }
      acc.norms.push(Math.sqrt(sq));
      value.dispose();
      tf.dispose(grads);
      opts.onProgress?.(spec.name, r + 1);
    }
    accums.push(acc);
    let varSum = 0;
    let meanSq = 0;
    for (let p = 0; p < P; p++) {
      const m = acc.sum[p] / draws;
      varSum += Math.max(0, (acc.sumSq[p] - draws * m * m) / (draws - 1));
      meanSq += m * m;
    }
    const normMean = acc.norms.reduce((a, b) => a + b, 0) / draws;
    const normVariance = acc.norms.reduce((a, b) => a + (b - normMean) ** 2, 0) / (draws - 1);
    stats.push({
      name: spec.name,
      estimator: spec.estimator,
      samples: spec.samples,
      baseline: spec.estimator === 'score' ? (spec.baseline ?? 'none') : null,
      draws,
      meanVariance: varSum / P,
      meanSquaredMean: meanSq / P,
      normMean,
      normVariance,
      meanGradNorm: Math.sqrt(meanSq),
      varianceRatio: null,
      biasZ: null,
      loss: acc.loss / draws,
      seconds: (performance.now() - t0) / 1000,
    });
  }

  // ratios and bias checks against the reparameterization estimator with the same L
  stats.forEach((s, i) => {
    const j = stats.findIndex((r) => r.estimator === 'reparam' && r.samples === s.samples);
    if (j < 0) return;
    s.varianceRatio = s.meanVariance / stats[j].meanVariance;
    if (i === j) return;
    const a = accums[i];
    const b = accums[j];
    let z2 = 0;
    let counted = 0;
    for (let p = 0; p < P; p++) {
      const ma = a.sum[p] / draws;
      const mb = b.sum[p] / draws;
      const va = Math.max(0, (a.sumSq[p] - draws * ma * ma) / (draws - 1));
      const vb = Math.max(0, (b.sumSq[p] - draws * mb * mb) / (draws - 1));
      const se2 = va / draws + vb / draws;
      if (se2 > 0) {
        z2 += (ma - mb) ** 2 / se2;
        counted++;
      }
    }
    s.biasZ = counted ? Math.sqrt(z2 / counted) : null;
  });
  return { batch: x.shape[0], parameters: P, parameterNames: named.map(([n]) => n), draws, estimators: stats };
}

/** The report as a text table. */
export function formatGradientVariance(r: GradientVarianceReport): string {
  const e = (v: number | null, d = 3) => (v === null ? '—' : v.toExponential(d));
  const f = (v: number | null, d = 2) => (v === null ? '—' : v.toFixed(d));
  const rows = [['estimator', 'mean Var[g_p]', 'ratio', 'E‖g‖', 'Var‖g‖', '‖E g‖', 'bias z', '−ELBO', 's']];
  for (const s of r.estimators) {
    rows.push([
      s.name,
      e(s.meanVariance),
      s.varianceRatio === null ? '—' : s.varianceRatio < 100 ? f(s.varianceRatio) : s.varianceRatio.toFixed(0),
      e(s.normMean),
      e(s.normVariance),
      e(s.meanGradNorm),
      f(s.biasZ),
      f(s.loss),
      f(s.seconds, 1),
    ]);
  }
  const widths = rows[0].map((_, c) => Math.max(...rows.map((row) => row[c].length)));
  const lines = rows.map((row) =>
    row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  '),
  );
  return [
    `encoder gradient variance over ${r.draws} draws on one batch of ${r.batch} (${r.parameters} parameters; ratio: against reparam with the same L)`,
    ...lines,
  ].join('\n');
}
