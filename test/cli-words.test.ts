// End to end: the character-level sequence VAE on a word list (--dataset words:PATH --model seqvae), as a user
// runs it: train a tiny model, then sample, reconstruct, interpolate and encode words with the saved model;
// words the model cannot take (characters outside a–z, too long) stop with one line naming them.
// The fixture: 200 made-up words of 2–9 letters from a seeded RNG (no system dictionary needed).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { loadWords } from '../src/data/word-list.js';
import { SeqVAE, seqVaeConfigFor } from '../src/models/seqvae.js';
import { checkWords, exactMatches, wordProblem } from '../src/tasks/words.js';
import { Rng } from '../src/rng.js';

const BIN = path.resolve('bin/vaekit.js');

function vaekit(args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    encoding: 'utf8',
    env: { ...process.env, FORCE_COLOR: '0', VAEKIT_THREADS: '1' },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** n distinct made-up lowercase words of 1–4 consonant-vowel syllables (2–9 letters), one a line. */
function wordFixture(n: number, seed: number): string {
  const rng = new Rng(seed);
  const C = 'bcdfghklmnprstvz';
  const V = 'aeiou';
  const pick = (s: string) => s[Math.floor(rng.uniform() * s.length)];
  const words = new Set<string>(['cat', 'dog']);
  while (words.size < n) {
    let w = '';
    const syllables = 1 + Math.floor(rng.uniform() * 4);
    for (let i = 0; i < syllables; i++) w += pick(C) + pick(V);
    if (rng.uniform() < 0.3) w += pick(C);
    words.add(w);
  }
  return [...words].join('\n') + '\n';
}

/** stdout's lines (the last newline dropped; an empty line is an empty word). */
const lines = (stdout: string) => {
  assert.ok(stdout.endsWith('\n'), `stdout ends with a newline: ${JSON.stringify(stdout)}`);
  return stdout.slice(0, -1).split('\n');
};

describe('vaekit CLI: sequence VAE on words', () => {
  const root = mkdtempSync(path.join(tmpdir(), 'vaekit-cli-words-'));
  after(() => rmSync(root, { recursive: true, force: true }));
  const list = path.join(root, 'words.txt');
  writeFileSync(list, wordFixture(200, 11));
  const run = path.join(root, 'run');
  const model = path.join(run, 'model');
  const testWords = loadWords({ path: list }).words.test;

  it('the library names every word a words model cannot take', () => {
    const m = new SeqVAE(
      seqVaeConfigFor({ shape: [6, 27], vocabulary: 'abcdefghijklmnopqrstuvwxyz' }, { hidden: 4, latentDim: 2 }),
      new Rng(0),
    );
    try {
      assert.equal(wordProblem(m, 'zebra'), undefined);
      assert.match(
        wordProblem(m, 'Cat!') ?? '',
        /the characters "C", "!" are not in the model's vocabulary \(lowercase a–z\)/,
      );
      assert.match(wordProblem(m, 'héllo') ?? '', /the character "é" is not in/);
      assert.match(wordProblem(m, 'horses') ?? '', /6 characters, and the model holds words of at most 5/);
      assert.match(wordProblem(m, '') ?? '', /empty/);
      assert.throws(
        () => checkWords(m, ['cat', 'Cat!', 'horses']),
        /cannot encode 2 words "Cat!": .*; "horses": .*at most 5/,
      );
      assert.doesNotThrow(() => checkWords(m, ['cat', 'zebra']));
      assert.deepEqual(exactMatches(['cat', 'dog', 'emu'], ['cat', 'dot', 'emu']), { exact: 2, rate: 2 / 3 });
    } finally {
      m.dispose();
    }
  });

  it('train writes a words model (vocabulary in its config) with text samples and reconstructions', () => {
    const r = vaekit([
      'train',
      '--model',
      'seqvae',
      '--dataset',
      `words:${list}`,
      '--epochs',
      '1',
      '--batch-size',
      '32',
      '--rnn-hidden',
      '16',
      '--latent',
      '4',
      '--embedding',
      '8',
      '--report-k',
      '2',
      '--progress',
      'none',
      '--out',
      run,
      '--json',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const cfg = JSON.parse(readFileSync(path.join(model, 'config.json'), 'utf8'));
    assert.equal(cfg.config.vocabulary, 'abcdefghijklmnopqrstuvwxyz');
    assert.equal(cfg.data.dataset, `words:${list}`);
    assert.equal(readFileSync(path.join(run, 'samples.txt'), 'utf8').split('\n').length, 65);
  });

  it('sample prints N words, one a line, the same with --out (atomically written) and --json; --decode sample draws the characters', () => {
    const file = path.join(root, 'samples.txt');
    const s = vaekit(['sample', model, '--n', '9', '--seed', '3', '--out', file]);
    assert.equal(s.code, 0, s.stderr);
    const words = lines(s.stdout);
    assert.equal(words.length, 9);
    for (const w of words) assert.match(w, /^[a-z]{0,13}$/); // empty: the end token came first; 13 letters: no end token in 13 steps
    assert.equal(readFileSync(file, 'utf8'), s.stdout);
    assert.match(s.stderr, /wrote 9 words to .*samples\.txt/);

    const j = vaekit(['sample', model, '--n', '9', '--seed', '3', '--json']);
    assert.equal(j.code, 0, j.stderr);
    const js = JSON.parse(j.stdout);
    assert.deepEqual(js.words, words, 'same seed, same words');
    assert.equal(js.n, 9);
    assert.equal(js.decode, 'greedy');
    assert.equal(js.file, undefined, 'no file without --out');

    const d = JSON.parse(
      vaekit(['sample', model, '--n', '40', '--seed', '3', '--decode', 'sample', '--char-temperature', '1.5', '--json'])
        .stdout,
    );
    assert.equal(d.decode, 'sample');
    assert.equal(d.char_temperature, 1.5);
    assert.equal(d.words.length, 40);
    for (const w of d.words) assert.match(w, /^[a-z]{0,13}$/);
    const b = JSON.parse(
      vaekit(['sample', model, '--n', '40', '--seed', '3', '--binarize', '--char-temperature', '1.5', '--json']).stdout,
    );
    assert.deepEqual(b.words, d.words, '--binarize is --decode sample');
    const g = JSON.parse(vaekit(['sample', model, '--n', '40', '--seed', '3', '--json']).stdout);
    assert.notDeepEqual(g.words, d.words, 'sampled characters differ from the greedy decode');

    const bad = vaekit(['sample', model, '--char-temperature', '2']);
    assert.notEqual(bad.code, 0);
    assert.match(
      bad.stderr,
      /^vaekit: error: --char-temperature applies to sampled characters: add --decode sample\n$/,
    );
    const png = vaekit(['sample', model, '--out', path.join(root, 's.png')]);
    assert.notEqual(png.code, 0);
    assert.match(png.stderr, /a words model writes text/);
  });

  it('reconstruct --words prints word → reconstruction and the exact-match rate; --json and the TSV hold the same', () => {
    const r = vaekit(['reconstruct', model, '--words', 'cat,zebra,dog']);
    assert.equal(r.code, 0, r.stderr);
    const ls = lines(r.stdout);
    assert.equal(ls.length, 4);
    ['cat', 'zebra', 'dog'].forEach((w, i) => assert.match(ls[i], new RegExp(`^${w} → [a-z]*(  ✗)?$`)));
    assert.match(ls[3], /^exact match: [0-3]\/3 \(\d+\.\d%\)$/);

    const tsv = path.join(root, 'rec.tsv');
    const j = vaekit(['reconstruct', model, '--words', 'cat, zebra,dog', '--out', tsv, '--json']);
    assert.equal(j.code, 0, j.stderr);
    const rec = JSON.parse(j.stdout);
    assert.equal(rec.n, 3);
    assert.equal(rec.file, tsv);
    assert.deepEqual(
      rec.pairs.map((p: { word: string }) => p.word),
      ['cat', 'zebra', 'dog'],
    );
    for (const p of rec.pairs) {
      assert.match(p.reconstruction, /^[a-z]{0,13}$/);
      assert.equal(p.exact, p.word === p.reconstruction);
    }
    const exact = rec.pairs.filter((p: { exact: boolean }) => p.exact).length;
    assert.equal(rec.exact, exact);
    assert.equal(rec.exact_match, exact / 3);
    ls.slice(0, 3).forEach((l, i) =>
      assert.ok(l.startsWith(`${rec.pairs[i].word} → ${rec.pairs[i].reconstruction}`), l),
    );
    assert.equal(
      readFileSync(tsv, 'utf8'),
      [
        'word\treconstruction',
        ...rec.pairs.map((p: { word: string; reconstruction: string }) => `${p.word}\t${p.reconstruction}`),
      ].join('\n') + '\n',
    );
  });

  it("reconstruct without --words takes --n words of the model's test split", () => {
    const r = vaekit(['reconstruct', model, '--n', '5', '--start', '2', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const rec = JSON.parse(r.stdout);
    assert.deepEqual(
      rec.pairs.map((p: { word: string }) => p.word),
      testWords.slice(2, 7),
    );
    const past = vaekit(['reconstruct', model, '--start', String(testWords.length)]);
    assert.notEqual(past.code, 0);
    assert.match(past.stderr, /--start \d+ is past the end of the test split \(\d+ words\)/);
  });

  it('words the model cannot take stop with one line naming the word and the problem', () => {
    for (const [words, re] of [
      [
        'cat,Cat!',
        /^vaekit: error: cannot encode the word "Cat!": the characters "C", "!" are not in the model's vocabulary \(lowercase a–z\)\n$/,
      ],
      ['héllo', /^vaekit: error: cannot encode the word "héllo": the character "é" is not in the model's vocabulary/],
      [
        'abcdefghijklmnop',
        /^vaekit: error: cannot encode the word "abcdefghijklmnop": it has 16 characters, and the model holds words of at most 12\n$/,
      ],
      ['cat,,dog', /^vaekit: error: --words: empty word in "cat,,dog"/],
    ] as const) {
      const r = vaekit(['reconstruct', model, '--words', words]);
      assert.notEqual(r.code, 0, words);
      assert.match(r.stderr, re);
      assert.equal(r.stdout, '');
    }
    const ip = vaekit(['interpolate', model, '--from', 'cat', '--to', 'Dog', '--steps', '3']);
    assert.notEqual(ip.code, 0);
    assert.match(ip.stderr, /cannot encode the word "Dog": the character "D" is not/);
  });

  it('interpolate --from WORD --to WORD prints the decoded path, ends included; indices pick test words', () => {
    const r = vaekit(['interpolate', model, '--from', 'cat', '--to', 'dog', '--steps', '5']);
    assert.equal(r.code, 0, r.stderr);
    const path5 = lines(r.stdout);
    assert.equal(path5.length, 5);
    for (const w of path5) assert.match(w, /^[a-z]{0,13}$/);

    const file = path.join(root, 'path.txt');
    const j = vaekit(['interpolate', model, '--from', 'cat', '--to', 'dog', '--steps', '5', '--out', file, '--json']);
    assert.equal(j.code, 0, j.stderr);
    const ip = JSON.parse(j.stdout);
    assert.deepEqual(ip, { from: 'cat', to: 'dog', steps: 5, method: 'linear', words: path5, file });
    assert.equal(readFileSync(file, 'utf8'), path5.join('\n') + '\n');

    const s = JSON.parse(
      vaekit(['interpolate', model, '--from', 'cat', '--to', 'dog', '--steps', '4', '--method', 'slerp', '--json'])
        .stdout,
    );
    assert.equal(s.method, 'slerp');
    assert.equal(s.words.length, 4);
    assert.equal(s.words[0], path5[0], 'both paths start at μ(cat)');
    assert.equal(s.words[3], path5[4], 'both paths end at μ(dog)');

    const idx = JSON.parse(
      vaekit(['interpolate', model, '--from', '0', '--to', 'dog', '--steps', '3', '--json']).stdout,
    );
    assert.equal(idx.from, testWords[0]);
    const far = vaekit(['interpolate', model, '--from', '9999', '--to', 'dog']);
    assert.notEqual(far.code, 0);
    assert.match(far.stderr, /--from 9999 is out of range: the test split has \d+ words/);
  });

  it('encode writes the posterior means of the test words, with each word in a last column', () => {
    const csv = path.join(root, 'z.csv');
    const r = vaekit(['encode', model, '--out', csv, '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), { file: csv, n: testWords.length, dim: 4 });
    const rows = readFileSync(csv, 'utf8').trim().split('\n');
    assert.equal(rows[0], 'mu0,mu1,mu2,mu3,word');
    assert.equal(rows.length, testWords.length + 1);
    rows.slice(1).forEach((row, i) => {
      const cells = row.split(',');
      assert.equal(cells[4], testWords[i]);
      assert.ok(
        cells.slice(0, 4).every((v) => Number.isFinite(Number(v))),
        row,
      );
    });
  });
});
