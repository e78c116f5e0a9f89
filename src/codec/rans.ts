// rANS (Duda 2013) as a stack, the "message" of craystack / BB-ANS (Townsend, Bird & Barber 2019): a head
// state x ∈ [2^16, 2^32) and a tail of 16-bit words. push codes a symbol (start, freq) of a distribution
// quantised to 2^p (p ≤ 16), pop decodes one; pop exactly undoes push and push undoes pop, so a pop can
// *sample* from a distribution using the bits on the stack (the "bits back" of bits-back coding).
//
//   push:  if x ≥ freq·2^(32−p): emit x mod 2^16, x ← ⌊x / 2^16⌋;   x ← ⌊x / freq⌋·2^p + (x mod freq) + start
//   pop:   s = x mod 2^p (start ≤ s < start + freq);  x ← freq·⌊x / 2^p⌋ + s − start;  if x < 2^16: x ← x·2^16 + word
//
// Every value stays below 2^32, so plain JS numbers are exact (⌊x / freq⌋ of doubles is exact: the fractional
// part is at least 1/freq ≥ 2^−16 away from the next integer, far above an ulp at 2^32). No BigInt, no imul.
//
// With a 32-bit head the coding loss grows as p nears 16 (⌊x / freq⌋ keeps fewer bits when x/freq is small):
// measured on Bernoulli(0.1) symbols, about 6e-5 bits a symbol above the information at p = 14 and 1e-3 at
// p = 16. Use p ≤ 14.
//
// A pop on an empty tail reads virtual zero words ("borrowed"): the first posterior sample of bits-back coding
// costs the stream nothing then, and the decoder, which pushes them back last, finds them again as zero words
// under the initial head: the start-up bits of BB-ANS, counted in the file size as the first image's full
// −log p(x, z) rather than as random initial words.

export const RANS_LOW = 0x10000; // 2^16: the head's lower bound (and the word base)
export const MAX_PRECISION = 16;

function checkPrecision(p: number): void {
  if (!Number.isInteger(p) || p < 1 || p > MAX_PRECISION)
    throw new Error(`rANS precision must be an integer in 1…${MAX_PRECISION}, got ${p}`);
}

export class RansStack {
  private x: number;
  private words: Uint16Array;
  private n: number;
  /** Virtual zero words read by pops on an empty tail. */
  borrowed = 0;

  constructor(words?: Uint16Array, head = RANS_LOW) {
    if (!(Number.isInteger(head) && head >= RANS_LOW && head < 2 ** 32))
      throw new Error(`rANS head must be in [2^16, 2^32), got ${head}`);
    this.x = head;
    this.words = words ? Uint16Array.from(words) : new Uint16Array(1024);
    this.n = words ? words.length : 0;
  }

  /** Pushes the symbol occupying [start, start + freq) of a table that sums to 2^precision. */
  push(start: number, freq: number, precision: number): void {
    if (!(precision <= MAX_PRECISION && freq >= 1 && start >= 0 && start + freq <= 1 << precision))
      throw new Error(`rANS push: bad interval [${start}, ${start + freq}) at precision ${precision}`);
    let x = this.x;
    if (x >= freq * 2 ** (32 - precision)) {
      if (this.n === this.words.length) {
        const grown = new Uint16Array(this.words.length * 2);
        grown.set(this.words);
        this.words = grown;
      }
      this.words[this.n++] = x & 0xffff;
      x = x >>> 16;
    }
    const q = Math.floor(x / freq);
    this.x = q * (1 << precision) + (x - q * freq) + start;
  }

  /** The slot s ∈ [0, 2^precision) the next pop decodes: find the symbol whose interval holds it, then pop. */
  peek(precision: number): number {
    return this.x % (1 << precision);
  }

  /** Removes the symbol [start, start + freq) that holds peek(precision). */
  pop(start: number, freq: number, precision: number): void {
    const s = this.x % (1 << precision);
    if (!(freq >= 1 && start <= s && s < start + freq))
      throw new Error(`rANS pop: slot ${s} is not in [${start}, ${start + freq})`);
    let x = freq * Math.floor(this.x / (1 << precision)) + s - start;
    if (x < RANS_LOW) {
      let w = 0;
      if (this.n > 0) w = this.words[--this.n];
      else this.borrowed++;
      x = x * RANS_LOW + w;
    }
    this.x = x;
  }

