// IDX images read from disk by row (src/data/idx-file.ts, src/data/fashion-mnist-disk.ts): the same rows as the
// in-memory loader bit for bit, the .gz decompressed once into a cache file (keyed by the source's path, size and
// mtime; atomic; checked by SHA-256), and the bad cases named.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { batches, loadDataset, prefetchBatches } from '../src/data/dataset.js';
import { openFashionMnist } from '../src/data/fashion-mnist-disk.js';
import {
  FASHION_MNIST_DEBIAN_DIR,
  FASHION_MNIST_FILES,
  loadFashionMnist,
  sha256Hex,
  type FashionMnistFile,
} from '../src/data/fashion-mnist.js';
import { encodeIdx } from '../src/data/idx.js';
import { decompressedName, idxImageSource, openIdxImages, uncompressedIdx } from '../src/data/idx-file.js';
import { pixelSplit } from '../src/data/pixels.js';
import { allRows, closeSplit, readRows, residentBytes } from '../src/data/split.js';

const KEYS = Object.keys(FASHION_MNIST_FILES) as FashionMnistFile[];
const debian = existsSync(join(FASHION_MNIST_DEBIAN_DIR, FASHION_MNIST_FILES.trainImages));
const root = mkdtempSync(join(tmpdir(), 'vaekit-idx-disk-'));
after(() => rmSync(root, { recursive: true, force: true }));

/** 300 train / 40 test images of 28×28 with labels, gzipped; and the content checksums. */
function fixture(dir: string) {
  const img = (n: number, salt: number) =>
    encodeIdx(
      { dims: [n, 28, 28], data: Uint8Array.from({ length: n * 784 }, (_, i) => (i * 31 + salt + (i >> 9)) % 256) },
      { gzip: true },
    );
  const lbl = (n: number) => encodeIdx({ dims: [n], data: Uint8Array.from({ length: n }, (_, i) => (i * 7) % 10) });
  const files = {
    trainImages: img(300, 1),
    trainLabels: gzipSync(lbl(300)),
    testImages: img(40, 2),
    testLabels: lbl(40),
  };
  const checksums = Object.fromEntries(
    KEYS.map((k) => [k, sha256Hex(k === 'testLabels' ? files[k] : gunzipSync(files[k]))]),
  ) as Record<FashionMnistFile, string>;
  for (const k of KEYS) {
    const name = FASHION_MNIST_FILES[k];
    writeFileSync(join(dir, k === 'testLabels' ? name.replace(/\.gz$/, '') : name), files[k]); // one stored plain
  }
  return checksums;
}

