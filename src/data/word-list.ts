// The words data set from a word list on disk (default /usr/share/dict/words, Debian package `wamerican`):
// read, filtered and split here; the tokenizer itself is src/data/words.ts (pure, browser-safe).
import { readFileSync } from 'node:fs';
import { Rng } from '../rng.js';
import {
  DEFAULT_MAX_LENGTH,
  DEFAULT_MIN_LENGTH,
  DICT_PACKAGE,
  DICT_PATH,
  encodeWords,
  filterWords,
  LOWERCASE,
  type WordsDataset,
  type WordsOptions,
} from './words.js';

/** Reads and filters a word list; a missing file names the Debian package that provides it. */
export function readWordList(
  path = DICT_PATH,
  minLength = DEFAULT_MIN_LENGTH,
  maxLength = DEFAULT_MAX_LENGTH,
): string[] {
  if (!(Number.isInteger(minLength) && minLength >= 1 && Number.isInteger(maxLength) && maxLength >= minLength))
    throw new Error(`words: need 1 ≤ minLength ≤ maxLength (integers), got ${minLength} … ${maxLength}`);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const hint =
      path === DICT_PATH
        ? ` (install the Debian package ${DICT_PACKAGE}: apt-get install ${DICT_PACKAGE}, or give a word list of your own)`
        : '';
    throw new Error(
      `words: cannot read the word list ${path}: ${code === 'ENOENT' ? 'no such file' : (e as Error).message}${hint}`,
      { cause: e },
    );
  }
  const words = filterWords(text.split('\n'), minLength, maxLength);
  if (words.length === 0)
    throw new Error(`words: ${path} has no lowercase a–z words of length ${minLength} … ${maxLength}`);
  return words;
}

/** The words data set: a seeded train/test split of the word list, one-hot encoded. */
export function loadWords(opts: WordsOptions = {}): WordsDataset {
  const path = opts.path ?? DICT_PATH;
  const minLength = opts.minLength ?? DEFAULT_MIN_LENGTH;
  const maxLength = opts.maxLength ?? DEFAULT_MAX_LENGTH;
  const frac = opts.testFraction ?? 0.1;
  const seed = opts.seed ?? 0;
  if (!(frac > 0 && frac < 1)) throw new Error(`words: testFraction must be in (0, 1), got ${frac}`);
  if (!Number.isSafeInteger(seed)) throw new Error(`words: seed must be an integer, got ${seed}`);
  if (opts.limit !== undefined && !(Number.isInteger(opts.limit) && opts.limit > 0))
    throw new Error(`words: limit must be a positive integer, got ${opts.limit}`);
  const all = readWordList(path, minLength, maxLength);
  if (all.length < 2)
    throw new Error(`words: ${path} has ${all.length} usable word; need at least 2 for a train/test split`);
  const nTest = Math.min(all.length - 1, Math.max(1, Math.round(all.length * frac)));
  const perm = new Rng(seed).permutation(all.length);
  let train = Array.from(perm.subarray(0, all.length - nTest), (i) => all[i]);
  let test = Array.from(perm.subarray(all.length - nTest), (i) => all[i]);
  if (opts.limit !== undefined) {
    train = train.slice(0, opts.limit);
    test = test.slice(0, Math.ceil(opts.limit / 6));
  }
  const steps = maxLength + 1;
  const shape = [steps, LOWERCASE.length + 1];
  return {
    name: path === DICT_PATH ? 'words' : `words:${path}`,
    train: { x: encodeWords(train, steps), n: train.length, shape },
    test: { x: encodeWords(test, steps), n: test.length, shape },
    shape,
    protocol: 'onehot',
    source: path,
    splitSeed: seed,
    vocabulary: LOWERCASE,
    maxLength,
    words: { train, test },
  };
}
