// Shared by the disentanglement metrics: a representation (observations → codes), a model's posterior mean
// as one, ground truth whose observations are its own factors, and encoding rendered factor rows in chunks.
//
// A representation is any function (x: Float32Array [n × D], n) → Float32Array [n × d] (sync or async):
// usually a model's posterior mean (representationFromModel), but it can be anything, including the ground
// truth itself. Observations are rendered and encoded in chunks of at most `chunk` rows (default 1024),
// which only groups work and changes no result.

import * as tf from '@tensorflow/tfjs-core';
import { gaussianPosterior, latentDimOf, type LatentVariableModel } from '../../models/types.js';
import type { Rng } from '../../rng.js';
import { sampleUniformFactors, type GroundTruthData } from '../../data/dsprites.js';
import { checkCount } from '../../stats/check.js';

export type { GroundTruthData } from '../../data/dsprites.js';

/** Observations [n × D] → codes [n × d]. */
export type Representation = (x: Float32Array, n: number) => Float32Array | Promise<Float32Array>;

export interface MetricOptions {
  /** Seed of the metric's own Rng (default 0). */
  seed?: number;
  /** Most observations per representation call (default 1024). */
  chunk?: number;
}

export const DEFAULT_CHUNK = 1024;

/** The posterior mean μ(x) of a model (all layers side by side for a hierarchical one), encoded in batches of `batchSize` (default 256). */
export function representationFromModel(model: LatentVariableModel, opts: { batchSize?: number } = {}): Representation {
  const bs = opts.batchSize ?? 256;
  if (model.numClasses !== undefined)
    throw new Error(
      'representationFromModel: a conditional model needs labels to encode; the metrics have none to give it',
    );
  const D = model.config.inputShape.reduce((a, b) => a * b, 1);
  const d = latentDimOf(model.config, 'representationFromModel');
  return (x, n) => {
    if (x.length !== n * D) throw new Error(`representation: ${n} observations need ${n * D} values, got ${x.length}`);
    const out = new Float32Array(n * d);
    for (let s = 0; s < n; s += bs) {
      const m = Math.min(bs, n - s);
      const mu = tf.tidy(() => {
        const q = model.encode(tf.tensor2d(x.subarray(s * D, (s + m) * D), [m, D]));
        return gaussianPosterior(q, 'representationFromModel').mu.dataSync();
      });
      out.set(mu, s * d);
    }
    return out;
  };
}

/**
 * Ground truth whose observations are the factor classes themselves (as floats, D = number of factors):
 * disentanglement_lib's IdentityObservationsData. With an identity (or permuted, rescaled) representation
 * it is the reference a metric's maximum is checked against.
 */
export function factorGroundTruth(factorSizes: readonly number[], factorNames?: readonly string[]): GroundTruthData {
  const sizes = [...factorSizes];
  for (const s of sizes)
    if (!Number.isInteger(s) || s < 1)
      throw new Error(`factorGroundTruth: factor sizes must be positive integers, got ${s}`);
  return {
    numFactors: sizes.length,
    factorSizes: sizes,
    factorNames,
    observationShape: [sizes.length],
    sampleFactors: (n, rng) => sampleUniformFactors(sizes, n, rng),
    render: (f) => Float32Array.from(f),
  };
}

export class Encoder {
  d = -1;
  private readonly D: number;
  constructor(
    private readonly data: GroundTruthData,
    private readonly rep: Representation,
    readonly chunk: number,
  ) {
    if (!Number.isInteger(chunk) || chunk < 1) throw new Error(`chunk must be a positive integer, got ${chunk}`);
    this.D = data.observationShape.reduce((a, b) => a * b, 1);
  }

  /** Codes [n × d] of factor rows [n × F], rendered and encoded in chunks. */
  async codes(factors: Int32Array): Promise<Float32Array> {
    const F = this.data.numFactors;
    const n = factors.length / F;
    let out: Float32Array | null = null;
    for (let s = 0; s < n; s += this.chunk) {
      const m = Math.min(this.chunk, n - s);
      const x = this.data.render(factors.subarray(s * F, (s + m) * F));
      if (x.length !== m * this.D)
        throw new Error(`ground truth render: ${m} observations should have ${m * this.D} values, got ${x.length}`);
      const z = await this.rep(x, m);
      if (!(z instanceof Float32Array) && !(ArrayBuffer.isView(z) && 'length' in z))
        throw new Error('representation must return a Float32Array');
      if (z.length === 0 || z.length % m !== 0)
        throw new Error(`representation returned ${z.length} values for ${m} observations`);
      const d = z.length / m;
      if (this.d < 0) this.d = d;
      else if (d !== this.d) throw new Error(`representation changed dimension: ${this.d} then ${d}`);
      for (let i = 0; i < z.length; i++)
        if (!Number.isFinite(z[i])) throw new Error(`representation returned a non-finite value (${z[i]})`);
      if (!out) out = new Float32Array(n * d);
      out.set(z, s * d);
    }
    return out ?? new Float32Array(0);
  }
}

export function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Factor-code samples (disentanglement_lib generate_batch_factor_code). */
export interface FactorCodes {
  /** Codes [n × d]. */
  codes: Float32Array;
  /** Factor classes [n × F]. */
  factors: Int32Array;
  n: number;
  d: number;
}

export async function sampleFactorCodes(
  data: GroundTruthData,
  rep: Representation,
  n: number,
  rng: Rng,
  chunk = DEFAULT_CHUNK,
): Promise<FactorCodes> {
  checkCount('number of points', n);
  const enc = new Encoder(data, rep, chunk);
  const factors = data.sampleFactors(n, rng);
  const codes = await enc.codes(factors);
  return { codes, factors, n, d: enc.d };
}

export function column(a: ArrayLike<number>, n: number, stride: number, j: number): Float64Array {
  const c = new Float64Array(n);
  for (let i = 0; i < n; i++) c[i] = a[i * stride + j];
  return c;
}

export function intColumn(a: Int32Array, n: number, stride: number, j: number): Int32Array {
  const c = new Int32Array(n);
  for (let i = 0; i < n; i++) c[i] = a[i * stride + j];
  return c;
}

export function mean(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i];
  return s / a.length;
}