describe('IDX from disk', () => {
  const data = join(root, 'fm');
  const cache = join(root, 'cache');
  writeFileSync(join(root, 'placeholder'), '');
  it('rows, labels and batches equal the in-memory loader; the .gz is decompressed once into the cache', async () => {
    mkdirSync(data);
    const checksums = fixture(data);
    const mem = await loadFashionMnist({ dataDir: data, checksums, download: false });
    for (const protocol of ['binary', 'continuous'] as const) {
      const fm = await openFashionMnist({ dataDir: data, checksums, cacheDir: cache, protocol });
      assert.equal(fm.held, 'disk');
      const ref = pixelSplit(mem.train, protocol);
      assert.deepEqual(allRows(fm.train), allRows(ref));
      assert.deepEqual(allRows(fm.test), allRows(pixelSplit(mem.test, protocol)));
      assert.deepEqual(fm.train.y, mem.train.labels);
      // repeats, runs and gaps in one read (cached and uncached rows mixed)
      const idx = [299, 0, 1, 2, 3, 3, 150, 151, 7, 298, 299];
      assert.deepEqual(readRows(fm.train, idx), readRows(ref, idx));
      const lazy = [];
      for await (const b of prefetchBatches(fm.train, { batchSize: 64, seed: 5, epoch: 2, startStep: 1 })) lazy.push(b);
      const want = [...batches(ref, { batchSize: 64, seed: 5, epoch: 2, startStep: 1 })];
      assert.deepEqual(
        lazy.map((b) => b.x),
        want.map((b) => b.x),
      );
      assert.ok(residentBytes(fm.train) < 2 * 300 * 792 + 784 * 1024 + 4 * 300, `${residentBytes(fm.train)}`);
      await closeSplit(fm.train);
      await closeSplit(fm.test);
    }
    // one decompressed copy per .gz image file (labels are read in memory), no temp files left
    const made = readdirSync(join(cache, 'decompressed')).sort();
    assert.equal(made.length, 2, made.join(', '));
    assert.ok(
      made.every((f) => /^(train|t10k)-images-idx3-ubyte\.[0-9a-f]{16}$/.test(f)),
      made.join(', '),
    );
    const trainCopy = await decompressedName(join(data, FASHION_MNIST_FILES.trainImages), join(cache, 'decompressed'));
    // a cache smaller than the file (rows evict each other, runs read at once): the same rows
    const small = idxImageSource(openIdxImages(trainCopy), 'binary', 100 * 792);
    const order = [
      ...Array.from({ length: 300 }, (_, i) => (i * 7) % 300),
      ...Array.from({ length: 300 }, (_, i) => i),
    ];
    assert.deepEqual(small.readRows(order), readRows(pixelSplit(mem.train, 'binary'), order));
    await small.close!();
    const before = statSync(trainCopy).mtimeMs;
    await openFashionMnist({ dataDir: data, checksums, cacheDir: cache, protocol: 'binary' });
    assert.equal(statSync(trainCopy).mtimeMs, before, 'the cached copy is reused, not written again');
    // a changed source (new mtime) gets a new copy
    utimesSync(join(data, FASHION_MNIST_FILES.trainImages), new Date(), new Date(Date.now() + 5000));
    await openFashionMnist({ dataDir: data, checksums, cacheDir: cache, protocol: 'binary' });
    assert.equal(readdirSync(join(cache, 'decompressed')).length, 3);
  });

  it('a wrong checksum, a corrupt .gz or a truncated IDX file is an error naming the file; nothing is cached', async () => {
    const dir = join(root, 'bad');
    const c2 = join(root, 'cache2');
    mkdirSync(dir);
    const f = join(dir, 'x-idx3-ubyte.gz');
    const raw = encodeIdx({ dims: [5, 4, 4], data: new Uint8Array(80).fill(3) });
    writeFileSync(f, gzipSync(raw));
    await assert.rejects(uncompressedIdx(f, c2, '0'.repeat(64)), /x-idx3-ubyte\.gz: SHA-256 .* expected 0000/);
    assert.deepEqual(existsSync(c2) ? readdirSync(c2) : [], [], 'no copy, no temp file');
    writeFileSync(f, gzipSync(raw).subarray(0, 30));
    await assert.rejects(uncompressedIdx(f, c2), /x-idx3-ubyte\.gz: corrupt or truncated gzip data/);
    assert.deepEqual(existsSync(c2) ? readdirSync(c2) : [], []);
    const u = join(dir, 'y-idx3-ubyte');
    writeFileSync(u, raw.subarray(0, 70));
    assert.throws(
      () => openIdxImages(u),
      /y-idx3-ubyte: truncated: dimensions 5×4×4 uint8 need 80 data bytes, only 54 present/,
    );
    writeFileSync(u, encodeIdx({ dims: [5, 16], data: new Uint8Array(80) }));
    assert.throws(() => openIdxImages(u), /y-idx3-ubyte: expected 3 or 4 dimensions/);
    writeFileSync(u, 'not an idx file at all');
    assert.throws(() => openIdxImages(u), /y-idx3-ubyte: bad magic number/);
    // the right checksum of an uncompressed file: it is read where it is
    writeFileSync(u, raw);
    assert.equal(await uncompressedIdx(u, c2, sha256Hex(raw)), u);
    const src = idxImageSource(openIdxImages(u), 'continuous', 0); // no cache at all
    assert.deepEqual(src.readRows([4, 0]), new Float32Array(32).fill(3 / 255));
    await src.close!();
    assert.throws(() => src.readRows([1]), /read after close/);
  });

  it('a cache folder that cannot be made: the pixels are held in memory, with a note', async () => {
    const checksums = fixture(data); // the same files again
    const notes: string[] = [];
    const blocked = join(root, 'placeholder', 'cache'); // under a regular file
    const fm = await openFashionMnist({
      dataDir: data,
      checksums,
      cacheDir: blocked,
      protocol: 'binary',
      log: (m) => notes.push(m),
    });
    assert.equal(fm.held, 'memory');
    assert.equal(fm.train.n, 300);
    assert.match(notes.join('\n'), /cannot write the decompressed copy .*holding the pixels in memory/);
  });

  it(
    'Debian Fashion-MNIST from disk equals the in-memory loader',
    { skip: !debian && 'no Debian fashion-mnist' },
    async () => {
      const cacheDir = join(root, 'debian-cache');
      const fm = await openFashionMnist({ cacheDir, protocol: 'binary' });
      const mem = await loadFashionMnist({ download: false });
      assert.equal(fm.train.n, 60000);
      const idx = [0, 1, 59999, 12345, 12346, 777];
      assert.deepEqual(readRows(fm.train, idx), readRows(pixelSplit(mem.train, 'binary'), idx));
      assert.deepEqual(allRows(fm.test), allRows(pixelSplit(mem.test, 'binary')));
      assert.deepEqual(fm.train.y, mem.train.labels);
      const ds = await loadDataset({ name: 'fashion-mnist', cacheDir, limit: 60, download: false });
      assert.equal(ds.train.n, 60);
      assert.equal(ds.test.n, 10);
      assert.deepEqual(allRows(ds.train), readRows(pixelSplit(mem.train, 'continuous'), [...Array(60).keys()]));
    },
  );
});
