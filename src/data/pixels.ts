// A split over 8-bit pixels kept as bytes (4× less memory than float32): each read converts its rows with the
// data protocol's table (protocol.ts), so a batch holds exactly the values the whole-array conversion gave.
import { protocolTable, type PixelProtocol } from './protocol.js';
import type { RawImages } from './raw.js';
import { lazySplit } from './split.js';
import type { LazySplit, RowSource } from './types.js';

/** Converts rows `indices` of n × d uint8 pixels into float32 model inputs. */
export function convertRows(
  pixels: Uint8Array,
  d: number,
  indices: ArrayLike<number>,
  table: Float32Array,
  out = new Float32Array(indices.length * d),
): Float32Array {
  if (d % 2 === 0 && pixels.byteOffset % 2 === 0 && out.byteOffset % 8 === 0)
    return convertPairs(pixels, d, indices, pairTable(table), out);
  for (let i = 0; i < indices.length; i++) {
    const row = pixels.subarray(indices[i] * d, indices[i] * d + d);
    const o = out.subarray(i * d, i * d + d);
    for (let k = 0; k < d; k++) o[k] = table[row[k]];
  }
  return out;
}

// Two pixels at a time: a 16-bit read of two bytes looks up one float64 whose 8 bytes are their two float32
// values (exactly the bytes the per-pixel table gives; values in [0, 1] are never a NaN pattern), half the
// loop iterations of the byte loop. The row sizes of images are even, so this is the common path.
const pairTables = new WeakMap<Float32Array, Float64Array>();
function pairTable(table: Float32Array): Float64Array {
  let t = pairTables.get(table);
  if (!t) {
    t = new Float64Array(65536);
    const f = new Float32Array(t.buffer);
    const little = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
    for (let u = 0; u < 65536; u++) {
      const first = little ? u & 255 : u >> 8; // the byte at the lower address is the first pixel
      f[2 * u] = table[first];
      f[2 * u + 1] = table[little ? u >> 8 : u & 255];
    }
    pairTables.set(table, t);
  }
  return t;
}

function convertPairs(
  pixels: Uint8Array,
  d: number,
  indices: ArrayLike<number>,
  pairs: Float64Array,
  out: Float32Array,
): Float32Array {
  const p16 = new Uint16Array(pixels.buffer, pixels.byteOffset, pixels.length >> 1);
  const o64 = new Float64Array(out.buffer, out.byteOffset, out.length >> 1);
  const h = d >> 1;
  for (let i = 0; i < indices.length; i++) {
    const s = indices[i] * h;
    const t = i * h;
    for (let k = 0; k < h; k++) o64[t + k] = pairs[p16[s + k]];
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
