import { it } from 'node:test';
import assert from 'node:assert/strict';
import {
  batches,
  epochOrder,
  epochSeed,
  gatherRows,
  stepsPerEpoch,
  take,
  type Batch,
  type MemorySplit,
  type Split,
} from '../src/data/dataset.js';

/** n rows of 3 values; row i = [i, i + 0.25, -i], label i % 7. */
function split(n: number): MemorySplit {
  const x = new Float32Array(n * 3);
  for (let i = 0; i < n; i++) x.set([i, i + 0.25, -i], i * 3);
  return { x, n, shape: [3], y: Int32Array.from({ length: n }, (_, i) => i % 7) };
}

const all = (s: MemorySplit | Split, o: Parameters<typeof batches>[1]): Batch[] => [...batches(s, o)];

it('stepsPerEpoch', () => {
  assert.equal(stepsPerEpoch(10, 3, false), 4);
  assert.equal(stepsPerEpoch(10, 3, true), 3);
  assert.equal(stepsPerEpoch(9, 3, true), 3);
  assert.equal(stepsPerEpoch(2, 3, true), 0);
  assert.equal(stepsPerEpoch(0, 3, false), 0);
  assert.throws(() => stepsPerEpoch(10, 0, false), /batchSize must be a positive integer/);
});

it('batches: every index exactly once per epoch, rows and labels gathered correctly', () => {
  const s = split(103);
  const bs = all(s, { batchSize: 10, seed: 42, epoch: 0 });
  assert.equal(bs.length, 11);
  assert.deepEqual(
    bs.map((b) => b.step),
    [...Array(11).keys()],
  );
  assert.deepEqual(
    bs.map((b) => b.size),
    [...Array(10).fill(10), 3],
  );
  const seen = new Uint8Array(103);
  for (const b of bs) {
    assert.equal(b.x.length, b.size * 3);
    assert.equal(b.indices.length, b.size);
    for (let i = 0; i < b.size; i++) {
      const j = b.indices[i];
      seen[j]++;
      assert.deepEqual(Array.from(b.x.subarray(i * 3, i * 3 + 3)), [j, j + 0.25, -j]);
      assert.equal(b.y![i], j % 7);
    }
    assert.notEqual(b.x.buffer, s.x.buffer); // fresh arrays, not views
  }
  assert.ok(seen.every((c) => c === 1));
  // Shuffled: not the identity order.
  assert.notDeepEqual(Array.from(bs[0].indices), [...Array(10).keys()]);
});

it('batches: deterministic in (seed, epoch); epochs and seeds differ', () => {
  const s = split(50);
  const order = (seed: number, epoch: number) =>
    all(s, { batchSize: 8, seed, epoch }).flatMap((b) => Array.from(b.indices));
  assert.deepEqual(order(1, 0), order(1, 0));
  assert.deepEqual(order(1, 3), Array.from(epochOrder(50, { seed: 1, epoch: 3 })));
  assert.notDeepEqual(order(1, 0), order(1, 1));
  assert.notDeepEqual(order(1, 0), order(2, 0));
  assert.notDeepEqual(order(0, 1), order(1, 0));
  assert.notEqual(epochSeed(2 ** 32, 0), epochSeed(0, 0)); // high seed bits matter
  assert.throws(() => epochSeed(1.5, 0), /seed must be a safe integer/);
  assert.throws(() => epochSeed(1, -1), /epoch must be a non-negative integer/);
});

it('batches: resuming at startStep gives the same remaining batches', () => {
  const s = split(77);
  const opts = { batchSize: 9, seed: 7, epoch: 5 };
  const full = all(s, opts);
  for (const start of [0, 1, 4, 8, 9]) {
    const rest = all(s, { ...opts, startStep: start });
    assert.deepEqual(rest, full.slice(start));
  }
  assert.throws(() => all(s, { ...opts, startStep: 10 }), /startStep must be an integer in 0\.\.9/);
});

it('batches: dropLast, no shuffle, split without labels', () => {
  const s = split(25);
  const d = all(s, { batchSize: 10, seed: 1, epoch: 0, dropLast: true });
  assert.equal(d.length, 2);
  assert.ok(d.every((b) => b.size === 10));
  const dropped = new Set(d.flatMap((b) => Array.from(b.indices)));
  assert.equal(dropped.size, 20);
  const ns = all(s, { batchSize: 10, seed: 1, epoch: 0, shuffle: false });
  assert.deepEqual(
    ns.flatMap((b) => Array.from(b.indices)),
    [...Array(25).keys()],
  );
  const unl = all({ x: s.x, n: s.n, shape: s.shape }, { batchSize: 10, seed: 1, epoch: 0 });
  assert.equal(unl[0].y, undefined);
});

it('take and gatherRows', () => {
  const s = split(10);
  const t = take(s, 4);
  assert.equal(t.n, 4);
  assert.equal(t.x.length, 12);
  assert.equal(t.x.buffer, s.x.buffer); // a view
  assert.deepEqual(Array.from(t.y!), [0, 1, 2, 3]);
  assert.equal(take(s, 99).n, 10);
  const g = gatherRows(s, [9, 0]);
  assert.deepEqual(Array.from(g.x), [9, 9.25, -9, 0, 0.25, -0]);
  assert.throws(() => gatherRows(s, [10]), /index 10 out of range/);
});

it('batches over a 60000-row image-sized split stay fast (one permutation, no dataset copy)', () => {
  const n = 60000;
  const s: Split = { x: new Float32Array(n * 784), n, shape: [28, 28, 1] };
  const t0 = Date.now();
  let rows = 0;
  for (const b of batches(s, { batchSize: 128, seed: 3, epoch: 2 })) rows += b.size;
  assert.equal(rows, n);
  assert.ok(Date.now() - t0 < 5000);
});
