// The words SeqVAE fixture (test/fixtures/words-seqvae, trained with free bits and word dropout) uses its latent
// code, so the explorer's word neighbours mean something: on 500 held-out test words its KL is far above a
// collapsed model's, most units carry information, greedy reconstructions keep the word's first letter, and a
// word's nearest test words in latent space share more of its letters and of its prefix than random test
// words do. The collapsed fixture of models-v1 fails the same checks (they can fail).
import assert from 'node:assert/strict';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { loadWords } from '../src/data/word-list.js';
import { encodeWords } from '../src/data/words.js';
import { loadModel } from '../src/io/model.js';
import type { SeqVAE } from '../src/models/seqvae.js';
import { klPerUnit, nearestRows } from '../src/tasks/explore.js';
import { reconstructWords } from '../src/tasks/words.js';
import { setupBackend } from './helpers.js';
import { root } from './serve-helpers.js';

const FIXTURE = path.join(root, 'test', 'fixtures', 'words-seqvae');
const COLLAPSED = path.join(root, 'test', 'fixtures', 'models-v1', 'seqvae');
const N = 500;
const QUERIES = 200;
const K = 5;

const prefix = (a: string, b: string) => {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
};
/** Letters in common (as multisets) over the longer word's length. */
const shared = (a: string, b: string) => {
  const count = new Map<string, number>();
  for (const c of a) count.set(c, (count.get(c) ?? 0) + 1);
  let s = 0;
  for (const c of b)
    if (count.get(c)) {
      count.set(c, count.get(c)! - 1);
      s++;
    }
  return s / Math.max(a.length, b.length);
};

interface Figures {
  kl: number;
  active: number;
  latent: number;
  firstLetter: number;
  near: { prefix: number; shared: number };
  random: { prefix: number; shared: number };
}

async function figures(dir: string, words: string[]): Promise<Figures> {
  const { model } = await loadModel(dir);
  const m = model as SeqVAE;
  try {
    const d = m.config.latentDim;
    const x = tf.tensor2d(encodeWords(words, m.steps), [words.length, m.steps * m.width]);
    const q = m.encode(x);
    const mu = q.mu.dataSync() as Float32Array;
    const kl = klPerUnit(mu, q.logVar.dataSync(), words.length, d);
    tf.dispose([x, q.mu, q.logVar]);
    const rec = reconstructWords(m, words);
    const near = { prefix: 0, shared: 0 };
    const random = { prefix: 0, shared: 0 };
    for (let i = 0; i < QUERIES; i++) {
      for (const j of nearestRows(mu, words.length, d, mu.subarray(i * d, (i + 1) * d), K, i).index) {
        near.prefix += prefix(words[i], words[j]) / (QUERIES * K);
        near.shared += shared(words[i], words[j]) / (QUERIES * K);
      }
      for (let j = 0; j < words.length; j++)
        if (j !== i) {
          random.prefix += prefix(words[i], words[j]) / (QUERIES * (words.length - 1));
          random.shared += shared(words[i], words[j]) / (QUERIES * (words.length - 1));
        }
    }
    return {
      kl: kl.reduce((a, b) => a + b, 0),
      active: kl.filter((v) => v > 0.1).length,
      latent: d,
      firstLetter: words.filter((w, i) => rec[i][0] === w[0]).length / words.length,
      near,
      random,
    };
  } finally {
    model.dispose();
  }
}

/** The checks, each as [what, passed]. */
const checks = (f: Figures): [string, boolean][] => [
  [`KL ${f.kl.toFixed(2)} nats ≥ 2`, f.kl >= 2],
  [`${f.active} of ${f.latent} units with KL > 0.1 (half at least)`, 2 * f.active >= f.latent],
  [`first letter kept in ${(100 * f.firstLetter).toFixed(0)}% of reconstructions (≥ 40%)`, f.firstLetter >= 0.4],
  [
    `neighbours share ${f.near.shared.toFixed(3)} of the letters, random words ${f.random.shared.toFixed(3)} (+0.08)`,
    f.near.shared >= f.random.shared + 0.08,
  ],
  [
    `neighbours' common prefix ${f.near.prefix.toFixed(2)}, random words' ${f.random.prefix.toFixed(2)} (×4)`,
    f.near.prefix >= 4 * f.random.prefix,
  ],
];

describe('the words SeqVAE fixture', () => {
  let words: string[];
  before(async () => {
    await setupBackend();
    words = loadWords().words.test.slice(0, N); // held out: the fixture trained on the first 6,000 training words
  });

  it('uses its latent code: KL far above collapse, and its latent neighbours are like the word', async () => {
    const f = await figures(FIXTURE, words);
    for (const [what, ok] of checks(f)) assert.ok(ok, what);
  });

  it('the collapsed models-v1 fixture fails those checks', async () => {
    const f = await figures(COLLAPSED, words);
    const failed = checks(f)
      .filter(([, ok]) => !ok)
      .map(([what]) => what);
    assert.ok(f.kl < 0.5, `collapsed: KL ${f.kl}`);
    assert.ok(failed.length >= 3, `the collapsed model fails only ${failed.join('; ')}`);
  });

  it('was trained with free bits and word dropout (its config records them)', async () => {
    const { model, meta } = await loadModel(FIXTURE);
    model.dispose();
    const o = meta.training?.objective as { freeBits: number; wordDropout: number };
    assert.ok(o.freeBits > 0 && o.wordDropout > 0, JSON.stringify(o));
  });
});
