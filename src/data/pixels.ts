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
  for (let i = 0; i < indices.length; i++) {
    const src = indices[i] * d;
    const dst = i * d;
    for (let k = 0; k < d; k++) out[dst + k] = table[pixels[src + k]];
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
