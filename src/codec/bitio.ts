// Byte and bit I/O over Uint8Arrays (little-endian integers, LEB128 varints, UTF-8 strings; bits LSB first).
// Readers throw a TruncatedError naming what was being read when the bytes run out.

export class TruncatedError extends Error {
  constructor(what: string) {
    super(`truncated: the data ends inside ${what}`);
    this.name = 'TruncatedError';
  }
}

export class ByteWriter {
  private buf = new Uint8Array(256);
  private n = 0;

  private room(k: number): void {
    if (this.n + k <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.n + k) size *= 2;
    const b = new Uint8Array(size);
    b.set(this.buf.subarray(0, this.n));
    this.buf = b;
  }

  get length(): number {
    return this.n;
  }

  u8(v: number): this {
    this.room(1);
    this.buf[this.n++] = v & 0xff;
    return this;
  }

  u16(v: number): this {
    return this.u8(v).u8(v >>> 8);
  }

  u32(v: number): this {
    if (!(Number.isInteger(v) && v >= 0 && v < 2 ** 32)) throw new Error(`u32 out of range: ${v}`);
    return this.u16(v & 0xffff).u16(v >>> 16);
  }

  /** An unsigned LEB128 integer (any safe integer ≥ 0). */
  varint(v: number): this {
    if (!(Number.isSafeInteger(v) && v >= 0)) throw new Error(`varint out of range: ${v}`);
    while (v >= 0x80) {
      this.u8((v % 0x80) | 0x80);
      v = Math.floor(v / 0x80);
    }
    return this.u8(v);
  }

  bytes(b: Uint8Array): this {
    this.room(b.length);
    this.buf.set(b, this.n);
    this.n += b.length;
    return this;
  }

  /** A UTF-8 string with its byte length as a varint in front. */
  string(s: string): this {
    const b = new TextEncoder().encode(s);
    return this.varint(b.length).bytes(b);
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.n);
  }
}

export class ByteReader {
  pos = 0;
  constructor(readonly buf: Uint8Array) {}

  get remaining(): number {
    return this.buf.length - this.pos;
  }

  private need(k: number, what: string): void {
    if (this.pos + k > this.buf.length) throw new TruncatedError(what);
  }

  u8(what = 'a byte'): number {
    this.need(1, what);
    return this.buf[this.pos++];
  }

  u16(what = 'a 16-bit integer'): number {
    this.need(2, what);
    const v = this.buf[this.pos] | (this.buf[this.pos + 1] << 8);
    this.pos += 2;
    return v;
  }

  u32(what = 'a 32-bit integer'): number {
    this.need(4, what);
    const lo = this.u16(what);
    return lo + this.u16(what) * 0x10000;
  }

  varint(what = 'a varint'): number {
    let v = 0;
    let scale = 1;
    for (;;) {
      const b = this.u8(what);
      v += (b & 0x7f) * scale;
      if (b < 0x80) break;
      scale *= 0x80;
      if (scale > 2 ** 49) throw new Error(`${what}: varint too long`);
    }
    return v;
  }

  bytes(k: number, what = `${k} bytes`): Uint8Array {
    this.need(k, what);
    const b = this.buf.subarray(this.pos, this.pos + k);
    this.pos += k;
    return b;
  }

  string(what = 'a string'): string {
    const k = this.varint(what);
    return new TextDecoder('utf-8', { fatal: true }).decode(this.bytes(k, what));
  }
}

/** Bits, least significant first within each byte. */
export class BitWriter {
  private out = new ByteWriter();
  private acc = 0;
  private fill = 0;
  private count = 0;

  /** The low `k` bits of v (k ≤ 24). */
  write(v: number, k = 1): this {
    if (!(Number.isInteger(k) && k >= 0 && k <= 24)) throw new Error(`BitWriter: 0…24 bits at a time, got ${k}`);
    this.acc |= (v & ((1 << k) - 1)) << this.fill;
    this.fill += k;
    this.count += k;
    while (this.fill >= 8) {
      this.out.u8(this.acc & 0xff);
      this.acc >>>= 8;
      this.fill -= 8;
    }
    return this;
  }

  get bits(): number {
    return this.count;
  }

  /** The bytes, the last one zero-padded. */
  finish(): Uint8Array {
    if (this.fill > 0) this.out.u8(this.acc & 0xff);
    this.acc = 0;
    this.fill = 0;
    return this.out.finish();
  }
}

export class BitReader {
  private pos = 0; // bit position
  constructor(private readonly buf: Uint8Array) {}

  read(k = 1): number {
    if (!(Number.isInteger(k) && k >= 0 && k <= 24)) throw new Error(`BitReader: 0…24 bits at a time, got ${k}`);
    if (this.pos + k > this.buf.length * 8) throw new TruncatedError(`${k} bits at bit ${this.pos}`);
    let v = 0;
    for (let i = 0; i < k; i++) {
      const p = this.pos + i;
      v |= ((this.buf[p >>> 3] >>> (p & 7)) & 1) << i;
    }
    this.pos += k;
    return v;
  }
}

/** Packs 0/1 values (anything non-zero counts as 1) into bytes, LSB first. */
export function packBits(values: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(Math.ceil(values.length / 8));
  for (let i = 0; i < values.length; i++) if (values[i]) out[i >>> 3] |= 1 << (i & 7);
  return out;
}

export function unpackBits(bytes: Uint8Array, n: number): Uint8Array {
  if (bytes.length * 8 < n) throw new TruncatedError(`${n} packed bits`);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (bytes[i >>> 3] >>> (i & 7)) & 1;
  return out;
}
