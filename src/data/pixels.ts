// A split over 8-bit pixels kept as bytes (4× less memory than float32): each read converts its rows with the
// data protocol's table (protocol.ts), so a batch holds exactly the values the whole-array conversion gave.
import { protocolTable, type PixelProtocol } from './protocol.js';
import type { RawImages } from './raw.js';
import { lazySplit } from './split.js';
import type { LazySplit, RowSource } from './types.js';

/** Converts rows `indices` of n × d uint8 pixels into float32 model inputs (exactly the table's values). */
export function convertRows(
  pixels: Uint8Array,
  d: number,
  indices: ArrayLike<number>,
  table: Float32Array,
  out = new Float32Array(indices.length * d),
): Float32Array {
  if (d % 4 === 0 && pixels.byteOffset % 4 === 0 && LITTLE_ENDIAN) return convertQuads(pixels, d, indices, table, out);
  for (let i = 0; i < indices.length; i++) {
    const row = pixels.subarray(indices[i] * d, indices[i] * d + d);
    const o = out.subarray(i * d, i * d + d);
    for (let k = 0; k < d; k++) o[k] = table[row[k]];
  }
  return out;
}

// Four pixels at a time: one 32-bit read of four bytes, each byte's float32 written as its bit pattern (no
// float conversions on the way). The binary protocol's table is the pixel's top bit (pixel >= 128 gives 1), so it
// needs no table at all: bit 7 of each byte times the bits of 1.0f. Any other table is looked up as 32-bit
// patterns (1 KB, it stays in L1; the 512 KB table of pixel pairs this replaces did not, on a loaded machine:
// 0.29-0.42 vs 0.17 (binary) / 0.21 ms per 128 × 784 batch, /tmp micro-benchmark, load 13-22). The row sizes of
// images are multiples of 4 (28 × 28, 64 × 64, ×3 channels), so this is the common path.
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const ONE_BITS = 0x3f800000; // 1.0f
const topBit = new WeakMap<Float32Array, boolean>();

/** True when table[p] is 1 for p >= 128 and 0 below (the binary protocol's table). */
function isTopBit(table: Float32Array): boolean {
  let t = topBit.get(table);
  if (t === undefined) {
    t = true;
    for (let p = 0; p < 256; p++) if (!Object.is(table[p], p >= 128 ? 1 : 0)) t = false;
    topBit.set(table, t);
  }
  return t;
}

function convertQuads(
  pixels: Uint8Array,
  d: number,
  indices: ArrayLike<number>,
  table: Float32Array,
  out: Float32Array,
): Float32Array {
  const p32 = new Uint32Array(pixels.buffer, pixels.byteOffset, pixels.length >> 2);
  const o32 = new Uint32Array(out.buffer, out.byteOffset, out.length);
  const q = d >> 2;
  if (isTopBit(table)) {
    for (let i = 0; i < indices.length; i++) {
      const s = indices[i] * q;
      let o = i * d;
      for (let k = 0; k < q; k++, o += 4) {
        const w = p32[s + k];
        o32[o] = ((w >>> 7) & 1) * ONE_BITS;
        o32[o + 1] = ((w >>> 15) & 1) * ONE_BITS;
        o32[o + 2] = ((w >>> 23) & 1) * ONE_BITS;
        o32[o + 3] = (w >>> 31) * ONE_BITS;
      }
    }
    return out;
  }
  const t32 = new Uint32Array(table.buffer, table.byteOffset, 256);
  for (let i = 0; i < indices.length; i++) {
    const s = indices[i] * q;
    let o = i * d;
    for (let k = 0; k < q; k++, o += 4) {
      const w = p32[s + k];
      o32[o] = t32[w & 255];
      o32[o + 1] = t32[(w >>> 8) & 255];
      o32[o + 2] = t32[(w >>> 16) & 255];
      o32[o + 3] = t32[w >>> 24];
    }
  }
  return out;
}

/** Rows of in-memory uint8 pixels, converted per read. */
export function pixelSource(raw: RawImages, protocol: PixelProtocol): RowSource {
  const d = raw.height * raw.width * raw.channels;
  if (raw.pixels.length !== raw.n * d)
    throw new Error(`pixels: ${raw.pixels.length} bytes are not ${raw.n} images of ${d}`);
  const table = protocolTable(protocol);
  return {
    n: raw.n,
    rowSize: d,
    readRows: (indices) => convertRows(raw.pixels, d, indices, table),
    residentBytes: () => raw.pixels.byteLength,
  };
}

/** An image split holding uint8 pixels; rows become model inputs when read. */
export function pixelSplit(raw: RawImages, protocol: PixelProtocol): LazySplit {
  return lazySplit(pixelSource(raw, protocol), [raw.height, raw.width, raw.channels], raw.labels);
}
