// End to end: `vaekit score`, `calibrate` and `ood` on saved models (test/fixtures/models-v1, MNIST), their bad
// input (one line, a non-zero exit, no partial file), and scoring a CSV three times larger than the heap the
// process may use.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  cpSync,
  createWriteStream,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';

const BIN = path.resolve('bin/vaekit.js');
const tmp = mkdtempSync(path.join(tmpdir(), 'vaekit-anomaly-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

function run(args: string[], node: string[] = []) {
  const r = spawnSync(process.execPath, [...node, BIN, ...args], { encoding: 'utf8', cwd: tmp });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A copy of a fixture model (calibrate writes into the directory). */
function model(kind: string): string {
  const dir = path.join(tmp, `${kind}-${Math.random().toString(36).slice(2)}`);
  cpSync(path.resolve('test/fixtures/models-v1', kind), dir, { recursive: true });
  return dir;
}

function badInput(args: string[], pattern: RegExp, outFile?: string) {
  const r = run(args);
  assert.notEqual(r.code, 0, r.stdout);
  // one error line (a note that the native backend is missing may come before it)
  const lines = r.stderr
    .trim()
    .split('\n')
    .filter((l) => !l.startsWith('vaekit: native backend unavailable'));
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0], /^vaekit: error: /);
  assert.match(lines[0], pattern);
  if (outFile) assert.ok(!existsSync(path.join(tmp, outFile)), `${outFile} left behind`);
}

const csvLines = (file: string) => readFileSync(path.join(tmp, file), 'utf8').trim().split('\n');

describe('vaekit score / calibrate / ood', () => {
  it('score writes one row per input with every score and its rank; calibrate sets a threshold score flags by', () => {
    const dir = model('vae');
    const r = run(['score', dir, '--limit', '600', '--k', '4', '--out', 'a.csv', '--progress', 'none', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const sum = JSON.parse(r.stdout);
    assert.equal(sum.n, 100);
    assert.equal(sum.score, 'corrected'); // an image model: the complexity-corrected score by default
    const rows = csvLines('a.csv');
    assert.equal(rows[0], 'index,neg_elbo,nll,complexity_bits,corrected,score,rank');
    assert.equal(rows.length, 101);
    const cells = rows.slice(1).map((l) => l.split(',').map(Number));
    cells.forEach((c, i) => {
      assert.equal(c[0], i);
      assert.ok(Math.abs(c[4] - (c[2] / Math.LN2 - c[3])) < 1e-3, `corrected = nll/ln 2 − L: ${c}`);
    });
    // rank 1 is the highest score
    const byRank = [...cells].sort((a, b) => a[6] - b[6]);
    for (let i = 1; i < byRank.length; i++) assert.ok(byRank[i - 1][5] >= byRank[i][5]);
    assert.equal(byRank[0][6], 1);

    const c = run(['calibrate', dir, '--fpr', '0.05', '--limit', '600', '--progress', 'none', '--json']);
    assert.equal(c.code, 0, c.stderr);
    const cal = JSON.parse(c.stdout);
    assert.equal(cal.falsePositives, 5);
    assert.equal(cal.achievedFpr, 0.05);
    const saved = JSON.parse(readFileSync(path.join(dir, 'calibration.json'), 'utf8'));
    assert.equal(saved.threshold, cal.threshold);
    assert.equal(saved.score, 'corrected');
    // the same split again (same seed): exactly the 5 calibration false positives are flagged
    const s = run(['score', dir, '--limit', '600', '--out', 'b.json', '--progress', 'none']);
    assert.equal(s.code, 0, s.stderr);
    assert.match(s.stdout, /flagged 5 of 100 \(5\.00%\).*achieved FPR 0\.0500/s);
    const json = JSON.parse(readFileSync(path.join(tmp, 'b.json'), 'utf8'));
    assert.equal(json.rows.filter((o: { flagged: boolean }) => o.flagged).length, 5);
    const top = json.rows.map((o: { score: number }) => o.score).sort((a: number, b: number) => b - a);
    for (const o of json.rows) assert.equal(o.flagged, o.score >= top[4], `${o.score} vs ${top[4]}`);
    badInput(
      ['calibrate', dir, '--fpr', '0.005', '--limit', '600'],
      /calibration split too small.*at least 200.*got 100/,
    );
    badInput(['calibrate', dir, '--fpr', '0.05', '--split', 'train', '--limit', '600'], /trained on it/);
    badInput(
      ['score', dir, '--score', 'nll', '--limit', '600', '--out', 'c.csv'],
      /calibration is for the corrected/,
      'c.csv',
    );
  });

  it('ood: AUROC, AUPRC and FPR@95%TPR per score, a ROC plot, the HVAE likelihood ratio among them', () => {
    const dir = model('hvae');
    const noise = path.join(tmp, 'noise.csv');
    const cols = Array.from({ length: 784 }, (_, j) => `p${j}`);
    let rng = 7;
    const bit = () => ((rng = (rng * 1103515245 + 12345) % 2147483648) > 1073741824 ? 1 : 0);
    const lines = [cols.join(','), ...Array.from({ length: 60 }, () => cols.map(bit).join(','))];
    writeFileSync(noise, lines.join('\n') + '\n');
    const r = run([
      'ood',
      dir,
      '--out',
      `csv:${noise}`,
      '--limit',
      '600',
      '--plot',
      'roc.svg',
      '--json',
      '--progress',
      'none',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const o = JSON.parse(r.stdout);
    assert.deepEqual(
      o.scores.map((s: { score: string }) => s.score),
      ['negElbo', 'nll', 'corrected', 'llr'],
    );
    for (const s of o.scores) {
      assert.equal(s.nIn, 100);
      assert.equal(s.nOut, 60);
      for (const k of ['auroc', 'auprc', 'fprAt95Tpr'])
        assert.ok(s[k] >= 0 && s[k] <= 1 + 1e-9, `${s.score} ${k} ${s[k]}`);
    }
    assert.ok(o.scores[1].auroc > 0.99, `noise vs digits by NLL: ${o.scores[1].auroc}`);
    const svg = readFileSync(path.join(tmp, 'roc.svg'), 'utf8');
    assert.match(svg, /^<svg/);
    assert.equal((svg.match(/<polyline/g) ?? []).length, 4);
    const t = run(['ood', dir, '--out', `csv:${noise}`, '--limit', '600', '--progress', 'none']);
    assert.match(t.stdout, /score +AUROC +AUPRC +FPR@95%TPR/);
  });

  it('--regret-steps adds the likelihood regret (≥ 0); calibrating on it keeps its steps; an hvae has none', () => {
    const dir = model('vae');
    const r = run(['score', dir, '--limit', '300', '--regret-steps', '5', '--out', 'r.csv', '--progress', 'none']);
    assert.equal(r.code, 0, r.stderr);
    const rows = csvLines('r.csv');
    assert.equal(rows[0], 'index,neg_elbo,nll,complexity_bits,corrected,regret,score,rank');
    assert.equal(rows.length, 51);
    for (const l of rows.slice(1)) assert.ok(Number(l.split(',')[5]) >= 0, l);
    const c = run(['calibrate', dir, '--fpr', '0.1', '--score', 'regret', '--limit', '300', '--progress', 'none']);
    assert.equal(c.code, 0, c.stderr);
    assert.equal(JSON.parse(readFileSync(path.join(dir, 'calibration.json'), 'utf8')).regretSteps, 20);
    const s = run(['score', dir, '--limit', '300', '--out', 'r.json', '--progress', 'none', '--json']);
    assert.equal(s.code, 0, s.stderr);
    const sum = JSON.parse(s.stdout);
    assert.equal(sum.score, 'regret');
    assert.equal(sum.flagged, 5, 'the calibration split again: its 5 false positives');
    badInput(
      ['score', model('hvae'), '--limit', '300', '--score', 'regret', '--out', 'h.csv'],
      /one Gaussian posterior layer/,
      'h.csv',
    );
  });

  it('bad input: one line, a non-zero exit, no output file', () => {
    const dir = model('vae');
    badInput(['score', path.join(tmp, 'nope'), '--out', 'x.csv'], /nope/, 'x.csv');
    badInput(['score', dir, '--protocol', 'continuous', '--out', 'x.csv'], /trained on binary pixels/, 'x.csv');
    const small = path.join(tmp, 'small.csv');
    writeFileSync(small, 'a,b,c\n1,2,3\n');
    badInput(
      ['score', dir, '--dataset', `csv:${small}`, '--out', 'x.csv'],
      /3 feature columns, the model takes 784/,
      'x.csv',
    );
    const cols = Array.from({ length: 784 }, (_, j) => `p${j}`);
    const row = (v: string) => cols.map(() => v).join(',');
    const nan = path.join(tmp, 'nan.csv');
    writeFileSync(nan, [cols.join(','), row('0'), row('1').replace(/1$/, 'NaN')].join('\n') + '\n');
    badInput(
      ['score', dir, '--dataset', `csv:${nan}`, '--out', 'x.csv'],
      /nan\.csv:3: column 'p783' is "NaN"/,
      'x.csv',
    );
    const grey = path.join(tmp, 'grey.csv');
    writeFileSync(grey, [cols.join(','), row('0.5')].join('\n') + '\n');
    badInput(
      ['score', dir, '--dataset', `csv:${grey}`, '--out', 'x.csv'],
      /value 0\.5; the model takes binary/,
      'x.csv',
    );
    badInput(['ood', dir, '--out', 'mnist', '--plot', 'roc.png'], /--plot must end in \.svg/);
  });

  it('a CSV three times larger than the heap limit is scored in batches', async () => {
    const cols = Array.from({ length: 200 }, (_, j) => `c${j}`);
    const train = path.join(tmp, 'train.csv');
    let s = 1;
    const cell = () => ((s = (s * 16807) % 2147483647) / 2147483647 - 0.5).toFixed(4);
    writeFileSync(train, [cols.join(','), ...Array.from({ length: 300 }, () => cols.map(cell).join(','))].join('\n'));
    const tr = run(
      ['train', '--dataset', `csv:${train}`, '--epochs', '1', '--hidden', '8', '--latent', '2'].concat([
        '--report-k',
        '0',
        '--no-eval',
        '--progress',
        'none',
        '--out',
        'csv-run',
      ]),
    );
    assert.equal(tr.code, 0, tr.stderr);
    const big = path.join(tmp, 'big.csv');
    const ws = createWriteStream(big);
    ws.write(cols.join(',') + '\n');
    const heapMb = 40;
    const line = () => cols.map(cell).join(',') + '\n';
    const block = Array.from({ length: 500 }, line).join('');
    let n = 0;
    while (n * (block.length / 500) < 3 * heapMb * 2 ** 20) {
      if (!ws.write(block)) await new Promise<void>((r) => ws.once('drain', () => r()));
      n += 500;
    }
    await new Promise<void>((r) => ws.end(() => r()));
    assert.ok(statSync(big).size > 3 * heapMb * 2 ** 20);
    const r = run(
      ['score', path.join(tmp, 'csv-run/model'), '--dataset', `csv:${big}`, '--out', 'big-scores.csv', '--json'],
      [`--max-old-space-size=${heapMb}`],
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).n, n);
    assert.equal(csvLines('big-scores.csv').length, n + 1);
  });
});
