// The sequence VAE (src/models/seqvae.ts) and its parts: the per-step categorical with end-token masking
// (src/distributions/categorical.ts), the words loader (src/data/words.ts), numeric series
// (src/data/timeseries.ts); save → load gives the same model; it learns real words; greedy/sampled
// decoding, reconstruction and interpolation; word dropout.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { decodeWords, DICT_PATH, encodeWords, filterWords, tokensOf, type WordsDataset } from '../src/data/words.js';
import { loadWords, readWordList } from '../src/data/word-list.js';
import { loadTimeSeries } from '../src/data/timeseries.js';
import { invertNormalizer } from '../src/data/csv.js';
import { allRows } from '../src/data/split.js';
import { Categorical } from '../src/distributions/categorical.js';
import { loadParametersFromSafetensors, modelFiles, parametersToSafetensors } from '../src/models/files.js';
import { SeqVAE, seqVaeConfigFor } from '../src/models/seqvae.js';
import { type SeqVaeConfig } from '../src/models/configs.js';
import { withWordDropout } from '../src/objectives/word-dropout.js';
import { interpolateWords, reconstructWords, sampleWords } from '../src/tasks/words.js';
import { createModel, type ModelConfig } from '../src/models/index.js';
import { elbo } from '../src/objectives/elbo.js';
import { Rng } from '../src/rng.js';
import { train, type Objective } from '../src/train/trainer.js';
import { maxAbsDiff, setupBackend } from './helpers.js';

const HAVE_DICT = existsSync(DICT_PATH);
const LIST = [
  'cat',
  'dog',
  'a',
  'Bird',
  "it's",
  'horse',
  'cat',
  'tree',
  'sun',
  'moon',
  'star',
  'zebra',
  'extraordinary',
  'fish',
];

function wordsCfg(o: Partial<SeqVaeConfig> = {}): SeqVaeConfig {
  return {
    kind: 'seqvae',
    inputShape: [6, 27],
    latentDim: 3,
    likelihood: 'categorical',
    vocabulary: 'abcdefghijklmnopqrstuvwxyz',
    network: { type: 'rnn', cell: 'gru', hidden: 8, embedding: 4, bidirectional: true },
    ...o,
  };
}

const elboObjective: Objective = (m, x, ctx) => elbo(m, x, { beta: ctx.beta, rng: ctx.rng });

