// Lazy splits (src/data/split.ts and the sources under src/data/): the same rows and batches as in memory,
// bit for bit, and data larger than the heap read by index.
import { after, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { PNG } from 'pngjs';
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { loadImageFolder } from '../src/data/images.js';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DATA_CACHE_ENV } from '../src/data/cache.js';
import { applyNormalizer, fitNormalizer, parseCsv } from '../src/data/csv.js';
import { Rng } from '../src/rng.js';
import { loadFashionMnist, FASHION_MNIST_DEBIAN_DIR } from '../src/data/fashion-mnist.js';
import { applyProtocol } from '../src/data/protocol.js';
import { pixelSplit } from '../src/data/pixels.js';
import { loadDataset } from '../src/data/dataset.js';
import { batches, prefetchBatches } from '../src/data/batches.js';
import { DSPRITES_COUNT, render } from '../src/data/dsprites.js';
import {
  allRows,
  chunks,
  closeSplit,
  readRows,
  readRowsAsync,
  residentBytes,
  rowRange,
  subset,
  take,
} from '../src/data/split.js';
import type { MemorySplit, Split } from '../src/data/types.js';

const debian = existsSync(path.join(FASHION_MNIST_DEBIAN_DIR, 'train-images-idx3-ubyte.gz'));

async function sameBatches(a: Split, b: Split, opts: Parameters<typeof batches>[1]): Promise<number> {
  const lazy = [];
  for await (const bt of prefetchBatches(b, opts)) lazy.push(bt);
  let k = 0;
  for (const bt of batches(a, opts)) {
    assert.deepEqual(lazy[k].indices, bt.indices);
    assert.deepEqual(lazy[k].x, bt.x);
    assert.deepEqual(lazy[k].y, bt.y);
    k++;
  }
  assert.equal(lazy.length, k);
  return k;
}

it(
  'uint8 pixels: lazy rows and batches equal the float32 split bit for bit, in a quarter of the memory',
  { skip: !debian && 'no Debian fashion-mnist' },
  async () => {
    const fm = await loadFashionMnist({ download: false });
    for (const protocol of ['binary', 'continuous'] as const) {
      const raw = fm.test;
      const mem: MemorySplit = { x: applyProtocol(protocol, raw.pixels), n: raw.n, shape: [28, 28, 1], y: raw.labels };
      const lazy = pixelSplit(raw, protocol);
      assert.equal(residentBytes(lazy) * 4 - 3 * raw.labels!.byteLength, residentBytes(mem));
      assert.deepEqual(allRows(lazy), mem.x);
      assert.deepEqual(readRows(lazy, [9999, 0, 17]), readRows(mem, [9999, 0, 17]));
      assert.deepEqual(rowRange(lazy, 100, 228), rowRange(mem, 100, 228));
      assert.equal(await sameBatches(mem, lazy, { batchSize: 128, seed: 7, epoch: 3, startStep: 5 }), 79 - 5);
      assert.deepEqual(allRows(take(lazy, 30)), allRows(take(mem, 30)));
      assert.deepEqual(allRows(subset(lazy, [5, 3, 9])), allRows(subset(mem, [5, 3, 9])));
      assert.deepEqual(
        subset(lazy, [5, 3, 9]).y,
        Int32Array.from([5, 3, 9], (j) => raw.labels![j]),
      );
      const cs = [...chunks(lazy, 3000)];
      assert.deepEqual(
        cs.map((c) => c.end - c.start),
        [3000, 3000, 3000, 1000],
      );
    }
    const ds = await loadDataset({ name: 'fashion-mnist', protocol: 'binary', download: false });
    assert.ok(ds.train.source, 'fashion-mnist loads as uint8 pixels');
    assert.equal(ds.train.n, 60000);
  },
);

it('loadDataset dsprites: all 737,280 images without --limit, a disjoint seeded draw with it', async () => {
  const ds = await loadDataset({ name: 'dsprites' });
  assert.equal(ds.train.n, DSPRITES_COUNT);
  assert.equal(ds.test.n, 10000);
  assert.deepEqual(
    readRows(ds.train, [DSPRITES_COUNT - 1, 3]),
    Float32Array.from([...render(DSPRITES_COUNT - 1), ...render(3)]),
  );
  let rows = 0;
  for (const b of batches(ds.train, { batchSize: 4096, seed: 1, epoch: 0, startStep: 179 })) rows += b.size;
  assert.equal(rows, DSPRITES_COUNT - 179 * 4096);
  const small = await loadDataset({ name: 'dsprites', limit: 600 });
  assert.equal(small.train.n, 600);
  assert.equal(small.test.n, 100);
});

