// What the explorer asks of a VQ-VAE, whose latent is a grid of M discrete codes (indices into a codebook of
// K vectors e_1 … e_K ∈ R^D) rather than a point z:
//
//   decodeCodes   x̂ = E[x | k] at given code grids k [n × M] (int32 indices, raster order over the h×w grid)
//   codeUsage     how often each code occurs in code grids, the codes used, and the perplexity exp(−Σ p_k log p_k)
//   codeVectors   the quantised latent z_q = (e_{k_1}, …, e_{k_M}) of each grid, flattened [n × M·D]: a
//                 continuous point per example, for the 2-D map (PCA of z_q)
// Browser-safe (no node:, no native backend).
import * as tf from '@tensorflow/tfjs-core';
import type { LatentVariableModel } from '../models/types.js';
import type { VQVAE } from '../models/vqvae.js';

function vq(model: LatentVariableModel, what: string): VQVAE {
  if (model.config.kind !== 'vqvae') throw new Error(`${what}: this ${model.config.kind} has no codes (a VQ-VAE has)`);
  return model as VQVAE;
}

function checkCodes(m: VQVAE, codes: ArrayLike<number>, n: number, what: string): void {
  const M = m.numCodes;
  if (!Number.isInteger(n) || n < 1 || codes.length !== n * M)
    throw new Error(`${what}: expected ${n} grids of ${M} codes (${n * M} indices), got ${codes.length}`);
  for (let i = 0; i < codes.length; i++)
    if (!Number.isInteger(codes[i]) || codes[i] < 0 || codes[i] >= m.K)
      throw new Error(`${what}: code ${codes[i]} at ${i} is not one of 0 … ${m.K - 1}`);
}

/** The decoder's mean at n code grids [n × M]. */
export function decodeCodes(model: LatentVariableModel, codes: ArrayLike<number>, n: number): Float32Array {
  const m = vq(model, 'decodeCodes');
  checkCodes(m, codes, n, 'decodeCodes');
  return tf.tidy(
    () =>
      m
        .decode(tf.tensor2d(Int32Array.from(codes), [n, m.numCodes], 'int32'))
        .mean()
        .dataSync() as Float32Array,
  );
}

/** Counts of each of K codes in `codes`, how many codes occur, and the perplexity of their frequencies. */
export function codeUsage(
  codes: ArrayLike<number>,
  K: number,
): { counts: Int32Array; used: number; perplexity: number } {
  const counts = new Int32Array(K);
  for (let i = 0; i < codes.length; i++) counts[codes[i]]++;
  let h = 0;
  for (const c of counts)
    if (c > 0) {
      const p = c / codes.length;
      h -= p * Math.log(p);
    }
  return { counts, used: counts.filter((c) => c > 0).length, perplexity: codes.length ? Math.exp(h) : 0 };
}

/** z_q of each grid, [n × M·D] (the codebook rows of its codes, in order). */
export function codeVectors(model: LatentVariableModel, codes: ArrayLike<number>, n: number): Float32Array {
  const m = vq(model, 'codeVectors');
  checkCodes(m, codes, n, 'codeVectors');
  const e = m.codebook.dataSync() as Float32Array;
  const D = m.D;
  const out = new Float32Array(codes.length * D);
  for (let i = 0; i < codes.length; i++) out.set(e.subarray(codes[i] * D, (codes[i] + 1) * D), i * D);
  return out;
}
