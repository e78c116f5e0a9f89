// Separated Attribute Predictability (Kumar et al. 2018), disentanglement_lib sap_score with its default
// sizes: 10,000 train / 5,000 test; per (latent, factor) the test accuracy of a 1-D linear SVM
// (src/stats/linear-svc.ts, sklearn LinearSVC(C = 0.01, class_weight = 'balanced')), or with
// continuousFactors the R² of the latent with the factor; SAP = mean over factors of the gap between the two
// best latents. A 1-D one-vs-rest linear SVM cannot single out a factor's middle values, so the discrete SAP
// of perfect codes is far below 1 (dSprites: 0.23; continuousFactors: ≈ 1).

import type { GroundTruthData } from '../../data/dsprites.js';
import { Rng } from '../../rng.js';
import { accuracy } from '../../stats/classifier.js';
import { fitLinearSvc1d } from '../../stats/linear-svc.js';
import {
  column,
  intColumn,
  mean,
  sampleFactorCodes,
  type FactorCodes,
  type MetricOptions,
  type Representation,
} from './common.js';

export const SAP_DEFAULTS = Object.freeze({ numTrain: 10000, numTest: 5000, continuousFactors: false });

export interface SapOptions extends MetricOptions {
  numTrain?: number;
  numTest?: number;
  /** Treat factors as continuous (R² of each latent with each factor) instead of classifying them. */
  continuousFactors?: boolean;
  /** LinearSVC C (default 0.01). */
  C?: number;
}

export interface SapScore {
  sap: number;
  /** Per-factor gap between the two best latents. */
  perFactor: number[];
  /** [d][numFactors] */
  scoreMatrix: number[][];
}

export function sapFromCodes(
  train: FactorCodes,
  test: FactorCodes,
  numFactors: number,
  opts: { continuousFactors?: boolean; C?: number } = {},
): SapScore {
  const d = train.d;
  if (d < 2) throw new Error(`SAP needs a representation of at least 2 dimensions, got ${d}`);
  const C = opts.C ?? 0.01;
  const scoreMatrix = Array.from({ length: d }, () => new Array<number>(numFactors).fill(0));
  for (let i = 0; i < d; i++) {
    const mu = column(train.codes, train.n, d, i);
    const muT = column(test.codes, test.n, d, i);
    for (let j = 0; j < numFactors; j++) {
      const y = intColumn(train.factors, train.n, numFactors, j);
      if (opts.continuousFactors) {
        scoreMatrix[i][j] = squaredCorrelation(mu, y);
      } else {
        const yt = intColumn(test.factors, test.n, numFactors, j);
        const svc = fitLinearSvc1d(mu, y, C);
        scoreMatrix[i][j] = accuracy(svc.predict(muT), yt);
      }
    }
  }
  const perFactor = Array.from({ length: numFactors }, (_, j) => {
    const col = scoreMatrix.map((r) => r[j]).sort((a, b) => b - a);
    return col[0] - col[1];
  });
  return { sap: mean(perFactor), perFactor, scoreMatrix };
}

function squaredCorrelation(x: Float64Array, y: ArrayLike<number>): number {
  const n = x.length;
  let mx = 0;
  let my = 0;
  for (let i = 0; i < n; i++) {
    mx += x[i];
    my += y[i];
  }
  mx /= n;
  my /= n;
  let sxx = 0;
  let syy = 0;
  let sxy = 0;
  for (let i = 0; i < n; i++) {
    const a = x[i] - mx;
    const b = y[i] - my;
    sxx += a * a;
    syy += b * b;
    sxy += a * b;
  }
  const varX = sxx / (n - 1);
  if (!(varX > 1e-12)) return 0;
  const cov = sxy / (n - 1);
  return (cov * cov) / (varX * (syy / (n - 1)));
}

/** Separated Attribute Predictability (disentanglement_lib sap_score). */
export async function sapScore(data: GroundTruthData, rep: Representation, opts: SapOptions = {}): Promise<SapScore> {
  const rng = new Rng(opts.seed ?? 0);
  const train = await sampleFactorCodes(data, rep, opts.numTrain ?? SAP_DEFAULTS.numTrain, rng, opts.chunk);
  const test = await sampleFactorCodes(data, rep, opts.numTest ?? SAP_DEFAULTS.numTest, rng, opts.chunk);
  return sapFromCodes(train, test, data.numFactors, {
    continuousFactors: opts.continuousFactors ?? SAP_DEFAULTS.continuousFactors,
    C: opts.C,
  });
}
