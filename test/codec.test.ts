// src/codec: rANS round trips on random symbols and tables, its code length against the entropy, bit I/O,
// CRC-32 and SHA-256 against their check values, and every way a .vkz container can be wrong.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../src/rng.js';
import { RansStack, quantizeCdf, RANS_LOW } from '../src/codec/rans.js';
import { BitReader, BitWriter, ByteReader, ByteWriter, packBits, unpackBits } from '../src/codec/bitio.js';
import { crc32 } from '../src/codec/crc32.js';
import { sha256Hex } from '../src/codec/sha256.js';
import {
  checkFingerprint,
  FormatError,
  readContainer,
  writeContainer,
  type ContainerHeader,
} from '../src/codec/container.js';

function randomCdf(rng: Rng, n: number, precision: number): Uint32Array {
  const w = new Float64Array(n);
  for (let i = 0; i < n; i++) w[i] = rng.nextUint32() % 7 === 0 ? 0 : Math.exp(4 * rng.uniform() - 2) ** 3;
  return quantizeCdf(w, precision);
}

it('quantizeCdf: sums to 2^p, no zero frequency, proportional to the weights', () => {
  const cdf = quantizeCdf([0, 1, 3, 0], 8);
  assert.equal(cdf[0], 0);
  assert.equal(cdf[4], 256);
  for (let i = 0; i < 4; i++) assert.ok(cdf[i + 1] - cdf[i] >= 1);
  assert.equal(cdf[3] - cdf[2], 1 + Math.round(252 * 1) - Math.round(252 * 0.25));
  assert.throws(() => quantizeCdf([1, 2, 3], 1), /1…2 symbols/);
  assert.throws(() => quantizeCdf([1, NaN], 8), /weight 1 is NaN/);
});

it('rANS: pushes then pops give the symbols back exactly (random tables and precisions)', () => {
  const rng = new Rng(1);
  for (let trial = 0; trial < 40; trial++) {
    const precision = 1 + (trial % 16);
    const n = Math.min(1 << precision, 2 + (rng.nextUint32() % 300));
    const tables = Array.from({ length: 5 }, () => randomCdf(rng, n, precision));
    const count = 2000;
    const syms = new Int32Array(count);
    const which = new Int32Array(count);
    const m = new RansStack();
    for (let i = 0; i < count; i++) {
      which[i] = rng.nextUint32() % tables.length;
      syms[i] = rng.nextUint32() % n;
      m.pushCdf(tables[which[i]], syms[i], precision);
    }
    const back = RansStack.fromBytes(m.toBytes());
    for (let i = count - 1; i >= 0; i--)
      assert.equal(back.popCdf(tables[which[i]], precision), syms[i], `trial ${trial} symbol ${i}`);
    assert.equal(back.head, RANS_LOW);
    assert.equal(back.tailLength, 0);
    assert.equal(back.borrowed, 0);
  }
});

it('rANS: code length within 0.1% of the information content (precision 14)', () => {
  const rng = new Rng(2);
  const precision = 14;
  const cdf = randomCdf(rng, 50, precision);
  const m = new RansStack();
  let info = 0;
  for (let i = 0; i < 20000; i++) {
    const s = rng.nextUint32() % 50;
    info -= Math.log2((cdf[s + 1] - cdf[s]) / 2 ** precision);
    m.pushCdf(cdf, s, precision);
  }
  assert.ok(
    m.bits < info * 1.001 + 32 && m.bits > info - 1,
    `${m.bits} bits for ${info.toFixed(1)} bits of information`,
  );
});

it('rANS: pop before push (bits-back): popping from an empty stack borrows zero words and pushing returns them', () => {
  const rng = new Rng(3);
  const cdfs = Array.from({ length: 3 }, () => randomCdf(rng, 200, 12));
  const m = new RansStack();
  const popped: number[] = [];
  for (let i = 0; i < 30; i++) popped.push(m.popCdf(cdfs[i % 3], 12)); // "sample" from an empty message
  assert.ok(m.borrowed > 0);
  for (let i = 0; i < 30; i++) m.pushUniform(popped[i] & 0xff, 8);
  const back = RansStack.fromBytes(m.toBytes());
  for (let i = 29; i >= 0; i--) assert.equal(back.popUniform(8), popped[i] & 0xff);
  for (let i = 29; i >= 0; i--) back.pushCdf(cdfs[i % 3], popped[i], 12);
  assert.equal(back.head, RANS_LOW);
  assert.ok(Array.from(back.tail()).every((w) => w === 0));
  assert.equal(back.tailLength, m.borrowed);
});

