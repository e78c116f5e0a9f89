import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { convertRows } from '../src/data/pixels.js';
import { protocolTable } from '../src/data/protocol.js';

// convertRows takes two pixels at a time when it can (even row size, aligned arrays): it must give exactly the
// per-pixel table's values, for every byte value, at every position, and fall back for odd sizes and offsets.
describe('convertRows', () => {
  const perPixel = (px: Uint8Array, d: number, idx: number[], table: Float32Array) => {
    const out = new Float32Array(idx.length * d);
    idx.forEach((j, i) => {
      for (let k = 0; k < d; k++) out[i * d + k] = table[px[j * d + k]];
    });
    return out;
  };
  for (const protocol of ['binary', 'continuous'] as const)
    for (const d of [784, 6, 7, 1])
      it(`${protocol}, rows of ${d}`, () => {
        const n = 300;
        const px = new Uint8Array(n * d + 1);
        for (let i = 0; i < px.length; i++) px[i] = (i * 131 + (i >> 8)) & 255; // every byte value, both orders
        const table = protocolTable(protocol);
        const idx = [5, 0, n - 1, 17, 17];
        assert.deepEqual(convertRows(px.subarray(0, n * d), d, idx, table), perPixel(px, d, idx, table));
        const shifted = px.subarray(1); // an odd byte offset takes the per-pixel path
        assert.deepEqual(convertRows(shifted, d, idx, table), perPixel(shifted, d, idx, table));
      });
});
