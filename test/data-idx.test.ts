import { it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { encodeIdx, parseIdx, readIdxFile, readIdxFileSync, isGzip } from '../src/data/idx.js';

const dims = [3, 4, 5];
const u8 = Uint8Array.from({ length: 60 }, (_, i) => (i * 7) % 256);

it('IDX round-trip, raw and gzip, every dtype', async () => {
  const arrays = [
    u8,
    Int8Array.from({ length: 60 }, (_, i) => i - 30),
    Int16Array.from({ length: 60 }, (_, i) => i * 1000 - 30000),
    Int32Array.from({ length: 60 }, (_, i) => i * 100000 - 3000000),
    Float32Array.from({ length: 60 }, (_, i) => i / 7 - 3),
    Float64Array.from({ length: 60 }, (_, i) => Math.PI * i - 1e10),
  ];
  const dir = mkdtempSync(join(tmpdir(), 'vaekit-idx-'));
  try {
    for (const data of arrays) {
      for (const gzip of [false, true]) {
        const buf = encodeIdx({ dims, data }, { gzip });
        assert.equal(isGzip(buf), gzip);
        const a = parseIdx(buf, 'mem');
        assert.deepEqual(a.dims, dims);
        assert.equal(a.data.constructor, data.constructor);
        assert.deepEqual(Array.from(a.data), Array.from(data));
        const f = join(dir, `f${gzip ? '.gz' : ''}`);
        writeFileSync(f, buf);
        assert.deepEqual(Array.from((await readIdxFile(f)).data), Array.from(data));
        assert.deepEqual(Array.from(readIdxFileSync(f).data), Array.from(data));
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

it('IDX header layout is big-endian with magic 00 00 type ndims', () => {
  const buf = encodeIdx({ dims: [2, 3], data: new Uint8Array(6) });
  assert.deepEqual(Array.from(buf.subarray(0, 12)), [0, 0, 0x08, 2, 0, 0, 0, 2, 0, 0, 0, 3]);
});

it('IDX truncated data and truncated header are errors naming the file', () => {
  const buf = encodeIdx({ dims, data: u8 });
  assert.throws(
    () => parseIdx(buf.subarray(0, buf.length - 1), 'cut.idx'),
    /IDX file cut\.idx: truncated: dimensions 3×4×5 uint8 need 60 data bytes, only 59 present/,
  );
  assert.throws(() => parseIdx(buf.subarray(0, 10), 'hdr.idx'), /IDX file hdr\.idx: truncated header/);
  assert.throws(() => parseIdx(buf.subarray(0, 2), 'tiny.idx'), /IDX file tiny\.idx: too short/);
  // Truncated gzip stream.
  const gz = encodeIdx({ dims, data: u8 }, { gzip: true });
  assert.throws(() => parseIdx(gz.subarray(0, gz.length - 6), 'cut.gz'), /IDX file cut\.gz: corrupt or truncated gzip/);
});

it('IDX oversize data is an error', () => {
  const buf = Buffer.concat([encodeIdx({ dims, data: u8 }), Buffer.from([1, 2])]);
  assert.throws(() => parseIdx(buf, 'big.idx'), /IDX file big\.idx: oversize: .*\(2 unexpected trailing bytes/);
});

it('IDX wrong magic, unknown dtype, zero dims', () => {
  const buf = encodeIdx({ dims, data: u8 });
  const bad = Buffer.from(buf);
  bad[0] = 0x50; // e.g. a PNG or text file
  assert.throws(() => parseIdx(bad, 'x.png'), /IDX file x\.png: bad magic number 0x50 0x00 0x08 0x03/);
  const badType = Buffer.from(buf);
  badType[2] = 0x0a;
  assert.throws(() => parseIdx(badType, 't.idx'), /unknown data type code 0x0a/);
  const noDims = Buffer.from(buf);
  noDims[3] = 0;
  assert.throws(() => parseIdx(noDims, 'z.idx'), /number of dimensions is 0/);
  assert.throws(() => parseIdx(Buffer.from('hello world, this is text'), 'readme.txt'), /readme\.txt: bad magic/);
});

it('IDX wrong dims vs length: header claims more or fewer items', () => {
  const buf = Buffer.from(encodeIdx({ dims, data: u8 }));
  buf.writeUInt32BE(4, 4); // claims 4×4×5 = 80 bytes, has 60
  assert.throws(() => parseIdx(buf, 'd.idx'), /truncated: dimensions 4×4×5 uint8 need 80 data bytes, only 60 present/);
  buf.writeUInt32BE(2, 4); // claims 40 bytes, has 60
  assert.throws(() => parseIdx(buf, 'd.idx'), /oversize: dimensions 2×4×5 uint8 need 40 data bytes, found 60/);
  const f32 = Buffer.from(encodeIdx({ dims: [3], data: new Float32Array(3) }));
  assert.throws(() => parseIdx(f32.subarray(0, f32.length - 2), 'f.idx'), /need 12 data bytes, only 10/);
});

it('IDX corrupt gzip (bad CRC, garbage) names the file', () => {
  const gz = Buffer.from(encodeIdx({ dims, data: u8 }, { gzip: true }));
  const flipped = Buffer.from(gz);
  flipped[flipped.length - 6] ^= 0xff; // CRC32 in trailer
  assert.throws(() => parseIdx(flipped, 'crc.gz'), /IDX file crc\.gz: corrupt or truncated gzip data/);
  const garbage = Buffer.concat([Buffer.from([0x1f, 0x8b]), Buffer.alloc(30, 0x41)]);
  assert.throws(() => parseIdx(garbage, 'g.gz'), /IDX file g\.gz: corrupt or truncated gzip data/);
  // gzip of a non-IDX payload: decompresses, then fails the magic check.
  assert.throws(() => parseIdx(gzipSync(Buffer.from('<html>not found</html>')), 'page.gz'), /page\.gz: bad magic/);
});

it('IDX missing file error names it', async () => {
  await assert.rejects(readIdxFile('/nonexistent/x.idx'), /IDX file \/nonexistent\/x\.idx: cannot read/);
});

it('encodeIdx rejects dims that do not match the data', () => {
  assert.throws(() => encodeIdx({ dims: [2, 2], data: new Uint8Array(5) }), /hold 4 values, data has 5/);
});