const tmp = mkdtempSync(path.join(tmpdir(), 'vaekit-lazy-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const root = path.resolve(import.meta.dirname, '..');

/** A CSV of n rows × d columns of seeded values (and a label column when `label`), written in blocks. */
function writeCsv(file: string, n: number, d: number, opts: { label?: boolean; bad?: number } = {}): void {
  const fd = openSync(file, 'w');
  const rng = new Rng(n);
  writeSync(fd, [...Array.from({ length: d }, (_, j) => `c${j}`), ...(opts.label ? ['kind'] : [])].join(',') + '\n');
  let block = '';
  for (let i = 0; i < n; i++) {
    const cells = Array.from({ length: d }, (_, j) => (rng.normal() * (j + 1) + j).toFixed(4));
    if (opts.label) cells.push(['cat', 'dog', 'eel'][i % 3]);
    if (i === opts.bad) cells[1] = 'oops';
    block += cells.join(',') + (i % 97 === 5 ? '\r\n\n' : '\n'); // CRLF and blank lines too
    if (block.length > 1 << 20) {
      writeSync(fd, block);
      block = '';
    }
  }
  writeSync(fd, block);
  closeSync(fd);
}

it('CSV: rows parsed on demand equal the whole-file parse; labels, normaliser and --limit as before', async () => {
  const file = path.join(tmp, 'rows.csv');
  writeCsv(file, 3000, 5, { label: true });
  const ds = await loadDataset({ name: 'csv', path: file, labelColumn: 'kind' });
  assert.ok(ds.train.source && ds.test.source);
  const table = parseCsv(readFileSync(file, 'utf8'), { labelColumn: 'kind' });
  const [trIdx] = [new Rng(0).permutation(3000)];
  const trainRaw = subset({ x: table.x, n: 3000, shape: [5] }, trIdx.subarray(0, 2700));
  const fitted = fitNormalizer(trainRaw.x, 2700, table.columns, 'standardize');
  for (let j = 0; j < 5; j++) {
    assert.ok(Math.abs(ds.normalizer!.mean![j] - fitted.mean![j]) < 1e-9 * (1 + Math.abs(fitted.mean![j])));
    assert.ok(Math.abs(ds.normalizer!.std![j] - fitted.std![j]) < 1e-9 * fitted.std![j]);
  }
  const want = applyNormalizer(ds.normalizer!, trainRaw.x);
  assert.deepEqual(allRows(ds.train), want);
  assert.deepEqual(
    readRows(ds.train, [2699, 0, 1, 2, 5]),
    readRows({ x: want, n: 2700, shape: [5] }, [2699, 0, 1, 2, 5]),
  );
  assert.deepEqual(ds.classNames, ['cat', 'dog', 'eel']);
  assert.deepEqual(
    ds.train.y,
    Int32Array.from(trIdx.subarray(0, 2700), (i) => i % 3),
  );
  const lim = await loadDataset({ name: 'csv', path: file, labelColumn: 'kind', limit: 60 });
  assert.deepEqual([lim.train.n, lim.test.n], [60, 10]);
  assert.deepEqual(
    allRows(lim.test),
    applyNormalizer(
      lim.normalizer!,
      readRows({ x: table.x, n: 3000, shape: [5] }, new Rng(0).permutation(3000).subarray(2700, 2710)),
    ),
  );
  // no cache: the same rows
  process.env[DATA_CACHE_ENV] = '0';
  try {
    const nc = await loadDataset({ name: 'csv', path: file, labelColumn: 'kind' });
    assert.deepEqual(readRows(nc.train, [7, 8, 9, 3]), readRows(ds.train, [7, 8, 9, 3]));
    assert.equal(residentBytes(nc.train) < residentBytes(ds.train), true);
  } finally {
    delete process.env[DATA_CACHE_ENV];
  }
});

it('CSV: a bad row far down the file is found while indexing, the error naming its line; train exits with it', async () => {
  const file = path.join(tmp, 'bad.csv');
  writeCsv(file, 4000, 3, { bad: 3900 });
  // line of row 3900: header + rows, with a blank line after every row i ≡ 5 (mod 97) before it
  const line = 1 + 3900 + 1 + Math.floor((3899 - 5) / 97) + 1;
  await assert.rejects(
    loadDataset({ name: 'csv', path: file }),
    new RegExp(`line ${line}, column 2 \\('c1'\\): 'oops' is not a number`),
  );
  const r = spawnSync(
    process.execPath,
    ['bin/vaekit.js', 'train', '--dataset', `csv:${file}`, '--epochs', '1', '--out', path.join(tmp, 'bad-run')],
    { cwd: root, encoding: 'utf8' },
  );
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, new RegExp(`line ${line}, column 2 \\('c1'\\): 'oops' is not a number`));
  // one line naming the problem (a backend notice may come before it)
  assert.equal(r.stderr.split('\n').filter((l) => /error/.test(l)).length, 1, r.stderr);
});

it('a CSV far larger than the heap trains and encodes under --max-old-space-size=48; the whole-file loader runs out of memory', () => {
  const file = path.join(tmp, 'big.csv');
  writeCsv(file, 200_000, 32); // ≈ 50 MB of text, ≈ 100 MB as a JS string
  assert.ok(statSync(file).size > 45e6, `${statSync(file).size} bytes`);
  const heap = ['--max-old-space-size=48'];
  const out = path.join(tmp, 'big-run');
  const train = spawnSync(
    process.execPath,
    [
      ...heap,
      'bin/vaekit.js',
      'train',
      '--dataset',
      `csv:${file}`,
      '--epochs',
      '1',
      '--steps',
      '30',
      '--no-eval',
      '--report-k',
      '0',
      '--backend',
      'cpu', // plain JS: the test is about the data's memory, not a backend's start-up
      '--out',
      out,
    ],
    { cwd: root, encoding: 'utf8' },
  );
  assert.equal(train.status, 0, train.stderr);
  assert.match(train.stderr + train.stdout, /done: \d+ epochs, 30 steps/);
  const enc = spawnSync(
    process.execPath,
    [
      ...heap,
      'bin/vaekit.js',
      'encode',
      path.join(out, 'model'),
      '--split',
      'test',
      '--backend',
      'cpu',
      '--out',
      path.join(tmp, 'z.csv'),
    ],
    { cwd: root, encoding: 'utf8' },
  );
  assert.equal(enc.status, 0, enc.stderr);
  assert.equal(readFileSync(path.join(tmp, 'z.csv'), 'utf8').trim().split('\n').length, 1 + 20_000);
  const old = spawnSync(
    process.execPath,
    [
      ...heap,
      '--import',
      'tsx',
      '-e',
      `import('./src/data/csv.ts').then((m) => m.readCsvFile(${JSON.stringify(file)}))`,
    ],
    { cwd: root, encoding: 'utf8' },
  );
  assert.notEqual(old.status, 0);
  assert.match(old.stderr, /heap|memory|Invalid string length/i);
});

/** A w×h RGB PNG whose pixels depend on (seed, x, y). */
function png(w: number, h: number, seed: number): Buffer {
  const p = new PNG({ width: w, height: h });
  for (let i = 0; i < w * h; i++) {
    p.data[4 * i] = (i * 7 + seed * 13) % 256;
    p.data[4 * i + 1] = (i * 3 + seed) % 256;
    p.data[4 * i + 2] = (seed * 29) % 256;
    p.data[4 * i + 3] = 255;
  }
  return PNG.sync.write(p);
}

it('PNG folder: indexed, decoded on demand and on worker threads, equal to the whole-folder load', async () => {
  const dir = path.join(tmp, 'faces');
  mkdirSync(dir);
  for (let i = 0; i < 40; i++) writeFileSync(path.join(dir, `im${String(i).padStart(3, '0')}.png`), png(12, 10, i));
  writeFileSync(path.join(dir, 'notes.txt'), 'not an image, and not named .png: ignored');
  for (const color of ['grayscale', 'rgb'] as const) {
    const ds = await loadDataset({ name: 'images', path: dir, color, protocol: 'continuous' });
    assert.ok(ds.train.source?.readAsync);
    assert.deepEqual(ds.shape, [10, 12, color === 'rgb' ? 3 : 1]);
    const folder = await loadImageFolder(dir, { color });
    const mem = { x: applyProtocol('continuous', folder.pixels), n: 40, shape: ds.shape };
    const [trIdx] = [new Rng(0).permutation(40)];
    assert.deepEqual(allRows(ds.train), readRows(mem, trIdx.subarray(0, 36)));
    assert.deepEqual(await readRowsAsync(ds.train, [5, 0, 35, 2, 2]), readRows(ds.train, [5, 0, 35, 2, 2]));
    assert.equal(await sameBatches(ds.train, ds.train, { batchSize: 7, seed: 3, epoch: 1 }), 6);
    await closeSplit(ds.train);
  }
  writeFileSync(path.join(dir, 'im050.png'), png(12, 11, 0));
  await assert.rejects(loadDataset({ name: 'images', path: dir }), /im050\.png is 11×12 \(H×W\) but 10×12 is expected/);
  writeFileSync(path.join(dir, 'im050.png'), 'GIF89a, not a PNG');
  await assert.rejects(loadDataset({ name: 'images', path: dir }), /im050\.png is not a readable PNG/);
  rmSync(path.join(dir, 'im050.png'));
  // an image in another format would silently be left out: it is named instead
  writeFileSync(path.join(dir, 'photo.JPG'), Buffer.from([0xff, 0xd8, 0xff]));
  await assert.rejects(
    loadDataset({ name: 'images', path: dir }),
    /photo\.JPG is a JPG file; an image folder is read as PNG files only: convert it to PNG/,
  );
  const r = spawnSync(
    process.execPath,
    ['bin/vaekit.js', 'train', '--dataset', `images:${dir}`, '--epochs', '1', '--out', path.join(tmp, 'jpg-run')],
    { cwd: root, encoding: 'utf8' },
  );
  assert.notEqual(r.status, 0);
  assert.equal(r.stderr.split('\n').filter((l) => /photo\.JPG/.test(l)).length, 1, r.stderr);
});