it('rANS: a pop must land in the interval it names; bad intervals and precisions are refused', () => {
  const m = new RansStack();
  m.pushUniform(5, 4);
  assert.throws(() => m.pop(0, 1, 4), /slot 5 is not in \[0, 1\)/);
  assert.throws(() => m.push(0, 0, 8), /bad interval/);
  assert.throws(() => m.push(250, 10, 8), /bad interval/);
  assert.throws(() => m.push(0, 1, 17), /bad interval/);
  assert.throws(() => m.pushUniform(0, 0), /precision/);
  assert.throws(() => RansStack.fromBytes(new Uint8Array(3)), /even number of bytes/);
  assert.throws(() => RansStack.fromBytes(new Uint8Array(4)), /at least 2\^16/);
});

it('bit I/O: integers, varints, strings and bits round-trip; reading past the end says so', () => {
  const w = new ByteWriter()
    .u8(7)
    .u16(0xbeef)
    .u32(0xdeadbeef)
    .varint(0)
    .varint(300)
    .varint(2 ** 40 + 5);
  w.string('héllo').bytes(new Uint8Array([1, 2, 3]));
  const r = new ByteReader(w.finish());
  assert.equal(r.u8(), 7);
  assert.equal(r.u16(), 0xbeef);
  assert.equal(r.u32(), 0xdeadbeef);
  assert.equal(r.varint(), 0);
  assert.equal(r.varint(), 300);
  assert.equal(r.varint(), 2 ** 40 + 5);
  assert.equal(r.string(), 'héllo');
  assert.deepEqual(Array.from(r.bytes(3)), [1, 2, 3]);
  assert.throws(() => r.u8('the flag'), /truncated: the data ends inside the flag/);

  const rng = new Rng(4);
  const bw = new BitWriter();
  const vals: [number, number][] = [];
  for (let i = 0; i < 500; i++) {
    const k = rng.nextUint32() % 25;
    const v = rng.nextUint32() & ((1 << k) - 1);
    vals.push([v, k]);
    bw.write(v, k);
  }
  const br = new BitReader(bw.finish());
  for (const [v, k] of vals) assert.equal(br.read(k), v);
  const bits = Array.from({ length: 37 }, () => rng.nextUint32() & 1);
  const packed = packBits(bits);
  assert.equal(packed.length, 5);
  assert.deepEqual(Array.from(unpackBits(packed, 37)), bits);
});

