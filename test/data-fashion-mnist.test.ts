import { it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { encodeIdx } from '../src/data/idx.js';
import {
  ChecksumError,
  DatasetNotFoundError,
  defaultFashionMnistCacheDir,
  downloadVerified,
  FASHION_MNIST_CLASS_NAMES,
  FASHION_MNIST_DEBIAN_DIR,
  FASHION_MNIST_FILES,
  FASHION_MNIST_SHA256,
  loadFashionMnist,
  sha256Hex,
  type FashionMnistFile,
} from '../src/data/fashion-mnist.js';

const KEYS = Object.keys(FASHION_MNIST_FILES) as FashionMnistFile[];
const debianPresent = KEYS.every((k) => existsSync(join(FASHION_MNIST_DEBIAN_DIR, FASHION_MNIST_FILES[k])));
const NO_DEBIAN = '/nonexistent/vaekit-no-debian';

/** Small Fashion-MNIST-shaped fixture: 12 train / 4 test images of 28×28, labels 0..9. */
function fixture(): { files: Record<FashionMnistFile, Buffer>; checksums: Record<FashionMnistFile, string> } {
  const img = (n: number, salt: number) =>
    encodeIdx(
      { dims: [n, 28, 28], data: Uint8Array.from({ length: n * 784 }, (_, i) => (i * 31 + salt) % 256) },
      { gzip: true },
    );
  const lbl = (n: number) =>
    encodeIdx({ dims: [n], data: Uint8Array.from({ length: n }, (_, i) => i % 10) }, { gzip: true });
  const files = { trainImages: img(12, 1), trainLabels: lbl(12), testImages: img(4, 2), testLabels: lbl(4) };
  const checksums = Object.fromEntries(KEYS.map((k) => [k, sha256Hex(gunzipSync(files[k]))])) as Record<
    FashionMnistFile,
    string
  >;
  return { files, checksums };
}

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'vaekit-fm-'));
}

