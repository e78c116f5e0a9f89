import { it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  applyNormalizer,
  encodeLabels,
  fitNormalizer,
  invertNormalizer,
  parseCsv,
  readCsvFile,
  validateNormalizer,
  type Normalizer,
} from '../src/data/csv.js';
import { allRows, loadDataset } from '../src/data/dataset.js';

it('CSV: good file with header, label column, CRLF, BOM, blank lines, quoted names', () => {
  const t = parseCsv('\ufeff"a",b,label,c\r\n1,2.5,cat,-3e2\r\n\r\n4,.5,dog,+6\r\n', {
    file: 'f.csv',
    labelColumn: 'label',
  });
  assert.deepEqual(t.columns, ['a', 'b', 'c']);
  assert.equal(t.n, 2);
  assert.equal(t.d, 3);
  assert.deepEqual(Array.from(t.x), [1, 2.5, -300, 4, 0.5, 6]);
  assert.deepEqual(t.labelCells, ['cat', 'dog']);
  const nolabel = parseCsv('x,y\n1,2\n', {});
  assert.deepEqual(nolabel.columns, ['x', 'y']);
  assert.equal(nolabel.labelCells, undefined);
});

it('CSV errors give file, line and column', () => {
  const f = { file: 'bad.csv' };
  assert.throws(() => parseCsv('', f), /CSV bad\.csv: file is empty/);
  assert.throws(() => parseCsv('\n  \n', f), /file is empty/);
  assert.throws(() => parseCsv('a,b\n', f), /CSV bad\.csv: no data rows after the header \(line 1\)/);
  assert.throws(() => parseCsv('a,b\n1,2\n3,x\n', f), /CSV bad\.csv: line 3, column 2 \('b'\): 'x' is not a number/);
  assert.throws(
    () => parseCsv('a,b\n1,2\n3,4,5\n', f),
    /CSV bad\.csv: line 3 has 3 fields, the header has 2 \(ragged row\)/,
  );
  assert.throws(() => parseCsv('a,b\n1\n', f), /line 2 has 1 fields, the header has 2/);
  assert.throws(() => parseCsv('a,b\n1,NaN\n', f), /line 2, column 2 \('b'\): value 'NaN' is not finite/);
  assert.throws(() => parseCsv('a,b\n-inf,1\n', f), /line 2, column 1 \('a'\): value '-inf' is not finite/);
  assert.throws(() => parseCsv('a,b\nInfinity,1\n', f), /not finite/);
  assert.throws(() => parseCsv('a,b\n1e999,1\n', f), /value '1e999' overflows to infinity/);
  assert.throws(() => parseCsv('a,b\n1e39,1\n', f), /outside the float32 range/);
  assert.throws(() => parseCsv('a,b\n1,\n', f), /line 2, column 2 \('b'\): empty cell/);
  assert.throws(() => parseCsv('a,b\n0x10,1\n', f), /'0x10' is not a number/);
  assert.throws(() => parseCsv('a,a\n1,2\n', f), /column name 'a' appears twice/);
  assert.throws(() => parseCsv('a,,c\n1,2,3\n', f), /line 1, column 2: empty column name/);
  assert.throws(
    () => parseCsv('a,b\n1,2\n', { ...f, labelColumn: 'y' }),
    /no label column 'y' in the header \(columns: a, b\)/,
  );
  assert.throws(() => parseCsv('y\n1\n', { ...f, labelColumn: 'y' }), /no feature columns/);
  assert.throws(() => parseCsv('a,y\n1,\n', { ...f, labelColumn: 'y' }), /line 2, column 2 \('y'\): empty label/);
});

it('CSV labels: integers as given, strings as sorted classes', () => {
  assert.deepEqual(encodeLabels(['2', '0', '2']), { y: Int32Array.from([2, 0, 2]), numClasses: 3 });
  const s = encodeLabels(['dog', 'cat', 'dog', 'ant']);
  assert.deepEqual(s.classNames, ['ant', 'cat', 'dog']);
  assert.deepEqual(Array.from(s.y), [2, 1, 2, 0]);
  assert.throws(
    () => encodeLabels(['emu'], { classNames: ['ant'], file: 't.csv' }),
    /label 'emu' \(row 1\) is not one of the training classes/,
  );
});

