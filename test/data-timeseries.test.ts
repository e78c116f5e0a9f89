// The time-series CSV loader (src/data/timeseries.ts) through loadDataset({ name: 'timeseries' }): shape,
// per-channel normaliser, a saved normaliser re-applied, and bad input named by line and column.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { invertNormalizer } from '../src/data/csv.js';
import { allRows, loadDataset } from '../src/data/dataset.js';

describe('timeseries:PATH data set', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'vaekit-ts-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, text: string) => {
    const f = path.join(dir, name);
    writeFileSync(f, text);
    return f;
  };
  const header = (T: number) => Array.from({ length: T }, (_, t) => `t${t}`).join(',');
  const series = (n: number, T: number, f: (i: number, t: number) => number) =>
    header(T) +
    '\n' +
    Array.from({ length: n }, (_, i) => Array.from({ length: T }, (_, t) => f(i, t).toFixed(4)).join(',')).join('\n') +
    '\n';

  it('loads one series per row as [T, C] with a per-channel normaliser, and re-applies a saved one', async () => {
    const file = write(
      'a.csv',
      series(30, 8, (i, t) => 100 + 10 * Math.sin(0.7 * t + i)),
    );
    const ds = await loadDataset({ name: 'timeseries', path: file });
    assert.equal(ds.name, `timeseries:${file}`);
    assert.deepEqual(ds.shape, [8, 1]);
    assert.deepEqual(ds.train.shape, [8, 1]);
    assert.equal(ds.train.n + ds.test.n, 30);
    assert.equal(ds.protocol, 'standardize');
    const norm = ds.normalizer!;
    assert.equal(norm.columns.length, 8);
    assert.ok(
      norm.mean!.every((m) => m === norm.mean![0]),
      'one mean for the channel',
    );
    // a second file in other units, loaded with the first file's normaliser: the values keep the first scale
    const other = write(
      'b.csv',
      series(10, 8, () => 110),
    );
    const again = await loadDataset({ name: 'timeseries', path: other, normalizer: norm });
    assert.deepEqual(again.normalizer, norm);
    const back = invertNormalizer(norm, allRows(again.train));
    assert.ok(back.every((v) => Math.abs(v - 110) < 1e-3));
    assert.ok(Math.abs(allRows(again.train)[0] - (110 - norm.mean![0]) / norm.std![0]) < 1e-5);
    await assert.rejects(
      loadDataset({
        name: 'timeseries',
        path: write(
          'c.csv',
          series(10, 6, () => 1),
        ),
        normalizer: norm,
      }),
      /6 columns .*trained on 8/,
    );
  });

  it('two channels: step-major columns, one normaliser per channel; minmax and --limit', async () => {
    const file = write(
      'c2.csv',
      series(20, 10, (i, t) => (t % 2 === 0 ? i + t : -1000 - t)),
    );
    const ds = await loadDataset({ name: 'timeseries', path: file, channels: 2, protocol: 'minmax', limit: 6 });
    assert.deepEqual(ds.shape, [5, 2]);
    assert.equal(ds.train.n, 6);
    assert.equal(ds.test.n, 1);
    assert.equal(ds.protocol, 'minmax');
    assert.ok(
      ds.normalizer!.min![0] >= 0 && ds.normalizer!.max![1] <= -1000,
      'channel 0 and channel 1 have their own ranges',
    );
    await assert.rejects(
      loadDataset({ name: 'timeseries', path: file, channels: 3 }),
      /10 columns are not a whole number of steps of 3 channels/,
    );
  });

  it('bad input stops with the line and column', async () => {
    const h = 't0,t1,t2,t3\n';
    const cases: [string, string, RegExp][] = [
      ['ragged.csv', h + '1,2,3,4\n1,2,3\n5,6,7,8\n', /line 3 has 3 fields, the header has 4 \(ragged row\)/],
      ['nan.csv', h + '1,2,3,4\n1,NaN,3,4\n', /line 3, column 2 \('t1'\): value 'NaN' is not finite/],
      ['text.csv', h + '1,2,abc,4\n1,2,3,4\n', /line 2, column 3 \('t2'\): 'abc' is not a number/],
      ['empty.csv', h + '1,2,,4\n1,2,3,4\n', /line 2, column 3 \('t2'\): empty cell/],
      ['short.csv', 't0\n1\n2\n3\n', /a series needs at least 2 steps, the file has 1/],
      ['onerow.csv', h + '1,2,3,4\n', /need at least 2 series \(rows\)/],
      ['header.csv', h, /no data rows after the header/],
    ];
    for (const [name, text, re] of cases)
      await assert.rejects(loadDataset({ name: 'timeseries', path: write(name, text) }), re, name);
    await assert.rejects(loadDataset({ name: 'timeseries', path: path.join(dir, 'missing.csv') }), /cannot read/);
    await assert.rejects(
      loadDataset({ name: 'timeseries', path: write('ok.csv', h + '1,2,3,4\n5,6,7,8\n'), protocol: 'binary' }),
      /protocol 'binary' does not apply to time series/,
    );
    await assert.rejects(loadDataset({ name: 'timeseries' }), /timeseries:PATH/);
  });
});
