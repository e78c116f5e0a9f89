// Words in, words out: the uses of a words model (a categorical SeqVAE with a vocabulary) — reconstruction,
// sampling and interpolation of words, and the checks that name a word the model cannot take.
import * as tf from '@tensorflow/tfjs-core';
import { decodeWords, encodeWords, LOWERCASE } from '../data/words.js';
import type { PathMethod } from '../models/latent-path.js';
import { SeqVAE, type GenerateOptions } from '../models/seqvae.js';
import type { Rng } from '../rng.js';

function vocabularyOf(model: SeqVAE): string {
  const v = model.spec.vocabulary;
  if (model.spec.likelihood !== 'categorical' || v === undefined)
    throw new Error('this seqvae has no vocabulary (it is not a words model)');
  return v;
}

/** What is wrong with `word` as an input of this words model (undefined: nothing). */
export function wordProblem(model: SeqVAE, word: string): string | undefined {
  const vocabulary = vocabularyOf(model);
  const max = model.steps - 1; // one step holds the end token
  if (word.length === 0) return 'it is empty';
  const bad = [...new Set([...word].filter((c) => !vocabulary.includes(c)))];
  if (bad.length > 0)
    return `the character${bad.length > 1 ? 's' : ''} ${bad.map((c) => JSON.stringify(c)).join(', ')} ${bad.length > 1 ? 'are' : 'is'} not in the model's vocabulary (${vocabulary === LOWERCASE ? 'lowercase a–z' : JSON.stringify(vocabulary)})`;
  if (word.length > max) return `it has ${word.length} characters, and the model holds words of at most ${max}`;
  return undefined;
}

/** Throws one error naming every word this words model cannot take, and why. */
export function checkWords(model: SeqVAE, words: string[]): void {
  const problems = words.flatMap((w) => {
    const p = wordProblem(model, w);
    return p === undefined ? [] : [`${JSON.stringify(w)}: ${p}`];
  });
  if (problems.length > 0)
    throw new Error(
      `cannot encode ${problems.length > 1 ? `${problems.length} words` : 'the word'} ${problems.join('; ')}`,
    );
}

function encodeFor(model: SeqVAE, words: string[]): tf.Tensor2D {
  checkWords(model, words);
  return tf.tensor2d(encodeWords(words, model.steps, vocabularyOf(model)), [words.length, model.steps * model.width]);
}

/** Is this SeqVAE a words model (categorical, with a vocabulary to map tokens to characters)? */
export function isWordsModel(model: unknown): model is SeqVAE {
  return model instanceof SeqVAE && model.spec.likelihood === 'categorical' && model.spec.vocabulary !== undefined;
}

function wordsOf(model: SeqVAE, x: tf.Tensor2D): string[] {
  const out = decodeWords(x.dataSync(), model.steps, vocabularyOf(model));
  x.dispose();
  return out;
}

/** Greedy reconstructions decode(μ(x)) of words. */
export function reconstructWords(model: SeqVAE, words: string[], opts: GenerateOptions = {}): string[] {
  const x = encodeFor(model, words);
  const out = wordsOf(model, model.reconstruct(x, opts));
  x.dispose();
  return out;
}

/** New words from z ~ N(0, I) (scaled by zScale), greedy or sampled decoding. */
export function sampleWords(
  model: SeqVAE,
  n: number,
  rng: Rng,
  opts: GenerateOptions & { zScale?: number } = {},
): string[] {
  const z = tf.tidy(() => tf.mul(model.prior(n).sample(rng), opts.zScale ?? 1) as tf.Tensor2D);
  const out = wordsOf(model, model.generate(z, { rng, ...opts }));
  z.dispose();
  return out;
}

/** How many reconstructions equal their words, and that fraction. */
export function exactMatches(words: string[], reconstructions: string[]): { exact: number; rate: number } {
  if (words.length !== reconstructions.length)
    throw new Error(`exactMatches: ${words.length} words, ${reconstructions.length} reconstructions`);
  const exact = words.reduce((k, w, i) => k + (w === reconstructions[i] ? 1 : 0), 0);
  return { exact, rate: words.length ? exact / words.length : NaN };
}

/** The words along the path (linear or slerp) from μ(a) to μ(b), `steps` points with the ends. */
export function interpolateWords(
  model: SeqVAE,
  a: string,
  b: string,
  steps: number,
  opts: GenerateOptions & { method?: PathMethod } = {},
): string[] {
  const xa = encodeFor(model, [a]);
  const xb = encodeFor(model, [b]);
  const out = wordsOf(model, model.interpolate(xa, xb, steps, opts));
  xa.dispose();
  xb.dispose();
  return out;
}

/** The greedy words at n latent points z [n × latentDim]. */
export function wordsAt(model: SeqVAE, z: Float32Array, n: number, opts: GenerateOptions = {}): string[] {
  const d = model.config.latentDim;
  if (!Number.isInteger(n) || n < 1 || z.length !== n * d)
    throw new Error(`expected ${n} latent points of ${d} values (${n * d} numbers), got ${z.length}`);
  const zt = tf.tensor2d(z, [n, d]);
  const out = wordsOf(model, model.generate(zt, opts));
  zt.dispose();
  return out;
}

/** The posterior means μ(x) of words [words.length × latentDim]. */
export function wordMeans(model: SeqVAE, words: string[]): Float32Array {
  const x = encodeFor(model, words);
  const mu = tf.tidy(() => model.encode(x).mu.dataSync() as Float32Array);
  x.dispose();
  return mu;
}
