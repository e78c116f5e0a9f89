// Training on lazy sources (issue 16): --resume is exact on a CSV file, a PNG folder (decoded on worker threads)
// and IDX files read from disk, the same model as the rows held in memory; and a row that goes bad while the run
// streams (the file edited after it was indexed) stops the run with an error naming the line or the file, the
// last checkpoint intact, so the run resumes once the file is fixed.
import assert from 'node:assert/strict';
import {
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
  writeSync,
  closeSync,
  truncateSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PNG } from 'pngjs';
import { gunzipSync } from 'node:zlib';
import { DATA_CACHE_ENV } from '../src/data/cache.js';
import { allRows, closeSplit, loadDataset, type Dataset } from '../src/data/dataset.js';
import { openFashionMnist } from '../src/data/fashion-mnist-disk.js';
import { FASHION_MNIST_FILES, sha256Hex, type FashionMnistFile } from '../src/data/fashion-mnist.js';
import { encodeIdx } from '../src/data/idx.js';
import { createModel, type VaeConfig } from '../src/models/index.js';
import { elbo } from '../src/objectives/elbo.js';
import { Rng } from '../src/rng.js';
import { train, type Objective, type TrainOptions } from '../src/train/trainer.js';
import { setupBackend } from './helpers.js';

const root = mkdtempSync(path.join(tmpdir(), 'vaekit-lazy-train-'));
after(() => rmSync(root, { recursive: true, force: true }));

const objective: Objective = (m, x, c) => elbo(m, x, { beta: c.beta, rng: c.rng });
const opts = (ds: Dataset, o: Partial<TrainOptions>): TrainOptions => ({
  epochs: 2,
  batchSize: 16,
  seed: 3,
  optimizer: { kind: 'adam', lr: 1e-2 },
  beta: 1,
  progress: 'none',
  dataInfo: { dataset: ds.name, protocol: ds.protocol, shape: ds.shape },
  log: () => {},
  ...o,
});
const config = (shape: number[], likelihood: 'bernoulli' | 'gaussian'): VaeConfig => ({
  kind: 'vae',
  inputShape: shape,
  latentDim: 2,
  network: { type: 'mlp', hidden: [8] },
  likelihood,
});
const weights = (m: ReturnType<typeof createModel>) =>
  Object.values(m.namedParameters()).flatMap((v) => Array.from(v.dataSync()));

/** Trains 2 epochs whole; then again stopped by --steps inside epoch 2 and resumed from a fresh load: the weights. */
async function wholeAndResumed(load: () => Promise<Dataset>, lik: 'bernoulli' | 'gaussian') {
  const ds = await load();
  const cfg = config(ds.shape, lik);
  const m1 = createModel(cfg, new Rng(1));
  await train(m1, ds, objective, opts(ds, { outDir: path.join(root, `w-${ds.name.length}-${Date.now()}`) }));
  const part = path.join(root, `p-${Date.now()}`);
  const m2 = createModel(cfg, new Rng(1));
  const steps = Math.ceil(ds.train.n / 16);
  await train(m2, ds, objective, opts(ds, { outDir: part, maxSteps: steps + 3, checkpointEvery: 2 }));
  await closeSplit(ds.train);
  const again = await load();
  const m3 = createModel(cfg, new Rng(77)); // everything must come from the checkpoint
  await train(m3, again, objective, opts(again, { outDir: part, resume: true }));
  // and the same rows held in memory give the same model
  const mem: Dataset = { ...ds, train: { x: allRows(again.train), n: again.train.n, shape: again.shape } };
  const m4 = createModel(cfg, new Rng(1));
  await train(m4, mem, objective, opts(mem, {}));
  await closeSplit(again.train);
  const w = [m1, m3, m4].map(weights);
  [m1, m2, m3, m4].forEach((m) => m.dispose());
  return w;
}

function csvText(n: number): string {
  const r = new Rng(4);
  let s = 'a,b,c,d\n';
  for (let i = 0; i < n; i++)
    s += Array.from({ length: 4 }, (_, j) => (r.uniform() * (j + 1) + (i % 3)).toFixed(4)).join(',') + '\n';
  return s;
}

function png(seed: number): Buffer {
  const p = new PNG({ width: 6, height: 5 });
  for (let i = 0; i < 30; i++) p.data.set([(i * 9 + seed * 17) % 256, (seed * 5) % 256, i * 8, 255], 4 * i);
  return PNG.sync.write(p);
}

