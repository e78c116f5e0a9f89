// Deterministic batching. The order of epoch e is `new Rng(epochSeed(seed, e)).permutation(n)`, so (seed,
// epoch, startStep) alone reproduce the remaining batches of a resumed epoch (the checkpoint holds epoch and
// step). Each batch reads its rows into a fresh, small array (src/data/split.ts), from memory or from a
// source; the data set itself is never copied per epoch.
import { Rng } from '../rng.js';
import { readRows, readRowsAsync, rowSize } from './split.js';
import type { Split } from './types.js';

function fmix32(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** The 32-bit seed of epoch `epoch`'s order; a pure function of (seed, epoch). */
export function epochSeed(seed: number, epoch: number): number {
  if (!Number.isSafeInteger(seed)) throw new Error(`batches: seed must be a safe integer, got ${seed}`);
  if (!Number.isSafeInteger(epoch) || epoch < 0)
    throw new Error(`batches: epoch must be a non-negative integer, got ${epoch}`);
  const lo = seed >>> 0;
  const hi = Math.floor(seed / 4294967296) >>> 0;
  let h = fmix32(lo ^ 0x9e3779b9);
  h = fmix32(h ^ Math.imul(hi ^ 0x7f4a7c15, 0x27d4eb2f));
  h = fmix32(h ^ Math.imul((epoch >>> 0) + 1, 0x165667b1));
  return fmix32(h ^ Math.imul(Math.floor(epoch / 4294967296) >>> 0, 0x9e3779b1));
}

export function stepsPerEpoch(n: number, batchSize: number, dropLast: boolean): number {
  if (!Number.isInteger(n) || n < 0) throw new Error(`stepsPerEpoch: n must be a non-negative integer, got ${n}`);
  if (!Number.isInteger(batchSize) || batchSize < 1)
    throw new Error(`batchSize must be a positive integer, got ${batchSize}`);
  return dropLast ? Math.floor(n / batchSize) : Math.ceil(n / batchSize);
}

export interface Batch {
  /** size rows, contiguous, in a fresh array. */
  x: Float32Array;
  y?: Int32Array;
  /** Row indices into the split. */
  indices: Uint32Array;
  /** Step within the epoch, 0-based. */
  step: number;
  size: number;
}

export interface BatchOptions {
  batchSize: number;
  seed: number;
  epoch: number;
  /** First step to yield (resume mid-epoch); steps before it are skipped without reading. */
  startStep?: number;
  shuffle?: boolean; // default true
  dropLast?: boolean; // default false
}

/** The order of one epoch: a seeded permutation, or 0..n-1 when not shuffling. */
export function epochOrder(n: number, opts: { seed: number; epoch: number; shuffle?: boolean }): Uint32Array {
  if (opts.shuffle === false) {
    const p = new Uint32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    return p;
  }
  return new Rng(epochSeed(opts.seed, opts.epoch)).permutation(n);
}

/** The row indices of each remaining step of an epoch, in order. */
function* plan(split: Split, opts: BatchOptions): Generator<{ step: number; indices: Uint32Array }> {
  const { batchSize } = opts;
  const startStep = opts.startStep ?? 0;
  const n = split.n;
  const d = rowSize(split);
  if (split.x && split.x.length !== n * d)
    throw new Error(`batches: split has ${split.x.length} values, not ${n} × ${d}`);
  if (split.source && (split.source.n !== n || split.source.rowSize !== d))
    throw new Error(
      `batches: the split's source has ${split.source.n} rows of ${split.source.rowSize}, not ${n} × ${d}`,
    );
  const steps = stepsPerEpoch(n, batchSize, opts.dropLast ?? false);
  if (!Number.isInteger(startStep) || startStep < 0 || startStep > steps) {
    throw new RangeError(`batches: startStep must be an integer in 0..${steps}, got ${startStep}`);
  }
  const order = epochOrder(n, { seed: opts.seed, epoch: opts.epoch, shuffle: opts.shuffle });
  for (let step = startStep; step < steps; step++) {
    const start = step * batchSize;
    yield { step, indices: order.slice(start, Math.min(n, start + batchSize)) };
  }
}

function labels(split: Split, indices: Uint32Array): Int32Array | undefined {
  return split.y ? Int32Array.from(indices, (j) => split.y![j]) : undefined;
}

export function* batches(split: Split, opts: BatchOptions): Generator<Batch> {
  for (const { step, indices } of plan(split, opts)) {
    const x = readRows(split, indices);
    yield { x, y: labels(split, indices), indices, step, size: indices.length };
  }
}

/**
 * The same batches as `batches`, with the next one read while the caller works on the current one
 * (readAsync, on worker threads where the source has them). A caller that stops early leaves at most one
 * read in flight, whose result is dropped.
 */
export async function* prefetchBatches(split: Split, opts: BatchOptions): AsyncGenerator<Batch> {
  const it = plan(split, opts);
  const read = (p: { step: number; indices: Uint32Array }) => {
    const x = readRowsAsync(split, p.indices);
    x.catch(() => {}); // awaited below; this only keeps an abandoned read from being an unhandled rejection
    return { ...p, x };
  };
  let r = it.next();
  let next = r.done ? null : read(r.value);
  while (next) {
    const cur = next;
    r = it.next();
    next = r.done ? null : read(r.value);
    const x = await cur.x;
    yield { x, y: labels(split, cur.indices), indices: cur.indices, step: cur.step, size: cur.indices.length };
  }
}