/** A local HTTP server: serve(name) -> bytes | 'cut' (send half then drop) | undefined (404). */
async function server(
  serve: (name: string) => Buffer | 'cut' | undefined,
): Promise<{ url: string; hits: string[]; close: () => Promise<void>; srv: Server }> {
  const hits: string[] = [];
  const srv = createServer((req, res) => {
    const name = (req.url ?? '/').replace(/^\/+/, '');
    hits.push(name);
    const body = serve(name);
    if (body === undefined) {
      res.writeHead(404).end('not found');
    } else if (body === 'cut') {
      res.writeHead(200, { 'content-length': '100000' });
      res.write(Buffer.alloc(1000, 7), () => res.destroy());
    } else {
      res
        .writeHead(200, { 'content-length': String(body.length), 'content-type': 'application/octet-stream' })
        .end(body);
    }
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    hits,
    srv,
    close: () =>
      new Promise<void>((r) => {
        srv.closeAllConnections();
        srv.close(() => r());
      }),
  };
}

const leftovers = (dir: string) => (existsSync(dir) ? readdirSync(dir).filter((f) => f.includes('partial')) : []);

it(
  'Fashion-MNIST from the Debian package: 60000/10000, 28×28, labels 0..9, canonical hashes',
  { skip: debianPresent ? false : `Debian package dataset-fashion-mnist not installed (${FASHION_MNIST_DEBIAN_DIR})` },
  async () => {
    const fm = await loadFashionMnist({ cacheDir: '/nonexistent/never-used', download: false });
    assert.equal(fm.how, 'debian');
    assert.equal(fm.dir, FASHION_MNIST_DEBIAN_DIR);
    for (const [split, n] of [
      [fm.train, 60000],
      [fm.test, 10000],
    ] as const) {
      assert.equal(split.n, n);
      assert.equal(split.height, 28);
      assert.equal(split.width, 28);
      assert.equal(split.channels, 1);
      assert.equal(split.pixels.length, n * 784);
      const counts = new Array(10).fill(0);
      for (const c of split.labels!) counts[c]++;
      assert.deepEqual(counts, new Array(10).fill(n / 10)); // balanced classes
    }
    // The well-known first training labels: Ankle boot, T-shirt, T-shirt, Dress, ...
    assert.deepEqual(Array.from(fm.train.labels!.subarray(0, 6)), [9, 0, 0, 3, 0, 2]);
    assert.equal(fm.classNames.length, 10);
    assert.equal(FASHION_MNIST_CLASS_NAMES[9], 'Ankle boot');
  },
);

it('directory override: fixtures (gz and uncompressed) are read from --data-dir only', async () => {
  const { files, checksums } = fixture();
  const dir = tmp();
  try {
    for (const k of KEYS) {
      // Store the test labels uncompressed to check the name-without-.gz fallback.
      if (k === 'testLabels')
        writeFileSync(join(dir, FASHION_MNIST_FILES[k].replace(/\.gz$/, '')), gunzipSync(files[k]));
      else writeFileSync(join(dir, FASHION_MNIST_FILES[k]), files[k]);
    }
    const fm = await loadFashionMnist({ dataDir: dir, checksums, download: false });
    assert.equal(fm.how, 'data-dir');
    assert.equal(fm.train.n, 12);
    assert.equal(fm.test.n, 4);
    assert.deepEqual(Array.from(fm.test.labels!), [0, 1, 2, 3]);
    assert.equal(fm.train.pixels[5], (5 * 31 + 1) % 256);

    // With the real checksums, the fixture is rejected with a clear message.
    await assert.rejects(
      loadFashionMnist({ dataDir: dir }),
      (e: Error) =>
        e instanceof ChecksumError && /not the canonical Fashion-MNIST file/.test(e.message) && e.message.includes(dir),
    );

    // A missing file in --data-dir is named, with the fix.
    rmSync(join(dir, FASHION_MNIST_FILES.trainLabels));
    await assert.rejects(
      loadFashionMnist({ dataDir: dir, checksums }),
      (e: Error) => e instanceof DatasetNotFoundError && /lacks train-labels-idx1-ubyte\.gz/.test(e.message),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

it('download from a local server into the cache (atomic), then served from the cache', async () => {
  const { files, checksums } = fixture();
  const byName = new Map<string, Buffer>(KEYS.map((k) => [FASHION_MNIST_FILES[k], files[k]]));
  const s = await server((name) => byName.get(name));
  const cacheDir = join(tmp(), 'nested', 'cache');
  try {
    const logs: string[] = [];
    const fm = await loadFashionMnist({
      debianDir: NO_DEBIAN,
      cacheDir,
      baseUrl: s.url.replace(/\/$/, ''),
      checksums,
      log: (m) => logs.push(m),
    });
    assert.equal(fm.how, 'download');
    assert.equal(fm.train.n, 12);
    assert.deepEqual(s.hits.sort(), Object.values(FASHION_MNIST_FILES).sort());
    for (const k of KEYS) assert.deepEqual(readFileSync(join(cacheDir, FASHION_MNIST_FILES[k])), files[k]);
    assert.deepEqual(leftovers(cacheDir), []);
    assert.equal(logs.length, 4);

    const again = await loadFashionMnist({ debianDir: NO_DEBIAN, cacheDir, baseUrl: s.url, checksums });
    assert.equal(again.how, 'cache');
    assert.equal(s.hits.length, 4); // nothing fetched

    // A corrupted cached file is fetched again.
    writeFileSync(join(cacheDir, FASHION_MNIST_FILES.testImages), Buffer.from('junk'));
    const healed = await loadFashionMnist({ debianDir: NO_DEBIAN, cacheDir, baseUrl: s.url, checksums });
    assert.equal(healed.how, 'download');
    assert.deepEqual(s.hits.slice(4), [FASHION_MNIST_FILES.testImages]);
    assert.deepEqual(readFileSync(join(cacheDir, FASHION_MNIST_FILES.testImages)), files.testImages);
  } finally {
    await s.close();
    rmSync(cacheDir, { recursive: true, force: true });
  }
});

it('download with a wrong hash: temp deleted, nothing saved, clear error with the fix', async () => {
  const { files, checksums } = fixture();
  const evil = Buffer.from(encodeIdx({ dims: [12, 28, 28], data: new Uint8Array(12 * 784) }, { gzip: true })); // same shape, different content
  const byName = new Map<string, Buffer>(
    KEYS.map((k) => [FASHION_MNIST_FILES[k], k === 'trainImages' ? evil : files[k]]),
  );
  const s = await server((name) => byName.get(name));
  const cacheDir = tmp();
  try {
    // The downloader alone.
    const dest = join(cacheDir, 'x.gz');
    await assert.rejects(
      downloadVerified(s.url + FASHION_MNIST_FILES.trainImages, dest, checksums.trainImages),
      (e: Error) =>
        e instanceof ChecksumError &&
        /has content SHA-256 [0-9a-f]{64}, expected [0-9a-f]{64}; discarded/.test(e.message),
    );
    assert.equal(existsSync(dest), false);
    assert.deepEqual(leftovers(cacheDir), []);

    // Through the loader: the error explains what to do.
    await assert.rejects(
      loadFashionMnist({ debianDir: NO_DEBIAN, cacheDir, baseUrl: s.url, checksums }),
      (e: Error) => {
        assert.ok(e instanceof DatasetNotFoundError);
        assert.match(e.message, /SHA-256/);
        assert.match(e.message, /apt-get install dataset-fashion-mnist/);
        assert.match(e.message, /--data-dir/);
        return true;
      },
    );
    assert.equal(existsSync(join(cacheDir, FASHION_MNIST_FILES.trainImages)), false);
    assert.deepEqual(leftovers(cacheDir), []);
  } finally {
    await s.close();
    rmSync(cacheDir, { recursive: true, force: true });
  }
});

it('download cut off mid-way or 404: no partial file left, dest untouched', async () => {
  const { checksums } = fixture();
  const s = await server((name) => (name === 'cut.gz' ? 'cut' : undefined));
  const dir = tmp();
  try {
    const dest = join(dir, 'cut.gz');
    await assert.rejects(
      downloadVerified(s.url + 'cut.gz', dest, checksums.trainImages),
      /failed part-way|terminated|cannot fetch/,
    );
    assert.equal(existsSync(dest), false);
    assert.deepEqual(leftovers(dir), []);
    await assert.rejects(downloadVerified(s.url + 'missing.gz', join(dir, 'm.gz'), checksums.trainImages), /HTTP 404/);
    assert.deepEqual(readdirSync(dir), []);
  } finally {
    await s.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

it('nothing found and no network: the error says exactly what to do', async () => {
  // A port that refuses connections: bind, note it, close.
  const s = await server(() => undefined);
  const url = s.url;
  await s.close();
  const cacheDir = tmp();
  try {
    await assert.rejects(
      loadFashionMnist({ debianDir: NO_DEBIAN, cacheDir, baseUrl: url, timeoutMs: 5000 }),
      (e: Error) => {
        assert.ok(e instanceof DatasetNotFoundError);
        assert.match(e.message, /Fashion-MNIST data not found/);
        assert.match(e.message, new RegExp(`${NO_DEBIAN}.*not installed`));
        assert.match(e.message, /sudo apt-get install dataset-fashion-mnist/);
        assert.match(e.message, /--data-dir DIR/);
        assert.match(e.message, /--dataset mnist/);
        return true;
      },
    );
    await assert.rejects(
      loadFashionMnist({ debianDir: NO_DEBIAN, cacheDir, download: false }),
      /downloading is turned off/,
    );
    assert.deepEqual(leftovers(cacheDir), []);
  } finally {
    rmSync(cacheDir, { recursive: true, force: true });
  }
});

it(
  'real files served over HTTP verify against the built-in SHA-256 constants',
  { skip: debianPresent ? false : 'Debian package dataset-fashion-mnist not installed' },
  async () => {
    const s = await server((name) => {
      const p = join(FASHION_MNIST_DEBIAN_DIR, name);
      return existsSync(p) ? readFileSync(p) : undefined;
    });
    const cacheDir = tmp();
    try {
      const fm = await loadFashionMnist({ debianDir: NO_DEBIAN, cacheDir, baseUrl: s.url });
      assert.equal(fm.how, 'download');
      assert.equal(fm.train.n, 60000);
      assert.equal(fm.test.n, 10000);
      assert.deepEqual(leftovers(cacheDir), []);
    } finally {
      await s.close();
      rmSync(cacheDir, { recursive: true, force: true });
    }
  },
);

it('SHA-256 constants are 64 hex digits, one per file', () => {
  for (const k of KEYS) assert.match(FASHION_MNIST_SHA256[k], /^[0-9a-f]{64}$/);
});

it('default cache directory honours XDG_CACHE_HOME', () => {
  assert.equal(
    defaultFashionMnistCacheDir({ XDG_CACHE_HOME: '/x/cache', HOME: '/home/u' }),
    '/x/cache/vaekit/fashion-mnist',
  );
  assert.equal(defaultFashionMnistCacheDir({ HOME: '/home/u' }), '/home/u/.cache/vaekit/fashion-mnist');
  assert.equal(
    defaultFashionMnistCacheDir({ XDG_CACHE_HOME: 'relative', HOME: '/home/u' }),
    '/home/u/.cache/vaekit/fashion-mnist',
  );
});