describe('training on lazy sources', () => {
  before(setupBackend);
  const saved = process.env[DATA_CACHE_ENV];
  after(() => {
    if (saved === undefined) delete process.env[DATA_CACHE_ENV];
    else process.env[DATA_CACHE_ENV] = saved;
  });

  it('--resume is exact on a CSV file, a PNG folder and IDX files on disk, and equals the in-memory rows', async () => {
    const csv = path.join(root, 'rows.csv');
    writeFileSync(csv, csvText(100));
    const folder = path.join(root, 'imgs');
    mkdirSync(folder);
    for (let i = 0; i < 60; i++) writeFileSync(path.join(folder, `f${String(i).padStart(2, '0')}.png`), png(i));
    const fmDir = path.join(root, 'fm');
    mkdirSync(fmDir);
    const img = (n: number) =>
      encodeIdx(
        { dims: [n, 4, 4], data: Uint8Array.from({ length: n * 16 }, (_, i) => (i * 37) % 256) },
        { gzip: true },
      );
    const lbl = (n: number) =>
      encodeIdx({ dims: [n], data: Uint8Array.from({ length: n }, (_, i) => i % 10) }, { gzip: true });
    const files = { trainImages: img(70), trainLabels: lbl(70), testImages: img(10), testLabels: lbl(10) };
    for (const [k, b] of Object.entries(files))
      writeFileSync(path.join(fmDir, FASHION_MNIST_FILES[k as FashionMnistFile]), b);
    const checksums = Object.fromEntries(
      Object.entries(files).map(([k, b]) => [k, sha256Hex(gunzipSync(b))]),
    ) as Record<FashionMnistFile, string>;
    const idx = async (): Promise<Dataset> => {
      const fm = await openFashionMnist({
        dataDir: fmDir,
        checksums,
        cacheDir: path.join(root, 'c'),
        protocol: 'binary',
      });
      return { name: 'fashion-mnist', train: fm.train, test: fm.test, shape: fm.train.shape, protocol: 'binary' };
    };
    for (const [what, load, lik] of [
      ['csv', () => loadDataset({ name: 'csv', path: csv }), 'gaussian'],
      ['png', () => loadDataset({ name: 'images', path: folder, protocol: 'binary' }), 'bernoulli'],
      ['idx', idx, 'bernoulli'],
    ] as const) {
      const [whole, resumed, memory] = await wholeAndResumed(load, lik);
      assert.deepEqual(resumed, whole, `${what}: resumed = uninterrupted`);
      assert.deepEqual(memory, whole, `${what}: lazy = in memory`);
    }
  });

  it('a CSV row that goes bad while the run streams: the error names the line, the last checkpoint is intact', async () => {
    process.env[DATA_CACHE_ENV] = '0'; // every epoch reads the file again
    const csv = path.join(root, 'late.csv');
    const text = csvText(100);
    writeFileSync(csv, text);
    const lines = text.split('\n');
    const bad = 71; // 1-based line of the file
    const at = lines.slice(0, bad - 1).join('\n').length + 1;
    const field = lines[bad - 1].split(',')[0];
    const ds = await loadDataset({ name: 'csv', path: csv });
    const out = path.join(root, 'late-run');
    const m = createModel(config(ds.shape, 'gaussian'), new Rng(1));
    const corrupt = () => {
      const fd = openSync(csv, 'r+');
      writeSync(fd, 'x'.repeat(field.length), at); // same length: the index still points at every row
      closeSync(fd);
    };
    await assert.rejects(
      train(
        m,
        ds,
        objective,
        opts(ds, { epochs: 3, outDir: out, onEpoch: (e) => (e.epoch === 1 ? corrupt() : undefined) }),
      ),
      new RegExp(
        `late\\.csv: line ${bad}, column 1 \\('a'\\): 'x+' is not a number \\(the file changed since it was indexed\\)`,
      ),
    );
    const state = JSON.parse(readFileSync(path.join(out, 'checkpoint', 'state.json'), 'utf8'));
    assert.equal(state.epoch, 1, 'the checkpoint of epoch 1 stays');
    assert.equal(state.epochStep, 0);
    assert.equal(readFileSync(path.join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').length, 1);
    // fixed, the run resumes from it and ends as one that never stopped
    writeFileSync(csv, text);
    const again = await loadDataset({ name: 'csv', path: csv });
    const m2 = createModel(config(ds.shape, 'gaussian'), new Rng(9));
    await train(m2, again, objective, opts(again, { epochs: 3, outDir: out, resume: true }));
    const m3 = createModel(config(ds.shape, 'gaussian'), new Rng(1));
    await train(m3, again, objective, opts(again, { epochs: 3 }));
    assert.deepEqual(weights(m2), weights(m3));
    [m, m2, m3].forEach((x) => x.dispose());
    await closeSplit(ds.train);
    await closeSplit(again.train);
  });

  it('a PNG that goes bad while the run decodes on worker threads: the error names the file, the checkpoint stays', async () => {
    process.env[DATA_CACHE_ENV] = '0';
    const folder = path.join(root, 'late-imgs');
    mkdirSync(folder);
    for (let i = 0; i < 40; i++) writeFileSync(path.join(folder, `g${String(i).padStart(2, '0')}.png`), png(i));
    const ds = await loadDataset({ name: 'images', path: folder, protocol: 'binary' });
    assert.ok(ds.train.source?.readAsync, 'decoded on worker threads');
    const out = path.join(root, 'late-png-run');
    const m = createModel(config(ds.shape, 'bernoulli'), new Rng(1));
    await assert.rejects(
      train(
        m,
        ds,
        objective,
        opts(ds, {
          epochs: 3,
          outDir: out,
          onEpoch: (e) => (e.epoch === 1 ? truncateSync(path.join(folder, 'g07.png'), 40) : undefined),
        }),
      ),
      /images: .*late-imgs\/g07\.png is not a readable PNG/,
    );
    const state = JSON.parse(readFileSync(path.join(out, 'checkpoint', 'state.json'), 'utf8'));
    assert.equal(state.epoch, 1);
    m.dispose();
    await closeSplit(ds.train);
  });
});
