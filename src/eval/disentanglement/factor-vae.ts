// FactorVAE score (Kim & Mnih 2018), disentanglement_lib factor_vae_score with its default sizes: 10,000
// points for the global variances (ddof 1), dimensions with std < 0.05 pruned; batch 64, 10,000 train /
// 5,000 eval votes. Each vote: a factor k fixed across a batch, the active dimension of least variance
// normalised by its global variance votes for k; a majority-vote classifier (each dimension predicts the
// factor that voted for it most) is scored on the train and eval votes. Chance level is about 1 / numFactors.
// Library quirk not copied: num_active_dims reports the count of active dimensions (the library reports the
// mask's length).

import type { GroundTruthData } from '../../data/dsprites.js';
import { Rng } from '../../rng.js';
import { checkCount } from '../../stats/check.js';
import { DEFAULT_CHUNK, Encoder, stripUndefined, type MetricOptions, type Representation } from './common.js';

export const FACTOR_VAE_DEFAULTS = Object.freeze({
  batchSize: 64,
  numTrain: 10000,
  numEval: 5000,
  numVarianceEstimate: 10000,
  pruneThreshold: 0.05,
});

export interface FactorVaeOptions extends MetricOptions {
  batchSize?: number;
  numTrain?: number;
  numEval?: number;
  numVarianceEstimate?: number;
  /** Dimensions whose standard deviation over the data is below this are pruned (default 0.05). */
  pruneThreshold?: number;
}

export interface FactorVaeScore {
  trainAccuracy: number;
  evalAccuracy: number;
  numActiveDims: number;
  /** Training votes [numFactors][d] (columns of pruned dims are zero). */
  votes: number[][];
}

/** Variance with ddof = 1 of each column of z [n × d]. */
function columnVariances(z: Float32Array, n: number, d: number, out = new Float64Array(d)): Float64Array {
  const mean = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j] += z[i * d + j];
  for (let j = 0; j < d; j++) mean[j] /= n;
  out.fill(0);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) {
      const t = z[i * d + j] - mean[j];
      out[j] += t * t;
    }
  }
  for (let j = 0; j < d; j++) out[j] = n > 1 ? out[j] / (n - 1) : NaN;
  return out;
}

async function factorVaeVotes(
  data: GroundTruthData,
  enc: Encoder,
  rng: Rng,
  B: number,
  num: number,
  globalVar: Float64Array,
  active: number[],
): Promise<number[][]> {
  const F = data.numFactors;
  const d = globalVar.length;
  const votes = Array.from({ length: F }, () => new Array<number>(d).fill(0));
  const per = Math.max(1, Math.floor(enc.chunk / B));
  const local = new Float64Array(d);
  for (let p0 = 0; p0 < num; p0 += per) {
    const m = Math.min(per, num - p0);
    const all = new Int32Array(m * B * F);
    const idx = new Int32Array(m);
    for (let k = 0; k < m; k++) {
      const index = rng.int(F);
      idx[k] = index;
      const f = data.sampleFactors(B, rng);
      for (let b = 1; b < B; b++) f[b * F + index] = f[index];
      all.set(f, k * B * F);
    }
    const z = await enc.codes(all);
    for (let k = 0; k < m; k++) {
      columnVariances(z.subarray(k * B * d, (k + 1) * B * d), B, d, local);
      let best = -1;
      let bestV = Infinity;
      for (const j of active) {
        const v = local[j] / globalVar[j];
        if (v < bestV || best < 0) {
          bestV = v;
          best = j;
        }
      }
      votes[idx[k]][best]++;
    }
  }
  return votes;
}

/** FactorVAE disentanglement score (disentanglement_lib factor_vae_score). Chance level is about 1 / numFactors. */
export async function factorVaeScore(
  data: GroundTruthData,
  rep: Representation,
  opts: FactorVaeOptions = {},
): Promise<FactorVaeScore> {
  const o = { ...FACTOR_VAE_DEFAULTS, ...stripUndefined(opts) };
  checkCount('factorVae batchSize', o.batchSize, 2);
  checkCount('factorVae numTrain', o.numTrain);
  checkCount('factorVae numEval', o.numEval);
  checkCount('factorVae numVarianceEstimate', o.numVarianceEstimate, 2);
  const rng = new Rng(opts.seed ?? 0);
  const enc = new Encoder(data, rep, opts.chunk ?? DEFAULT_CHUNK);
  const zVar = await enc.codes(data.sampleFactors(o.numVarianceEstimate, rng));
  const d = enc.d;
  const globalVar = columnVariances(zVar, o.numVarianceEstimate, d);
  const active: number[] = [];
  for (let j = 0; j < d; j++) if (Math.sqrt(globalVar[j]) >= o.pruneThreshold) active.push(j);
  const F = data.numFactors;
  if (active.length === 0) {
    return {
      trainAccuracy: 0,
      evalAccuracy: 0,
      numActiveDims: 0,
      votes: Array.from({ length: F }, () => new Array<number>(d).fill(0)),
    };
  }
  const votes = await factorVaeVotes(data, enc, rng, o.batchSize, o.numTrain, globalVar, active);
  // Majority vote: each dimension predicts the factor that voted for it most (ties: lowest factor).
  const classifier = new Int32Array(d);
  for (let j = 0; j < d; j++) {
    let b = 0;
    for (let k = 1; k < F; k++) if (votes[k][j] > votes[b][j]) b = k;
    classifier[j] = b;
  }
  const acc = (v: number[][]) => {
    let ok = 0;
    let tot = 0;
    for (let j = 0; j < d; j++)
      for (let k = 0; k < F; k++) {
        tot += v[k][j];
        if (classifier[j] === k) ok += v[k][j];
      }
    return ok / tot;
  };
  const trainAccuracy = acc(votes);
  const evalVotes = await factorVaeVotes(data, enc, rng, o.batchSize, o.numEval, globalVar, active);
  return { trainAccuracy, evalAccuracy: acc(evalVotes), numActiveDims: active.length, votes };
}