describe('sequence VAE', () => {
  const dirs: string[] = [];
  const tmp = () => {
    const d = mkdtempSync(path.join(tmpdir(), 'vaekit-seqvae-'));
    dirs.push(d);
    return d;
  };
  before(setupBackend);
  after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  it('categorical: log p(x) by hand, with the steps after the first end token masked', () => {
    const V = 3;
    const logits = [
      [1, 2, 0.5, -1, 0, 3, 0.2, 0.2, 0.2, 5, -5, 0],
      [0, 0, 0, 2, 1, 0, -3, 4, 1, 0.5, 0.5, 0.5],
    ];
    // example 0: tokens 1, 0 (end), 2, 0 → steps 0 and 1 count; example 1: 2, 1, 1, 0 → all four count
    const tokens = [
      [1, 0, 2, 0],
      [2, 1, 1, 0],
    ];
    const x = tokens.map((row) => row.flatMap((k) => [0, 1, 2].map((v) => (v === k ? 1 : 0))));
    const logSoftmax = (l: number[], k: number) => l[k] - Math.log(l.reduce((s, v) => s + Math.exp(v), 0));
    const hand = (i: number, masked: boolean) => {
      let s = 0;
      for (let t = 0; t < 4; t++) {
        s += logSoftmax(logits[i].slice(t * V, t * V + V), tokens[i][t]);
        if (masked && tokens[i][t] === 0) break;
      }
      return s;
    };
    const lt = tf.tensor2d(logits);
    const xt = tf.tensor2d(x);
    const masked = new Categorical(lt, V, 0);
    assert.deepEqual(Array.from(masked.mask(xt).dataSync()), [1, 1, 0, 0, 1, 1, 1, 1]);
    const lp = masked.logProb(xt).dataSync();
    assert.ok(Math.abs(lp[0] - hand(0, true)) < 1e-5 && Math.abs(lp[1] - hand(1, true)) < 1e-5);
    const lpAll = new Categorical(lt, V).logProb(xt).dataSync();
    assert.ok(Math.abs(lpAll[0] - hand(0, false)) < 1e-5 && Math.abs(lpAll[1] - hand(1, false)) < 1e-5);
    // stable for huge logits; mode and probabilities
    const big = new Categorical(tf.tensor2d([[1000, -1000, 0]]), 3);
    assert.ok(Math.abs(big.logProb(tf.tensor2d([[1, 0, 0]])).dataSync()[0]) < 1e-6);
    assert.ok(Number.isFinite(big.logProb(tf.tensor2d([[0, 1, 0]])).dataSync()[0]));
    assert.deepEqual(Array.from(masked.mode().dataSync().subarray(0, 6)), [0, 1, 0, 0, 0, 1]);
    const p = masked.mean().dataSync();
    assert.ok(Math.abs(p[0] + p[1] + p[2] - 1) < 1e-6);
    // sampling follows the probabilities (two steps: 1000 draws of a fixed distribution)
    const c = new Categorical(tf.tensor2d([[0, Math.log(3), -Infinity]]), 3);
    const s = c.sample(new Rng(5));
    assert.equal(tf.sum(s).dataSync()[0], 1);
    let ones = 0;
    const rng = new Rng(6);
    for (let i = 0; i < 400; i++) ones += c.sample(rng).dataSync()[1];
    assert.ok(Math.abs(ones / 400 - 0.75) < 0.07, `P(token 1) ≈ 3/4, got ${ones / 400}`);
  });

  it('words: filtered, deduplicated, split by seed, one-hot with the end token, decoded back', () => {
    const dir = tmp();
    const file = path.join(dir, 'words');
    writeFileSync(file, LIST.join('\n') + '\n');
    assert.deepEqual(filterWords(LIST, 2, 5), ['cat', 'dog', 'horse', 'tree', 'sun', 'moon', 'star', 'zebra', 'fish']);
    const ds = loadWords({ path: file, maxLength: 5, testFraction: 0.25, seed: 3 });
    assert.equal(ds.name, `words:${file}`);
    assert.deepEqual(ds.shape, [6, 27]);
    assert.equal(ds.train.n + ds.test.n, 9);
    assert.equal(ds.test.n, 2);
    assert.deepEqual([...ds.words.train, ...ds.words.test].sort(), filterWords(LIST, 2, 5).sort());
    assert.deepEqual(loadWords({ path: file, maxLength: 5, testFraction: 0.25, seed: 3 }).words, ds.words);
    assert.notDeepEqual(loadWords({ path: file, maxLength: 5, testFraction: 0.25, seed: 4 }).words.test, ds.words.test);
    assert.deepEqual(decodeWords(allRows(ds.train), 6), ds.words.train);
    // 'cat': c a t . . . (token 0 ends and pads)
    const x = encodeWords(['cat'], 6);
    assert.deepEqual(Array.from(tokensOf(x, 6, 27)), [3, 1, 20, 0, 0, 0]);
    assert.equal(
      x.reduce((a, b) => a + b, 0),
      6,
    );
    assert.throws(() => encodeWords(['horses'], 6), /more than the 5/);
    assert.throws(() => encodeWords(['ca-t'], 6), /not in the vocabulary/);
    assert.throws(() => readWordList(path.join(dir, 'nope')), /cannot read the word list .*nope: no such file/);
    assert.throws(() => readWordList('/usr/share/dict/words-that-are-not-there'), /no such file/);
    if (!HAVE_DICT) assert.throws(() => loadWords(), /install the Debian package wamerican/);
  });

  it('words: the real dictionary', { skip: !HAVE_DICT && `${DICT_PATH} absent (apt-get install wamerican)` }, () => {
    const ds = loadWords();
    assert.equal(ds.name, 'words');
    assert.ok(ds.train.n > 40000 && ds.test.n > 4000, `${ds.train.n} / ${ds.test.n} words`);
    assert.deepEqual(ds.shape, [13, 27]);
    for (const w of ds.words.test.slice(0, 200)) assert.match(w, /^[a-z]{2,12}$/);
    assert.deepEqual(decodeWords(allRows(ds.test).subarray(0, 50 * 13 * 27), 13), ds.words.test.slice(0, 50));
  });

  it('encode / decode shapes; decode(z) is autoregressive: teacher-forced log p(x|z), greedy and sampled decodes', () => {
    const m = new SeqVAE(wordsCfg(), new Rng(1));
    const x = tf.tensor2d(encodeWords(['cat', 'dog', 'zebra'], 6), [3, 162]);
    const q = m.encode(x);
    assert.deepEqual(q.mu.shape, [3, 3]);
    assert.deepEqual(q.logVar.shape, [3, 3]);
    const p = m.decode(q.mu);
    const lp = p.logProb(x).dataSync();
    assert.ok(lp.every((v) => v < 0 && Number.isFinite(v)));
    // by hand: the categorical of the teacher-forced logits, scored to the end token
    const logits = p.outputs(x);
    assert.ok(maxAbsDiff(new Categorical(logits, 27, 0).logProb(x).dataSync(), lp) < 1e-5);
    // the greedy decode is one-hot, ends in padding, and is what reconstruct gives
    const g = p.mean();
    assert.deepEqual(g.shape, [3, 162]);
    const toks = tokensOf(g.dataSync(), 6, 27);
    assert.equal(
      Array.from(g.dataSync()).reduce((a, b) => a + b, 0),
      18,
    );
    for (let i = 0; i < 3; i++) {
      const row = Array.from(toks.subarray(i * 6, i * 6 + 6));
      const end = row.indexOf(0);
      if (end >= 0)
        assert.ok(
          row.slice(end).every((k) => k === 0),
          'after the end token: padding',
        );
    }
    assert.deepEqual(Array.from(m.reconstruct(x).dataSync()), Array.from(g.dataSync()));
    // sampling is seeded
    const s1 = p.sample(new Rng(9)).dataSync();
    assert.deepEqual(Array.from(p.sample(new Rng(9)).dataSync()), Array.from(s1));
    assert.throws(() => m.generate(q.mu, { mode: 'sample' }), /needs an rng/);
    // the interpolation starts and ends at the reconstructions of its ends
    const path5 = m.interpolate(tf.slice(x, [0, 0], [1, 162]), tf.slice(x, [2, 0], [1, 162]), 5);
    const rec = m.reconstruct(x).dataSync();
    assert.deepEqual(Array.from(path5.dataSync().subarray(0, 162)), Array.from(rec.subarray(0, 162)));
    assert.deepEqual(Array.from(path5.dataSync().subarray(4 * 162)), Array.from(rec.subarray(2 * 162)));
    assert.equal(interpolateWords(m, 'cat', 'zebra', 4).length, 4);
    assert.equal(sampleWords(m, 5, new Rng(2), { mode: 'sample' }).length, 5);
    assert.throws(() => new SeqVAE(wordsCfg({ vocabulary: 'abc' }), new Rng(1)), /vocabulary/);
    assert.throws(() => new SeqVAE(wordsCfg({ inputShape: [1, 27] }), new Rng(1)), /at least 2 steps/);
  });

  it('word dropout: only under withWordDropout, drawn from the step RNG, 0 leaves the inputs alone', () => {
    const m = new SeqVAE(wordsCfg(), new Rng(1));
    const x = tf.tensor2d(encodeWords(['horse', 'tree'], 6), [2, 162]);
    const z = tf.zeros([2, 3]) as tf.Tensor2D;
    const plain = m.teacherForced(z, x).dataSync();
    const a = m.withWordDropout(new Rng(4), 0.5, () => m.teacherForced(z, x).dataSync());
    const b = m.withWordDropout(new Rng(4), 0.5, () => m.teacherForced(z, x).dataSync());
    const none = m.withWordDropout(new Rng(4), 0, () => m.teacherForced(z, x).dataSync());
    assert.deepEqual(Array.from(none), Array.from(plain), 'p = 0: no dropout');
    assert.ok(maxAbsDiff(a, plain) > 1e-4, 'some inputs dropped');
    assert.deepEqual(Array.from(a), Array.from(b));
    assert.deepEqual(Array.from(m.teacherForced(z, x).dataSync()), Array.from(plain), 'off again after the step');
    // p = 1: the decoder sees no tokens at all, only z
    const all = new SeqVAE(wordsCfg(), new Rng(1));
    const x2 = tf.tensor2d(encodeWords(['sun', 'moon'], 6), [2, 162]);
    const o1 = all.withWordDropout(new Rng(1), 1, () => all.teacherForced(z, x).dataSync());
    const o2 = all.withWordDropout(new Rng(1), 1, () => all.teacherForced(z, x2).dataSync());
    assert.deepEqual(Array.from(o1), Array.from(o2));
    const wrapped = withWordDropout((mm, xx) => ({ total: (mm as SeqVAE).decode(z).logProb(xx) }), 0.5);
    const t1 = wrapped(m, x, { rng: new Rng(3), beta: 1, step: 0 }).total.dataSync();
    assert.ok(maxAbsDiff(t1, m.decode(z).logProb(x).dataSync()) > 1e-5);
  });

  it('save → load: the same parameters (PyTorch-style names) and the same outputs; the browser networks', async () => {
    const rng = new Rng(21);
    for (const cfg of [
      wordsCfg(),
      wordsCfg({ network: { type: 'rnn', cell: 'lstm', hidden: 6, bidirectional: false } }),
    ]) {
      const a = new SeqVAE(cfg, rng);
      const names = Object.keys(a.namedParameters());
      assert.ok(
        names.every((n) => /^(encoder|decoder)\.(embed|init_h|init_c|rnn|out)\./.test(n)),
        names.join(', '),
      );
      let b: SeqVAE;
      try {
        b = createModel(a.config as ModelConfig, new Rng(99)) as unknown as SeqVAE; // once createModel knows 'seqvae'
      } catch {
        b = new SeqVAE(JSON.parse(JSON.stringify(a.spec)), new Rng(99));
      }
      const x = tf.tensor2d(encodeWords(['cat', 'zebra'], 6), [2, 162]);
      const z = tf.tensor2d([
        [0.1, -0.5, 1],
        [2, 0, -1],
      ]);
      assert.ok(
        maxAbsDiff(a.decode(z).logProb(x).dataSync(), b.decode(z).logProb(x).dataSync()) > 1e-4,
        'fresh weights differ',
      );
      loadParametersFromSafetensors(b, parametersToSafetensors(a), 'test');
      assert.deepEqual(Array.from(b.encode(x).mu.dataSync()), Array.from(a.encode(x).mu.dataSync()));
      assert.deepEqual(Array.from(b.decode(z).logProb(x).dataSync()), Array.from(a.decode(z).logProb(x).dataSync()));
      assert.deepEqual(Array.from(b.generate(z).dataSync()), Array.from(a.generate(z).dataSync()));
      const files = await modelFiles(a, { dataset: 'words', protocol: 'onehot', shape: [6, 27] });
      assert.ok(files['tfjs/encoder/model.json'] && files['tfjs/decoder/model.json']);
      assert.equal(JSON.parse(files['config.json'] as string).config.kind, 'seqvae');
    }
  });

  it('numeric series: per-channel normalisation, Gaussian steps, the loss falls', async () => {
    const dir = tmp();
    const file = path.join(dir, 'series.csv');
    const T = 8;
    const rows = ['t' + [...Array(T).keys()].join(',t')];
    const r = new Rng(2);
    for (let i = 0; i < 60; i++) {
      const ph = r.uniform() * 6.28;
      rows.push([...Array(T).keys()].map((t) => (3 + 2 * Math.sin(ph + t * 0.8)).toFixed(4)).join(','));
    }
    writeFileSync(file, rows.join('\n') + '\n');
    const ds = await loadTimeSeries({ path: file, testFraction: 0.2 });
    assert.deepEqual(ds.shape, [T, 1]);
    assert.equal(ds.train.n, 48);
    const n = ds.normalizer!;
    assert.ok(
      n.mean!.every((v) => v === n.mean![0]) && n.std!.every((v) => v === n.std![0]),
      'one mean and std per channel',
    );
    let mean = 0;
    allRows(ds.train).forEach((v) => (mean += v / allRows(ds.train).length));
    assert.ok(Math.abs(mean) < 1e-4);
    const back = invertNormalizer(n, allRows(ds.test).slice(0, T));
    assert.ok(back.every((v) => v > 0.9 && v < 5.1));
    await assert.rejects(loadTimeSeries({ path: file, channels: 3 }), /not a whole number of steps of 3 channels/);

    const cfg = seqVaeConfigFor(ds, { hidden: 16, latentDim: 2 });
    assert.equal(cfg.likelihood, 'gaussian');
    assert.equal(cfg.sigma, 'learned');
    const m = new SeqVAE(cfg, new Rng(3));
    const x = tf.tensor2d(allRows(ds.train).slice(0, 2 * T), [2, T]);
    const z = tf.zeros([2, 2]) as tf.Tensor2D;
    const d = m.decode(z);
    // log p(x|z) = Σ_t log N(x_t; μ_t, σ²) with μ the teacher-forced outputs (σ = 1 at the start)
    const mu = d.outputs(x).dataSync();
    const xv = x.dataSync();
    const hand = [0, 1].map((b) => {
      let s = 0;
      for (let t = 0; t < T; t++) s += -0.5 * (Math.log(2 * Math.PI) + (xv[b * T + t] - mu[b * T + t]) ** 2);
      return s;
    });
    assert.ok(maxAbsDiff(d.logProb(x).dataSync(), hand) < 1e-4);
    assert.deepEqual(d.mean().shape, [2, T]);
    assert.ok('decoder.log_var' in m.namedParameters());
    const res = await train(m, ds, elboObjective, {
      epochs: 6,
      batchSize: 16,
      seed: 0,
      optimizer: { kind: 'adam', lr: 1e-2 },
      beta: 1,
      progress: 'none',
      dataInfo: { dataset: ds.name, protocol: ds.protocol, shape: ds.shape },
    });
    assert.ok(res.metrics[5].loss < res.metrics[0].loss - 1, `loss ${res.metrics[0].loss} → ${res.metrics[5].loss}`);
  });

  it('learns real words: the loss falls, tensors stay flat, words come out', async () => {
    let ds: WordsDataset;
    if (HAVE_DICT) ds = loadWords({ maxLength: 7, limit: 256 });
    else {
      const file = path.join(tmp(), 'words');
      writeFileSync(file, filterWords(LIST, 2, 7).join('\n'));
      ds = loadWords({ path: file, maxLength: 7 });
    }
    const m = new SeqVAE(seqVaeConfigFor(ds, { hidden: 32, latentDim: 4, embedding: 8 }), new Rng(4));
    const res = await train(m, ds, elboObjective, {
      wordDropout: 0.2,
      epochs: 3,
      batchSize: 64,
      seed: 0,
      optimizer: { kind: 'adam', lr: 1e-2 },
      beta: 1,
      klWarmup: 8,
      progress: 'none',
      dataInfo: { dataset: ds.name, protocol: ds.protocol, shape: ds.shape },
    });
    const [first, , last] = res.metrics;
    assert.ok(last.loss < first.loss - 1, `loss ${first.loss} → ${last.loss}`);
    assert.equal(last.num_tensors, first.num_tensors);
    const rec = reconstructWords(m, ds.words.test.slice(0, 4));
    assert.equal(rec.length, 4);
    for (const w of [...rec, ...sampleWords(m, 4, new Rng(1))]) assert.match(w, /^[a-z]{0,7}$/);
  });
});
