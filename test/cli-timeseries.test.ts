// End to end: the sequence VAE on a numeric time-series CSV (--dataset timeseries:PATH --model seqvae), as a
// user runs it: train, sample, reconstruct, encode and eval on the saved model; bad CSVs stop with the line.
// The fixture: noisy sines of random frequency, phase and amplitude around 10, one series per row.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { Rng } from '../src/rng.js';

const BIN = path.resolve('bin/vaekit.js');

function vaekit(args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    encoding: 'utf8',
    env: { ...process.env, FORCE_COLOR: '0' },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** n noisy sines of T steps: 10 + a·sin(f·t + φ) + noise, a ∈ [1, 2], f ∈ [0.15, 0.4], φ ∈ [0, 2π). */
function sines(n: number, T: number, seed: number): string {
  const rng = new Rng(seed);
  const lines = [Array.from({ length: T }, (_, t) => `t${t}`).join(',')];
  for (let i = 0; i < n; i++) {
    const [a, f, phi] = [1 + rng.uniform(), 0.15 + 0.25 * rng.uniform(), 2 * Math.PI * rng.uniform()];
    lines.push(
      Array.from({ length: T }, (_, t) =>
        (10 + a * Math.sin(f * t + phi) + 0.05 * (rng.uniform() - 0.5)).toFixed(4),
      ).join(','),
    );
  }
  return lines.join('\n') + '\n';
}

const csvRows = (file: string) => readFileSync(file, 'utf8').trim().split('\n');

describe('vaekit CLI: sequence VAE on a time-series CSV', () => {
  const root = mkdtempSync(path.join(tmpdir(), 'vaekit-cli-ts-'));
  after(() => rmSync(root, { recursive: true, force: true }));
  const T = 24;
  const data = path.join(root, 'sines.csv');
  writeFileSync(data, sines(120, T, 5));
  const run = path.join(root, 'run');
  const model = path.join(run, 'model');

  it('train writes the model with its normaliser, series samples and reconstructions (CSV + SVG) and a report', () => {
    const r = vaekit([
      'train',
      '--model',
      'seqvae',
      '--dataset',
      `timeseries:${data}`,
      '--epochs',
      '2',
      '--batch-size',
      '32',
      '--rnn-hidden',
      '16',
      '--latent',
      '3',
      '--kl-warmup',
      '4',
      '--lr',
      '0.01',
      '--out',
      run,
      '--report-k',
      '5',
      '--progress',
      'none',
      '--json',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const summary = JSON.parse(r.stdout);
    assert.ok(
      Number.isFinite(summary.final.total) && Number.isFinite(summary.final.nll),
      JSON.stringify(summary.final),
    );
    const cfg = JSON.parse(readFileSync(path.join(model, 'config.json'), 'utf8'));
    assert.equal(cfg.config.kind, 'seqvae');
    assert.equal(cfg.config.likelihood, 'gaussian');
    assert.deepEqual(cfg.data.shape, [T, 1]);
    assert.equal(cfg.data.normalizer.kind, 'standardize');
    assert.equal(cfg.data.normalizer.columns.length, T);
    const samples = csvRows(path.join(run, 'samples.csv'));
    assert.equal(samples[0].split(',').length, T);
    const values = samples.slice(1).flatMap((l) => l.split(',').map(Number));
    const mean = values.reduce((a, b) => a + b, 0) / values.length;
    assert.ok(mean > 8 && mean < 12, `samples are in data units (mean ${mean})`);
    for (const f of ['samples.svg', 'reconstructions.svg'])
      assert.match(readFileSync(path.join(run, f), 'utf8'), /^<svg [^]*<polyline[^]*<\/svg>\n$/);
    assert.match(readFileSync(path.join(run, 'report.md'), 'utf8'), /!\[samples_plot\]\(samples\.svg\)/);
  });

  it('sample, reconstruct (with RMSE), encode and eval use the saved model and its normaliser', () => {
    const s = vaekit(['sample', model, '--n', '6', '--out', path.join(root, 'gen.png'), '--json']);
    assert.equal(s.code, 0, s.stderr);
    assert.deepEqual(JSON.parse(s.stdout), {
      file: path.join(root, 'gen.csv'),
      plot: path.join(root, 'gen.svg'),
      n: 6,
    });
    assert.equal(csvRows(path.join(root, 'gen.csv')).length, 7);

    const rc = vaekit(['reconstruct', model, '--n', '5', '--out', path.join(root, 'rec.csv'), '--json']);
    assert.equal(rc.code, 0, rc.stderr);
    const rec = JSON.parse(rc.stdout);
    assert.ok(rec.rmse > 0 && rec.rmse < 5 && rec.rmse_normalized > 0, JSON.stringify(rec));
    const rows = csvRows(rec.file);
    assert.equal(rows.length, 6);
    assert.equal(rows[0].split(',').length, 2 * T);
    assert.ok(rows[0].startsWith('orig_t0,') && rows[0].includes(',rec_t0,'));
    const orig = rows[1].split(',').slice(0, T).map(Number);
    assert.ok(
      orig.every((v) => v > 7 && v < 13),
      'originals are in data units',
    );
    const text = vaekit(['reconstruct', model, '--n', '5', '--out', path.join(root, 'rec2.csv')]);
    assert.match(text.stdout, /RMSE [\d.]+ \(data units\), [\d.]+ \(normalised, standardize\)/);

    const en = vaekit(['encode', model, '--out', path.join(root, 'z.csv'), '--json']);
    assert.equal(en.code, 0, en.stderr);
    assert.equal(csvRows(path.join(root, 'z.csv'))[0], 'mu0,mu1,mu2');

    const ev = vaekit(['eval', model, '--quick', '--k', '10', '--json']);
    assert.equal(ev.code, 0, ev.stderr);
    const report = JSON.parse(ev.stdout);
    assert.equal(report.dataset, `timeseries:${data}`);
    for (const k of ['elbo', 'nll']) assert.ok(Number.isFinite(report[k]), `${k} ${report[k]}`);
    assert.ok(report.reconstruction.mse > 0 && Number.isFinite(report.reconstruction.mse));
    assert.match(report.sample_quality.skipped, /numeric series/);
  });

  it('bad series files and flags stop with one line and a non-zero exit', () => {
    const bad = path.join(root, 'bad.csv');
    writeFileSync(bad, 't0,t1,t2\n1,2,3\n4,nan,6\n7,8,9\n');
    const r = vaekit(['train', '--model', 'seqvae', '--dataset', `timeseries:${bad}`, '--out', path.join(root, 'x')]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /^vaekit: error: CSV .*bad\.csv: line 3, column 2 \('t1'\): value 'nan' is not finite/m);
    writeFileSync(bad, 't0,t1,t2\n1,2,3\n4,5\n');
    assert.match(
      vaekit(['train', '--model', 'seqvae', '--dataset', `timeseries:${bad}`, '--out', path.join(root, 'x')]).stderr,
      /line 3 has 2 fields, the header has 3 \(ragged row\)/,
    );
    const ch = vaekit([
      'train',
      '--model',
      'seqvae',
      '--dataset',
      `timeseries:${data}`,
      '--ts-channels',
      '5',
      '--out',
      path.join(root, 'x'),
    ]);
    assert.notEqual(ch.code, 0);
    assert.match(ch.stderr, /24 columns are not a whole number of steps of 5 channels/);
    const wrong = vaekit(['train', '--dataset', 'mnist', '--ts-channels', '2', '--out', path.join(root, 'x')]);
    assert.match(wrong.stderr, /--ts-channels is an option of --dataset timeseries:PATH/);
    assert.ok(!existsSync(path.join(root, 'x', 'model')));
  });
});
