// Mutual Information Gap (Chen et al. 2018), disentanglement_lib mig / discrete_mig: 10,000 points; each
// latent discretised by a 20-bin equal-width histogram (numpy.histogram + digitize), its discrete mutual
// information with each factor; per factor (top MI − second MI) / H(factor), averaged over factors.
//   MIG = (1/K) Σ_k (I(z_{j⁽¹⁾}; v_k) − I(z_{j⁽²⁾}; v_k)) / H(v_k)

import type { GroundTruthData } from '../../data/dsprites.js';
import { Rng } from '../../rng.js';
import { discreteMutualInfo, histogramDiscretize } from '../../stats/information.js';
import {
  column,
  intColumn,
  mean,
  sampleFactorCodes,
  type FactorCodes,
  type MetricOptions,
  type Representation,
} from './common.js';

export const MIG_DEFAULTS = Object.freeze({ numTrain: 10000, numBins: 20 });

export interface MigOptions extends MetricOptions {
  numTrain?: number;
  /** Equal-width histogram bins per latent (default 20). */
  numBins?: number;
}

export interface MigScore {
  mig: number;
  /** (top − second MI) / H(factor), per factor. */
  perFactor: number[];
  /** Mutual information in nats, [d][numFactors]. */
  mutualInfo: number[][];
  /** Factor entropies in nats. */
  entropy: number[];
}

/** MIG from codes and factors (already sampled). */
export function migFromCodes(s: FactorCodes, numFactors: number, numBins: number = MIG_DEFAULTS.numBins): MigScore {
  const { n, d } = s;
  if (d < 2) throw new Error(`MIG needs a representation of at least 2 dimensions, got ${d}`);
  const disc = Array.from({ length: d }, (_, j) => histogramDiscretize(column(s.codes, n, d, j), numBins, true));
  const ys = Array.from({ length: numFactors }, (_, k) => intColumn(s.factors, n, numFactors, k));
  const mutualInfo = disc.map((z) => ys.map((y) => discreteMutualInfo(y, z)));
  const entropy = ys.map((y) => discreteMutualInfo(y, y));
  const perFactor = ys.map((_, k) => {
    const col = mutualInfo.map((r) => r[k]).sort((a, b) => b - a);
    return (col[0] - col[1]) / entropy[k];
  });
  return { mig: mean(perFactor), perFactor, mutualInfo, entropy };
}

/** Mutual Information Gap (disentanglement_lib mig, discrete_mig). */
export async function migScore(data: GroundTruthData, rep: Representation, opts: MigOptions = {}): Promise<MigScore> {
  const numTrain = opts.numTrain ?? MIG_DEFAULTS.numTrain;
  const s = await sampleFactorCodes(data, rep, numTrain, new Rng(opts.seed ?? 0), opts.chunk);
  return migFromCodes(s, data.numFactors, opts.numBins ?? MIG_DEFAULTS.numBins);
}