it('normaliser: standardize and minmax round-trip through JSON, constant columns safe', () => {
  const cols = ['a', 'const', 'b'];
  const x = Float32Array.from([1, 5, 10, 2, 5, 20, 3, 5, 60, 6, 5, -4]);
  for (const kind of ['standardize', 'minmax', 'none'] as const) {
    const norm = fitNormalizer(x, 4, cols, kind);
    const saved: Normalizer = validateNormalizer(JSON.parse(JSON.stringify(norm)));
    assert.deepEqual(saved, norm);
    const y = applyNormalizer(saved, x);
    assert.ok(y.every(Number.isFinite));
    for (let i = 0; i < 4; i++) if (kind !== 'none') assert.equal(y[i * 3 + 1], 0); // constant column -> exactly 0
    const back = invertNormalizer(saved, y);
    for (let i = 0; i < x.length; i++)
      assert.ok(Math.abs(back[i] - x[i]) < 1e-5 * Math.max(1, Math.abs(x[i])), `${kind} ${i}`);
    if (kind === 'minmax') {
      assert.deepEqual(norm.min, [1, 5, -4]);
      assert.deepEqual(norm.max, [6, 5, 60]);
      assert.ok(y.every((v) => v >= 0 && v <= 1));
    }
    if (kind === 'standardize') {
      assert.equal(norm.std![1], 0);
      assert.equal(norm.mean![0], 3);
      for (const j of [0, 2]) {
        let m = 0,
          v = 0;
        for (let i = 0; i < 4; i++) m += y[i * 3 + j] / 4;
        for (let i = 0; i < 4; i++) v += (y[i * 3 + j] - m) ** 2 / 4;
        assert.ok(Math.abs(m) < 1e-6 && Math.abs(v - 1) < 1e-5);
      }
    }
  }
  // A constant column of a value that is not exact in binary still maps to exactly 0.
  const c = new Float32Array(1000).fill(0.1);
  const nc = fitNormalizer(c, 1000, ['c'], 'standardize');
  assert.ok(applyNormalizer(nc, c).every((v) => v === 0));
  assert.throws(
    () => validateNormalizer({ kind: 'standardize', columns: ['a'], mean: [0] }),
    /'std' must be 1 finite numbers/,
  );
  assert.throws(() => validateNormalizer({ kind: 'zscore', columns: [] }), /bad or missing kind/);
});

it('loadDataset csv: seeded split, normaliser fitted on train rows only, labels, limit, test file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vaekit-csv-'));
  try {
    const rows = ['f1,f2,k'];
    for (let i = 0; i < 50; i++) rows.push(`${i},${100 + 2 * i},${['x', 'y'][i % 2]}`);
    const path = join(dir, 'd.csv');
    writeFileSync(path, rows.join('\n') + '\n');
    const ds = await loadDataset({ name: 'csv', path, labelColumn: 'k', normalize: 'minmax', seed: 3 });
    assert.equal(ds.name, `csv:${path}`);
    assert.equal(ds.train.n, 45);
    assert.equal(ds.test.n, 5);
    assert.deepEqual(ds.shape, [2]);
    assert.equal(ds.protocol, 'minmax');
    assert.deepEqual(ds.classNames, ['x', 'y']);
    assert.equal(ds.numClasses, 2);
    assert.equal(ds.splitSeed, 3);
    // Fitted on training rows only: train values span [0, 1] exactly.
    const tr = Array.from(allRows(ds.train).filter((_, i) => i % 2 === 0));
    assert.equal(Math.min(...tr), 0);
    assert.equal(Math.max(...tr), 1);
    // De-normalising gives back the file's values, and the labels follow their rows.
    const orig = invertNormalizer(ds.normalizer!, allRows(ds.test));
    for (let i = 0; i < ds.test.n; i++) {
      const f1 = Math.round(orig[2 * i]);
      assert.ok(Math.abs(orig[2 * i + 1] - (100 + 2 * f1)) < 1e-3);
      assert.equal(ds.test.y![i], f1 % 2);
    }
    // Same seed -> same split; different seed -> different split.
    const again = await loadDataset({ name: 'csv', path, labelColumn: 'k', normalize: 'minmax', seed: 3 });
    assert.deepEqual(allRows(again.test), allRows(ds.test));
    const other = await loadDataset({ name: 'csv', path, labelColumn: 'k', normalize: 'minmax', seed: 4 });
    assert.notDeepEqual(allRows(other.test), allRows(ds.test));
    // Default: standardize; limit.
    const lim = await loadDataset({ name: 'csv', path, labelColumn: 'k', limit: 12 });
    assert.equal(lim.protocol, 'standardize');
    assert.equal(lim.train.n, 12);
    assert.equal(lim.test.n, 2);
    assert.equal(lim.normalizer!.kind, 'standardize');
    // Separate test file.
    const testPath = join(dir, 't.csv');
    writeFileSync(testPath, 'f1,f2,k\n7,0,y\n');
    const sep = await loadDataset({ name: 'csv', path, testPath, labelColumn: 'k', protocol: 'none' });
    assert.equal(sep.train.n, 50);
    assert.equal(sep.test.n, 1);
    assert.deepEqual(Array.from(allRows(sep.test)), [7, 0]);
    assert.deepEqual(Array.from(sep.test.y!), [1]);
    writeFileSync(testPath, 'f2,f1,k\n7,0,y\n');
    await assert.rejects(loadDataset({ name: 'csv', path, testPath, labelColumn: 'k' }), /columns \(f2, f1\) differ/);
    await assert.rejects(loadDataset({ name: 'csv', path, protocol: 'binary' }), /does not apply to CSV data/);
    await assert.rejects(readCsvFile(join(dir, 'missing.csv')), /missing\.csv: cannot read/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
