// BetaVAE score (Higgins et al. 2017), disentanglement_lib beta_vae_sklearn with its default sizes: batch
// 64, 10,000 train / 5,000 eval points. Each point: a factor k drawn uniformly, B pairs of observations that
// share factor k (all others drawn afresh), the point is mean_b |r(x1_b) − r(x2_b)| and its label k; a
// multinomial L2 logistic regression (C = 1, src/stats/logistic-regression.ts) is fitted to the train points
// and scored on the eval points. Chance level is 1 / numFactors. Draws from its own `new Rng(seed)`.

import type { GroundTruthData } from '../../data/dsprites.js';
import { Rng } from '../../rng.js';
import { checkCount } from '../../stats/check.js';
import { accuracy } from '../../stats/classifier.js';
import { fitLogisticRegression } from '../../stats/logistic-regression.js';
import { DEFAULT_CHUNK, Encoder, type MetricOptions, type Representation } from './common.js';

export const BETA_VAE_DEFAULTS = Object.freeze({ batchSize: 64, numTrain: 10000, numEval: 5000 });

export interface BetaVaeOptions extends MetricOptions {
  batchSize?: number;
  numTrain?: number;
  numEval?: number;
}

export interface BetaVaeScore {
  trainAccuracy: number;
  evalAccuracy: number;
}

async function betaVaeBatch(
  data: GroundTruthData,
  enc: Encoder,
  rng: Rng,
  B: number,
  num: number,
): Promise<{ points: Float64Array; labels: Int32Array; d: number }> {
  const F = data.numFactors;
  const labels = new Int32Array(num);
  let points: Float64Array | null = null;
  const per = Math.max(1, Math.floor(enc.chunk / (2 * B)));
  for (let p0 = 0; p0 < num; p0 += per) {
    const m = Math.min(per, num - p0);
    // m points × [factors1 (B rows), factors2 (B rows)]
    const all = new Int32Array(m * 2 * B * F);
    for (let k = 0; k < m; k++) {
      const index = rng.int(F);
      labels[p0 + k] = index;
      const f1 = data.sampleFactors(B, rng);
      const f2 = data.sampleFactors(B, rng);
      for (let b = 0; b < B; b++) f2[b * F + index] = f1[b * F + index];
      all.set(f1, k * 2 * B * F);
      all.set(f2, (k * 2 + 1) * B * F);
    }
    const z = await enc.codes(all);
    const d = enc.d;
    if (!points) points = new Float64Array(num * d);
    for (let k = 0; k < m; k++) {
      const row = (p0 + k) * d;
      const a = k * 2 * B * d;
      const c = (k * 2 + 1) * B * d;
      for (let b = 0; b < B; b++)
        for (let j = 0; j < d; j++) points[row + j] += Math.abs(z[a + b * d + j] - z[c + b * d + j]);
      for (let j = 0; j < d; j++) points[row + j] /= B;
    }
  }
  return { points: points!, labels, d: enc.d };
}

/** BetaVAE disentanglement score (disentanglement_lib beta_vae_sklearn). Chance level is 1 / numFactors. */
export async function betaVaeScore(
  data: GroundTruthData,
  rep: Representation,
  opts: BetaVaeOptions = {},
): Promise<BetaVaeScore> {
  const B = opts.batchSize ?? BETA_VAE_DEFAULTS.batchSize;
  const numTrain = opts.numTrain ?? BETA_VAE_DEFAULTS.numTrain;
  const numEval = opts.numEval ?? BETA_VAE_DEFAULTS.numEval;
  checkCount('betaVae batchSize', B);
  checkCount('betaVae numTrain', numTrain);
  checkCount('betaVae numEval', numEval);
  const rng = new Rng(opts.seed ?? 0);
  const enc = new Encoder(data, rep, opts.chunk ?? DEFAULT_CHUNK);
  const train = await betaVaeBatch(data, enc, rng, B, numTrain);
  const model = fitLogisticRegression(train.points, train.labels, train.d);
  const trainAccuracy = accuracy(model.predict(train.points), train.labels);
  const ev = await betaVaeBatch(data, enc, rng, B, numEval);
  const evalAccuracy = accuracy(model.predict(ev.points), ev.labels);
  return { trainAccuracy, evalAccuracy };
}
