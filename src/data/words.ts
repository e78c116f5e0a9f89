// Real English words for the character-level sequence VAE (Bowman et al., 2016), from the system word list
// /usr/share/dict/words (Debian package `wamerican`).
//
// Words: the lines that are lowercase a–z only, of length minLength … maxLength (default 2 … 12), without
// duplicates, in file order; a seeded split holds out a test fraction (default 0.1, seed 0).
// Encoding: T = maxLength + 1 steps of V = 27 one-hot tokens, token 0 the end/pad token and tokens 1 … 26 the
// letters a … z. A word of n letters is its letters, then the end token at step n, then the end token again
// as padding to step T − 1 (the likelihood scores steps up to the first end token only). Rows are flat
// [T·V], step-major, like every vaekit data set.
// This file is the pure tokenizer (browser-safe); reading the word list from disk is src/data/word-list.ts.
import type { Dataset } from './types.js';

export const DICT_PATH = '/usr/share/dict/words';
/** The Debian package that provides DICT_PATH. */
export const DICT_PACKAGE = 'wamerican';
export const LOWERCASE = 'abcdefghijklmnopqrstuvwxyz';
/** Token 0 ends (and pads) every word; token k ≥ 1 is vocabulary[k − 1]. */
export const END_TOKEN = 0;
export const END_SYMBOL = '.';
export const DEFAULT_MIN_LENGTH = 2;
export const DEFAULT_MAX_LENGTH = 12;

export interface WordsOptions {
  /** The word list, one word a line (default /usr/share/dict/words). */
  path?: string;
  minLength?: number;
  maxLength?: number;
  /** Held-out fraction (default 0.1). */
  testFraction?: number;
  /** Seed of the train/test split (default 0). */
  seed?: number;
  /** Quick runs: the first N training words and the first ceil(N/6) test words. */
  limit?: number;
}

/** A words data set: the one-hot splits plus the words themselves and the vocabulary to decode them. */
export interface WordsDataset extends Dataset {
  /** The characters of tokens 1 … V−1. */
  vocabulary: string;
  maxLength: number;
  words: { train: string[]; test: string[] };
}

/** The lowercase a–z words of length min … max among `lines`, deduplicated, in order. */
export function filterWords(
  lines: Iterable<string>,
  minLength = DEFAULT_MIN_LENGTH,
  maxLength = DEFAULT_MAX_LENGTH,
): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const raw of lines) {
    const w = raw.trim();
    if (w.length < minLength || w.length > maxLength || !/^[a-z]+$/.test(w) || seen.has(w)) continue;
    seen.add(w);
    out.push(w);
  }
  return out;
}

/** One-hot rows [n, T·V] for words of at most T − 1 letters of `vocabulary` (V = vocabulary.length + 1). */
export function encodeWords(words: string[], steps: number, vocabulary = LOWERCASE): Float32Array {
  const V = vocabulary.length + 1;
  const index = new Map([...vocabulary].map((c, i) => [c, i + 1]));
  const out = new Float32Array(words.length * steps * V);
  words.forEach((w, i) => {
    if (w.length > steps - 1)
      throw new Error(
        `encodeWords: "${w}" has ${w.length} letters, more than the ${steps - 1} that ${steps} steps hold (one is the end token)`,
      );
    const row = i * steps * V;
    for (let t = 0; t < steps; t++) {
      const tok = t < w.length ? index.get(w[t]) : END_TOKEN;
      if (tok === undefined)
        throw new Error(`encodeWords: "${w}" has the character "${w[t]}", not in the vocabulary "${vocabulary}"`);
      out[row + t * V + tok] = 1;
    }
  });
  return out;
}

/** Token indices [n·T] (argmax per step) of flat rows [n, T·V]. */
export function tokensOf(x: ArrayLike<number>, steps: number, V: number): Int32Array {
  const n = x.length / (steps * V);
  if (!Number.isInteger(n)) throw new Error(`tokensOf: ${x.length} values are not rows of ${steps}×${V}`);
  const out = new Int32Array(n * steps);
  for (let r = 0; r < n * steps; r++) {
    let best = 0;
    for (let v = 1; v < V; v++) if (x[r * V + v] > x[r * V + best]) best = v;
    out[r] = best;
  }
  return out;
}

/** Words of flat rows [n, T·V] (one-hot or probabilities: argmax per step), read up to the first end token. */
export function decodeWords(x: ArrayLike<number>, steps: number, vocabulary = LOWERCASE): string[] {
  const V = vocabulary.length + 1;
  const tokens = tokensOf(x, steps, V);
  const out: string[] = [];
  for (let i = 0; i < tokens.length / steps; i++) {
    let w = '';
    for (let t = 0; t < steps; t++) {
      const k = tokens[i * steps + t];
      if (k === END_TOKEN) break;
      w += vocabulary[k - 1];
    }
    out.push(w);
  }
  return out;
}
