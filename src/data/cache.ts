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
    if (!this.data) return undefined;
    const s = k % this.slots;
    if (this.tags[s] !== k + 1) return undefined;
    return this.data.subarray(s * this.rowSize, (s + 1) * this.rowSize) as T;
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
