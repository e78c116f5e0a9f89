// Disentanglement, Completeness, Informativeness (Eastwood & Williams 2018), disentanglement_lib dci with its
// default sizes: 10,000 train / 5,000 test; per factor a gradient boosted tree classifier
// (src/stats/gradient-boosting.ts, sklearn GradientBoostingClassifier defaults); the importance matrix
// R [codes × factors] = |feature importances| gives
//   D = Σ_i ρ_i (1 − H_K(R_i·)),  C = Σ_k ρ_k (1 − H_d(R_·k)),  ρ = the row / column share of ΣR;
// informativeness = mean train / test accuracy over factors.
// Cost: one tree per class per stage, 100 stages: 11,300 depth-3 trees over 10,000 codes on dSprites (about
// 70 s of CPU for 10 latents, measured on a busy 2-core machine).

import type { GroundTruthData } from '../../data/dsprites.js';
import { Rng } from '../../rng.js';
import { accuracy } from '../../stats/classifier.js';
import { fitGradientBoosting, type GbtOptions } from '../../stats/gradient-boosting.js';
import { entropyBase } from '../../stats/information.js';
import {
  intColumn,
  mean,
  sampleFactorCodes,
  type FactorCodes,
  type MetricOptions,
  type Representation,
} from './common.js';

export const DCI_DEFAULTS = Object.freeze({ numTrain: 10000, numTest: 5000 });

export interface DciOptions extends MetricOptions {
  numTrain?: number;
  numTest?: number;
  gbt?: GbtOptions;
}

export interface DciScore {
  disentanglement: number;
  completeness: number;
  /** Mean accuracy over factors of the per-factor classifiers on the training / test codes. */
  informativenessTrain: number;
  informativenessTest: number;
  /** |feature importance| [d][numFactors]. */
  importance: number[][];
  trainAccuracy: number[];
  testAccuracy: number[];
}

/** DCI disentanglement of an importance matrix [codes][factors]. */
export function dciDisentanglement(importance: number[][]): number {
  const d = importance.length;
  const F = importance[0]?.length ?? 0;
  if (F < 2) return 1; // one factor: every code is trivially dedicated to it
  const perCode = importance.map(
    (r) =>
      1 -
      entropyBase(
        r.map((v) => v + 1e-11),
        F,
      ),
  );
  let m = importance;
  let total = sum2(m);
  if (total === 0) {
    m = importance.map((r) => r.map(() => 1));
    total = d * F;
  }
  let s = 0;
  for (let i = 0; i < d; i++) s += perCode[i] * (m[i].reduce((a, b) => a + b, 0) / total);
  return s;
}

/** DCI completeness of an importance matrix [codes][factors]. */
export function dciCompleteness(importance: number[][]): number {
  const d = importance.length;
  const F = importance[0]?.length ?? 0;
  if (d < 2) return 1; // one code: every factor is captured by a single code
  const perFactor = Array.from(
    { length: F },
    (_, k) =>
      1 -
      entropyBase(
        importance.map((r) => r[k] + 1e-11),
        d,
      ),
  );
  let m = importance;
  let total = sum2(m);
  if (total === 0) {
    m = importance.map((r) => r.map(() => 1));
    total = d * F;
  }
  let s = 0;
  for (let k = 0; k < F; k++) {
    let c = 0;
    for (let i = 0; i < d; i++) c += m[i][k];
    s += perFactor[k] * (c / total);
  }
  return s;
}

function sum2(m: number[][]): number {
  let s = 0;
  for (const r of m) for (const v of r) s += v;
  return s;
}

/** DCI from sampled train / test codes. */
export function dciFromCodes(
  train: FactorCodes,
  test: FactorCodes,
  numFactors: number,
  gbt: GbtOptions = {},
): DciScore {
  const d = train.d;
  if (test.d !== d) throw new Error(`dci: train codes have ${d} dims, test codes ${test.d}`);
  const importance = Array.from({ length: d }, () => new Array<number>(numFactors).fill(0));
  const trainAccuracy: number[] = [];
  const testAccuracy: number[] = [];
  for (let k = 0; k < numFactors; k++) {
    const y = intColumn(train.factors, train.n, numFactors, k);
    const yt = intColumn(test.factors, test.n, numFactors, k);
    const model = fitGradientBoosting(train.codes, train.n, d, y, gbt);
    const imp = model.featureImportances;
    for (let i = 0; i < d; i++) importance[i][k] = Math.abs(imp[i]);
    trainAccuracy.push(accuracy(model.fittedPredictions, y));
    testAccuracy.push(accuracy(model.predict(test.codes, test.n), yt));
  }
  return {
    disentanglement: dciDisentanglement(importance),
    completeness: dciCompleteness(importance),
    informativenessTrain: mean(trainAccuracy),
    informativenessTest: mean(testAccuracy),
    importance,
    trainAccuracy,
    testAccuracy,
  };
}

/** Disentanglement, Completeness, Informativeness (disentanglement_lib dci, gradient boosted trees). */
export async function dciScore(data: GroundTruthData, rep: Representation, opts: DciOptions = {}): Promise<DciScore> {
  const rng = new Rng(opts.seed ?? 0);
  const train = await sampleFactorCodes(data, rep, opts.numTrain ?? DCI_DEFAULTS.numTrain, rng, opts.chunk);
  const test = await sampleFactorCodes(data, rep, opts.numTest ?? DCI_DEFAULTS.numTest, rng, opts.chunk);
  return dciFromCodes(train, test, data.numFactors, opts.gbt);
}