it('CRC-32 and SHA-256 give their published check values', () => {
  const ascii = (s: string) => new TextEncoder().encode(s);
  assert.equal(crc32(ascii('123456789')), 0xcbf43926);
  assert.equal(crc32(ascii('56789'), crc32(ascii('1234'))), 0xcbf43926);
  assert.equal(sha256Hex(ascii('')), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  assert.equal(sha256Hex(ascii('abc')), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  const long = ascii('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq');
  assert.equal(sha256Hex(long), '248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1');
  const million = new Uint8Array(1_000_000).fill(0x61);
  assert.equal(sha256Hex(million.subarray(0, 123), million.subarray(123)), sha256Hex(million));
  assert.equal(sha256Hex(million), 'cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0');
});

const header = (over: Partial<ContainerHeader> = {}): ContainerHeader => ({
  method: 'test',
  fingerprint: 'ab'.repeat(32),
  shape: [2, 3],
  count: 4,
  precision: 16,
  ...over,
});

it('container: header and payload round-trip over several blocks', () => {
  const payload = new Uint8Array(1000).map((_, i) => (i * 37) & 0xff);
  const file = writeContainer(header(), payload, 300);
  const { header: h, payload: p } = readContainer(file);
  assert.deepEqual(h, { ...header(), mode: 'lossless' });
  assert.deepEqual(p, payload);
  const empty = readContainer(writeContainer(header({ count: 0 }), new Uint8Array(0)));
  assert.equal(empty.payload.length, 0);
});

/** A file of any header and version, written by hand (version 1 had no mode in the header). */
function rawFile(h: Record<string, unknown>, payload: Uint8Array, version = 1): Uint8Array {
  const w = new ByteWriter();
  const hb = new TextEncoder().encode(JSON.stringify(h));
  w.bytes(new Uint8Array([0x89, 0x56, 0x4b, 0x5a])).u16(version);
  w.u32(hb.length).bytes(hb).u32(crc32(hb));
  w.u32(payload.length).bytes(payload).u32(crc32(payload)).u32(0);
  return w.finish();
}

it('container: version 1 files (no mode) still read, as lossless; a version 2 file names its mode', () => {
  const payload = new Uint8Array([1, 2, 3, 4]);
  const old = readContainer(rawFile({ ...header() }, payload));
  assert.equal(old.header.mode, 'lossless');
  assert.deepEqual(old.payload, payload);
  const lossy = writeContainer(header({ mode: 'lossy' }), payload);
  assert.equal(lossy[4] | (lossy[5] << 8), 2);
  assert.equal(readContainer(lossy).header.mode, 'lossy');
  assert.throws(() => readContainer(rawFile({ ...header(), mode: 'lossy' }, payload)), /version 1 file has a mode/);
  assert.throws(
    () => readContainer(rawFile({ ...header(), mode: 'sketch' }, payload, 2)),
    (e: unknown) =>
      e instanceof FormatError &&
      /^unknown \.vkz mode "sketch" \(this vaekit reads lossless and lossy files\)$/.test(e.message),
  );
  assert.throws(() => readContainer(rawFile({ ...header() }, payload, 2)), /unknown \.vkz mode undefined/);
  assert.throws(() => writeContainer(header({ mode: 'sketch' as never }), payload), /unknown \.vkz mode "sketch"/);
});

it('container: wrong magic, unknown version, truncation, a flipped bit, trailing bytes, another model: one clear error each', () => {
  const payload = new Uint8Array(1000).map((_, i) => (i * 37) & 0xff);
  const file = writeContainer(header(), payload, 300);
  const fails = (bytes: Uint8Array, re: RegExp) =>
    assert.throws(
      () => readContainer(bytes),
      (e: unknown) => e instanceof FormatError && re.test(e.message) && !e.message.includes('\n'),
    );
  fails(new TextEncoder().encode('PK\u0003\u0004 a zip file'), /not a vaekit compressed file/);
  fails(new Uint8Array(0), /not a vaekit compressed file/);
  const v3 = file.slice();
  v3[4] = 3;
  fails(v3, /unsupported \.vkz format version 3 \(this vaekit reads versions 1 and 2\)/);
  fails(file.subarray(0, 5), /truncated .vkz file: it ends inside the format version/);
  fails(file.subarray(0, 20), /truncated .vkz file: it ends inside the header/);
  for (const cut of [file.length - 1, file.length - 4, file.length - 400, file.length - 700])
    fails(file.subarray(0, cut), /truncated .vkz file: it ends inside block \d/);
  const hdrLen = file[6] | (file[7] << 8);
  const flippedHeader = file.slice();
  flippedHeader[12] ^= 1;
  fails(flippedHeader, /CRC of the header does not match/);
  for (const [at, block] of [
    [10 + hdrLen + 4 + 4 + 10, 0],
    [10 + hdrLen + 4 + 2 * (4 + 300 + 4) + 4 + 299, 2],
  ]) {
    const flipped = file.slice();
    flipped[at] ^= 0x40;
    fails(flipped, new RegExp(`CRC of block ${block} does not match`));
  }
  fails(new Uint8Array([...file, 0]), /1 bytes after the end marker/);
  assert.throws(
    () => checkFingerprint(readContainer(file).header, 'cd'.repeat(32)),
    /compressed with another model \(fingerprint abababababab…; the model given has cdcdcdcdcdcd…\)/,
  );
  assert.throws(() => writeContainer(header({ fingerprint: 'x' }), payload), /no model fingerprint/);
});
