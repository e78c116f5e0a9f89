// A bounded cache of rows (least recently used goes first), sized in bytes. Lazy sources keep the rows they
// parsed or decoded here; the budget comes from VAEKIT_DATA_CACHE_MB (default 256 MB, 0 disables it).

export const DATA_CACHE_ENV = 'VAEKIT_DATA_CACHE_MB';
export const DEFAULT_DATA_CACHE_MB = 256;

/** The cache budget in bytes from the environment; a bad value is an error naming the variable. */
export function cacheBudget(env: Record<string, string | undefined> = process.env): number {
  const v = env[DATA_CACHE_ENV];
  if (v === undefined || v === '') return DEFAULT_DATA_CACHE_MB * 2 ** 20;
  const mb = Number(v);
  if (!(Number.isFinite(mb) && mb >= 0)) throw new Error(`${DATA_CACHE_ENV}=${v}: give a size in MB (0 or more)`);
  return Math.floor(mb * 2 ** 20);
}

type Rows = Float32Array | Uint8Array;

/**
 * Direct-mapped: row k lives in slot k mod slots of one preallocated slab (a newer row takes an older one's
 * slot), so the cache costs no JS objects per row, only typed-array memory, and the V8 heap stays small
 * however many rows pass through it. Pages of the slab become resident only as they are written.
 */
export class RowCache<T extends Rows = Float32Array> {
  readonly budget: number;
  private readonly slots: number;
  private readonly data: T | null;
  private readonly tags: Float64Array; // k + 1 of the row in each slot, 0 when empty
  private filled = 0;
  private hitSlots = new Uint32Array(0); // gather's scratch

  constructor(
    budget: number,
    private readonly rowSize: number,
    make: (length: number) => T,
  ) {
    const rowBytes = rowSize * make(0).BYTES_PER_ELEMENT + 8;
    this.slots = rowSize > 0 ? Math.floor(budget / rowBytes) : 0;
    this.budget = this.slots * rowBytes;
    this.data = this.slots > 0 ? make(this.slots * rowSize) : null;
    this.tags = new Float64Array(this.slots);
  }

  /** Row k (a view into the slab: copy it before the next set), or undefined. */
  get(k: number): T | undefined {
    const s = this.slotOf(k);
    return s < 0 ? undefined : (this.data!.subarray(s * this.rowSize, (s + 1) * this.rowSize) as T);
  }

  /** The slot holding row k (its values are slab[slot × rowSize, (slot + 1) × rowSize)), or -1. */
  slotOf(k: number): number {
    if (!this.data) return -1;
    const s = k % this.slots;
    return this.tags[s] === k + 1 ? s : -1;
  }

  /** The slab of all slots (null when the budget holds no row). */
  get slab(): T | null {
    return this.data;
  }

  /**
   * Serves rows `indices` (in order, to output positions 0, 1, …) through the cache without a call or an
   * allocation per row: each stretch of consecutive hits goes to `hits(slots, at)` in one call (the slab slots
   * holding them, for positions at, at + 1, …), each run of consecutive uncached rows j, j + 1, … (at most
   * `maxRun`) to `misses(j, count, at)`, which must write them out and may cache them (and any others). The hits
   * before a run are handed over before its misses load, since caching a row can evict one of them.
   */
  gather(
    indices: ArrayLike<number>,
    maxRun: number,
    hits: (slots: Uint32Array, at: number) => void,
    misses: (first: number, count: number, at: number) => void,
  ): void {
    if (this.hitSlots.length < indices.length) this.hitSlots = new Uint32Array(indices.length);
    const slots = this.hitSlots;
    let from = 0; // output position of slots[0]
    let held = 0; // hits held in slots
    for (let i = 0; i < indices.length;) {
      const j = indices[i];
      const s = this.slotOf(j);
      if (s >= 0) {
        slots[held++] = s;
        i++;
        continue;
      }
      if (held > 0) hits(slots.subarray(0, held), from);
      let m = 1; // uncached rows j, j+1, … at positions i, i+1, …
      while (m < maxRun && i + m < indices.length && indices[i + m] === j + m && this.slotOf(j + m) < 0) m++;
      misses(j, m, i);
      i += m;
      from = i;
      held = 0;
    }
    if (held > 0) hits(slots.subarray(0, held), from);
  }

  set(k: number, v: ArrayLike<number>): void {
    if (!this.data) return;
    const s = k % this.slots;
    if (this.tags[s] === 0) this.filled++;
    this.tags[s] = k + 1;
    (this.data as Rows).set(v, s * this.rowSize);
  }

  /** Bytes of the slab holding rows (written pages). */
  get bytes(): number {
    return this.filled * (this.rowSize * (this.data?.BYTES_PER_ELEMENT ?? 0) + 8);
  }
}