  /** A uniform symbol 0 ≤ v < 2^bits (bits ≤ 16). */
  pushUniform(v: number, bits: number): void {
    checkPrecision(bits);
    this.push(v, 1, bits);
  }

  popUniform(bits: number): number {
    checkPrecision(bits);
    const v = this.peek(bits);
    this.pop(v, 1, bits);
    return v;
  }

  /** Pushes symbol `sym` of a cumulative table cdf (cdf[0] = 0, cdf[n] = 2^precision, every step ≥ 1). */
  pushCdf(cdf: ArrayLike<number>, sym: number, precision: number): void {
    this.push(cdf[sym], cdf[sym + 1] - cdf[sym], precision);
  }

  popCdf(cdf: ArrayLike<number>, precision: number): number {
    const s = this.peek(precision);
    let lo = 0;
    let hi = cdf.length - 1; // cdf[lo] ≤ s < cdf[hi]
    while (hi - lo > 1) {
      const mid = (lo + hi) >>> 1;
      if (cdf[mid] <= s) lo = mid;
      else hi = mid;
    }
    this.pop(cdf[lo], cdf[lo + 1] - cdf[lo], precision);
    return lo;
  }

  /** The head state. */
  get head(): number {
    return this.x;
  }

  /** Words on the tail. */
  get tailLength(): number {
    return this.n;
  }

  /** The message length in bits as serialised: 16 per tail word and 32 for the head. */
  get bits(): number {
    return 16 * this.n + 32;
  }

  /** The tail words, bottom first (a copy). */
  tail(): Uint16Array {
    return this.words.slice(0, this.n);
  }

  /** The message as bytes: tail words bottom first, then the head as two words, all little-endian. */
  toBytes(): Uint8Array {
    const out = new Uint8Array(2 * this.n + 4);
    for (let i = 0; i < this.n; i++) {
      out[2 * i] = this.words[i] & 0xff;
      out[2 * i + 1] = this.words[i] >>> 8;
    }
    const x = this.x;
    const o = 2 * this.n;
    out[o] = x & 0xff;
    out[o + 1] = (x >>> 8) & 0xff;
    out[o + 2] = (x >>> 16) & 0xff;
    out[o + 3] = x >>> 24;
    return out;
  }

  static fromBytes(bytes: Uint8Array): RansStack {
    if (bytes.length < 4 || bytes.length % 2 !== 0)
      throw new Error(`a rANS message has an even number of bytes, at least 4; got ${bytes.length}`);
    const n = (bytes.length - 4) / 2;
    const words = new Uint16Array(n);
    for (let i = 0; i < n; i++) words[i] = bytes[2 * i] | (bytes[2 * i + 1] << 8);
    const o = 2 * n;
    const head = (bytes[o] | (bytes[o + 1] << 8) | (bytes[o + 2] << 16)) + bytes[o + 3] * 2 ** 24;
    if (head < RANS_LOW) throw new Error(`a rANS message's head must be at least 2^16, got ${head}`);
    return new RansStack(words, head);
  }
}

/**
 * Integer frequencies summing to 2^precision from non-negative weights, none zero: each symbol gets 1 and
 * the rest, 2^p − n, is shared in proportion to the weights (cumulative rounding, so the sum is exact).
 * Returns the cumulative table [0, c_1, …, 2^p].
 */
export function quantizeCdf(weights: ArrayLike<number>, precision: number): Uint32Array {
  checkPrecision(precision);
  const n = weights.length;
  const M = 2 ** precision;
  if (n < 1 || n > M) throw new Error(`quantizeCdf: need 1…${M} symbols at precision ${precision}, got ${n}`);
  let total = 0;
  for (let i = 0; i < n; i++) {
    const w = weights[i];
    if (!(w >= 0 && Number.isFinite(w))) throw new Error(`quantizeCdf: weight ${i} is ${w}`);
    total += w;
  }
  const cdf = new Uint32Array(n + 1);
  const spare = M - n;
  let acc = 0;
  for (let i = 0; i < n; i++) {
    acc += weights[i];
    const c = total > 0 ? Math.round((acc / total) * spare) : Math.round(((i + 1) / n) * spare);
    cdf[i + 1] = Math.min(c, spare) + i + 1;
  }
  cdf[n] = M;
  return cdf;
}
