import { it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { applyProtocol, isPixelProtocol } from '../src/data/protocol.js';
import { loadImageFolder } from '../src/data/images.js';
import { allRows, loadDataset } from '../src/data/dataset.js';

it('protocols: binary = pixels/255 > 0.5, continuous = pixels/255', () => {
  const px = Uint8Array.from({ length: 256 }, (_, i) => i);
  const bin = applyProtocol('binary', px);
  const cont = applyProtocol('continuous', px);
  for (let p = 0; p < 256; p++) {
    assert.equal(bin[p], p / 255 > 0.5 ? 1 : 0);
    assert.equal(cont[p], Math.fround(p / 255));
  }
  assert.equal(bin[127], 0);
  assert.equal(bin[128], 1);
  assert.equal(cont[255], 1);
  assert.ok(isPixelProtocol('binary') && !isPixelProtocol('raw'));
  assert.throws(() => applyProtocol('raw', px), /unknown protocol 'raw' \(known: binary, continuous\)/);
  const out = new Float32Array(256);
  assert.equal(applyProtocol('continuous', px, out), out);
});

function png(w: number, h: number, f: (x: number, y: number) => [number, number, number]): Buffer {
  const p = new PNG({ width: w, height: h });
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const [r, g, b] = f(x, y);
      const o = 4 * (y * w + x);
      p.data[o] = r;
      p.data[o + 1] = g;
      p.data[o + 2] = b;
      p.data[o + 3] = 255;
    }
  return PNG.sync.write(p);
}

it('image folder: grayscale/RGB, sorted files, size checks, nearest resize', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vaekit-img-'));
  try {
    writeFileSync(
      join(dir, 'b.png'),
      png(4, 3, (x, y) => [10 * x, 20 * y, 0]),
    );
    writeFileSync(
      join(dir, 'a.PNG'),
      png(4, 3, () => [255, 255, 255]),
    );
    writeFileSync(join(dir, 'notes.txt'), 'ignored');
    const g = await loadImageFolder(dir);
    assert.deepEqual(g.files, ['a.PNG', 'b.png']);
    assert.equal(g.n, 2);
    assert.equal(g.height, 3);
    assert.equal(g.width, 4);
    assert.equal(g.channels, 1);
    assert.equal(g.pixels[0], 255);
    assert.equal(g.pixels[12 + 1 * 4 + 2], Math.round(0.299 * 20 + 0.587 * 20)); // b.png (x=2, y=1)
    const rgb = await loadImageFolder(dir, { color: 'rgb' });
    assert.equal(rgb.channels, 3);
    assert.deepEqual(Array.from(rgb.pixels.subarray(36 + 3 * (1 * 4 + 2), 36 + 3 * (1 * 4 + 3))), [20, 20, 0]);

    writeFileSync(
      join(dir, 'c.png'),
      png(8, 6, (x) => [x * 30, x * 30, x * 30]),
    );
    await assert.rejects(
      loadImageFolder(dir),
      (e: Error) =>
        /c\.png is 6×8 \(H×W\) but 3×4 is expected \(the size of a\.PNG\)/.test(e.message) &&
        /resize 'nearest'/.test(e.message),
    );
    const r = await loadImageFolder(dir, { resize: 'nearest' });
    assert.equal(r.n, 3);
    assert.deepEqual(Array.from(r.pixels.subarray(24, 28)), [30, 90, 150, 210]); // 8 -> 4 columns: x = 1, 3, 5, 7
    const sized = await loadImageFolder(dir, { resize: 'nearest', size: [2, 2] });
    assert.equal(sized.pixels.length, 3 * 4);

    writeFileSync(join(dir, 'd.png'), Buffer.from('not a png'));
    await assert.rejects(loadImageFolder(dir, { resize: 'nearest' }), /d\.png is not a readable PNG/);
    rmSync(join(dir, 'd.png'));

    // Through loadDataset: a seeded split and the protocol.
    const ds = await loadDataset({
      name: 'images',
      path: dir,
      resize: 'nearest',
      protocol: 'binary',
      testFraction: 0.34,
    });
    assert.equal(ds.train.n + ds.test.n, 3);
    assert.equal(ds.test.n, 1);
    assert.deepEqual(ds.shape, [3, 4, 1]);
    assert.equal(ds.protocol, 'binary');
    assert.ok(allRows(ds.train).every((v) => v === 0 || v === 1));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const empty = mkdtempSync(join(tmpdir(), 'vaekit-img-'));
  try {
    await assert.rejects(loadImageFolder(empty), /no \.png files in the folder/);
  } finally {
    rmSync(empty, { recursive: true, force: true });
  }
  await assert.rejects(loadImageFolder('/nonexistent/dir'), /cannot read the folder/);
});
