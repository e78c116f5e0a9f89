import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RowCache } from '../src/data/cache.js';
import { convertRows } from '../src/data/pixels.js';
import { protocolTable } from '../src/data/protocol.js';

// convertRows takes four pixels at a time when it can (row size a multiple of 4, aligned pixels): the binary
// protocol's table as the top bit of each byte, any other table as 32-bit patterns. It must give exactly the
// per-pixel table's values, for every byte value, at every position, and fall back for other sizes and offsets.
describe('convertRows', () => {
  const perPixel = (px: Uint8Array, d: number, idx: number[], table: Float32Array) => {
    const out = new Float32Array(idx.length * d);
    idx.forEach((j, i) => {
      for (let k = 0; k < d; k++) out[i * d + k] = table[px[j * d + k]];
    });
    return out;
  };
  const nearlyBinary = protocolTable('binary');
  nearlyBinary[127] = 1; // a step at 127: not the top bit, so it goes through the table
  const tables = {
    binary: protocolTable('binary'),
    continuous: protocolTable('continuous'),
    'a step at 127': nearlyBinary,
    'negative zero and others': Float32Array.from({ length: 256 }, (_, p) => (p === 0 ? -0 : (p - 128) * 0.37)),
  };
  for (const [name, table] of Object.entries(tables))
    for (const d of [784, 12, 6, 7, 1])
      it(`${name}, rows of ${d}`, () => {
        const n = 300;
        const px = new Uint8Array(n * d + 4);
        for (let i = 0; i < px.length; i++) px[i] = (i * 131 + (i >> 8)) & 255; // every byte value, both orders
        const idx = [5, 0, n - 1, 17, 17];
        const got = convertRows(px.subarray(0, n * d), d, idx, table);
        assert.deepEqual(got, perPixel(px, d, idx, table));
        for (const off of [1, 2]) {
          const shifted = px.subarray(off); // an unaligned byte offset takes the per-pixel path
          assert.deepEqual(convertRows(shifted, d, idx, table), perPixel(shifted, d, idx, table));
        }
        // into part of a larger output
        const big = new Float32Array((idx.length + 2) * d).fill(9);
        convertRows(px.subarray(0, n * d), d, idx, table, big.subarray(d, (idx.length + 1) * d));
        assert.deepEqual(big.subarray(d, (idx.length + 1) * d), perPixel(px, d, idx, table));
        assert.ok(big.subarray(0, d).every((v) => v === 9) && big.subarray((idx.length + 1) * d).every((v) => v === 9));
      });
});

// RowCache.gather: hits handed over in stretches from the slab, runs of misses loaded; a miss that evicts a row
// held for the current stretch must not change what that row reads as.
describe('RowCache.gather', () => {
  const d = 3;
  const value = (j: number) => [j, j + 0.5, -j];
  const read = (cache: RowCache, indices: number[], maxRun: number, calls: string[]) => {
    const out = new Float32Array(indices.length * d);
    cache.gather(
      indices,
      maxRun,
      (slots, at) => {
        calls.push(`hits ${slots.length}@${at}`);
        slots.forEach((s, t) => out.set(cache.slab!.subarray(s * d, (s + 1) * d), (at + t) * d));
      },
      (first, count, at) => {
        calls.push(`misses ${first}+${count}@${at}`);
        for (let t = 0; t < count; t++) {
          cache.set(first + t, value(first + t));
          out.set(value(first + t), (at + t) * d);
        }
      },
    );
    return out;
  };
  const want = (indices: number[]) => Float32Array.from(indices.flatMap(value));

  it('serves repeats, runs and gaps; evictions inside one read are safe', () => {
    const cache = new RowCache(4 * (d * 4 + 8), d, (k) => new Float32Array(k)); // 4 slots: rows j and j + 4 collide
    const calls: string[] = [];
    assert.deepEqual(read(cache, [0, 1, 2, 3], 8, calls), want([0, 1, 2, 3]));
    assert.deepEqual(calls, ['misses 0+4@0']);
    calls.length = 0;
    // 0 and 1 are hits, then 4 evicts 0 and 5 evicts 1: the hits were handed over before; 0 is loaded again
    const idx = [0, 1, 4, 5, 0, 9, 4];
    assert.deepEqual(read(cache, idx, 8, calls), want(idx));
    assert.deepEqual(calls, ['hits 2@0', 'misses 4+2@2', 'misses 0+1@4', 'misses 9+1@5', 'misses 4+1@6']);
    calls.length = 0;
    assert.deepEqual(read(cache, [10, 11, 12, 13, 14], 2, calls), want([10, 11, 12, 13, 14]));
    assert.deepEqual(calls, ['misses 10+2@0', 'misses 12+2@2', 'misses 14+1@4']); // runs of at most maxRun
  });

  it('a cache with no room: every row is a miss', () => {
    const cache = new RowCache(0, d, (k) => new Float32Array(k));
    const calls: string[] = [];
    assert.deepEqual(read(cache, [3, 3, 4], 8, calls), want([3, 3, 4]));
    assert.deepEqual(calls, ['misses 3+1@0', 'misses 3+2@1']);
  });
});
