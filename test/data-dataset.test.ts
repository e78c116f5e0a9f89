import { it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadDataset, parseDatasetName } from '../src/data/dataset.js';
import { encodeIdx } from '../src/data/idx.js';
import { FASHION_MNIST_FILES } from '../src/data/fashion-mnist.js';

it('parseDatasetName', () => {
  assert.deepEqual(parseDatasetName('fashion-mnist'), { name: 'fashion-mnist' });
  assert.deepEqual(parseDatasetName('mnist'), { name: 'mnist' });
  assert.deepEqual(parseDatasetName('csv:data/x.csv'), { name: 'csv', path: 'data/x.csv' });
  assert.deepEqual(parseDatasetName('images:/a/b:c'), { name: 'images', path: '/a/b:c' });
  assert.throws(() => parseDatasetName('csv:'), /give a path after 'csv:'/);
  assert.throws(
    () => parseDatasetName('cifar10'),
    /unknown dataset 'cifar10' \(use one of: fashion-mnist, mnist, dsprites, csv:PATH, images:DIR, words\[:PATH\], timeseries:PATH\)/,
  );
  assert.deepEqual(parseDatasetName('timeseries:a/b.csv'), { name: 'timeseries', path: 'a/b.csv' });
  assert.throws(() => parseDatasetName('timeseries'), /timeseries:PATH/);
});

it('loadDataset: unknown names and protocols are errors', async () => {
  await assert.rejects(loadDataset({ name: 'mnist', protocol: 'standardize' }), /unknown protocol 'standardize'/);
  await assert.rejects(loadDataset({ name: 'mnist', limit: 0 }), /limit must be a positive integer/);
  await assert.rejects(loadDataset({ name: 'nope' as 'mnist' }), /unknown dataset 'nope'/);
  await assert.rejects(loadDataset({ name: 'csv' }), /give the file/);
});

it('loadDataset fashion-mnist from --data-dir: checksums are enforced', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vaekit-ds-'));
  try {
    const img = encodeIdx({ dims: [6, 28, 28], data: new Uint8Array(6 * 784).fill(200) }, { gzip: true });
    const lbl = encodeIdx({ dims: [6], data: Uint8Array.from([0, 1, 2, 3, 4, 5]) }, { gzip: true });
    for (const [k, f] of Object.entries(FASHION_MNIST_FILES))
      writeFileSync(join(dir, f), k.endsWith('Images') ? img : lbl);
    await assert.rejects(
      loadDataset({ name: 'fashion-mnist', dataDir: dir }),
      /SHA-256 .* not the canonical Fashion-MNIST file/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
