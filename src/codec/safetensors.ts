// The safetensors format (https://github.com/huggingface/safetensors), read and written in plain
// TypeScript so saved weights open directly in PyTorch / Hugging Face tools and vice versa.
//
//   [u64 little-endian N][N bytes JSON header, space-padded so 8+N is a multiple of 8][data]
//
// header: { "__metadata__"?: {string: string}, name: {dtype, shape, data_offsets: [begin, end]} }
// Offsets are relative to the start of the data section; tensors are stored contiguously, without
// gaps or overlaps, covering the whole data section, little-endian, row-major.

interface DtypeArrays {
  F64: Float64Array;
  F32: Float32Array;
  I64: BigInt64Array;
  U64: BigUint64Array;
  I32: Int32Array;
  U32: Uint32Array;
  I16: Int16Array;
  U16: Uint16Array;
  I8: Int8Array;
  U8: Uint8Array;
}

/** Element types this module reads and writes (F16/BF16/BOOL files are rejected with a clear error). */
export type Dtype = keyof DtypeArrays;

export type AnyTypedArray = DtypeArrays[Dtype] | Uint8ClampedArray;

/** A decoded tensor; `data` is a fresh, properly aligned typed array matching `dtype`. */
export type SafeTensor = { [D in Dtype]: { dtype: D; shape: number[]; data: DtypeArrays[D] } }[Dtype];

/** What encodeSafetensors accepts: `data` must be the typed array of `dtype` (checked at run time;
 *  U8 also takes Uint8ClampedArray / Buffer) with shape-product elements. */
export interface TensorInput {
  dtype: Dtype;
  shape: readonly number[];
  data: AnyTypedArray;
}

export interface SafetensorsFile {
  tensors: Record<string, SafeTensor>;
  /** The `__metadata__` string map ({} when the file has none). */
  metadata: Record<string, string>;
}

type Ctor = { new (buf: ArrayBuffer, offset: number, length: number): AnyTypedArray; BYTES_PER_ELEMENT: number };

const DTYPES: Record<Dtype, { size: number; ctor: Ctor }> = {
  F64: { size: 8, ctor: Float64Array },
  F32: { size: 4, ctor: Float32Array },
  I64: { size: 8, ctor: BigInt64Array },
  U64: { size: 8, ctor: BigUint64Array },
  I32: { size: 4, ctor: Int32Array },
  U32: { size: 4, ctor: Uint32Array },
  I16: { size: 2, ctor: Int16Array },
  U16: { size: 2, ctor: Uint16Array },
  I8: { size: 1, ctor: Int8Array },
  U8: { size: 1, ctor: Uint8Array },
};

/** Largest header accepted when reading (the reference implementation's limit). */
export const MAX_HEADER_BYTES = 100_000_000;

const METADATA_KEY = '__metadata__';
const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export class SafetensorsError extends Error {
  override name = 'SafetensorsError';
}

/** obj[key] = value as an own property, also for the key "__proto__". */
function setOwn<T>(obj: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

function isDtype(s: unknown): s is Dtype {
  return typeof s === 'string' && Object.prototype.hasOwnProperty.call(DTYPES, s);
}

function numElements(shape: readonly unknown[], what: string): number {
  let n = 1;
  for (const d of shape) {
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) {
      throw new SafetensorsError(`${what}: shape ${JSON.stringify(shape)} must contain non-negative integers`);
    }
    n *= d;
    if (!Number.isSafeInteger(n)) throw new SafetensorsError(`${what}: shape ${JSON.stringify(shape)} is too large`);
  }
  return n;
}

/** Copy `src` bytes into `dst` at `at`, converting to little-endian on big-endian hosts. */
function putLE(dst: Uint8Array, at: number, src: Uint8Array, elemSize: number): void {
  dst.set(src, at);
  if (!LITTLE_ENDIAN_HOST && elemSize > 1) swapBytes(dst.subarray(at, at + src.length), elemSize);
}

function swapBytes(bytes: Uint8Array, elemSize: number): void {
  for (let i = 0; i < bytes.length; i += elemSize) {
    for (let a = i, b = i + elemSize - 1; a < b; a++, b--) {
      const t = bytes[a];
      bytes[a] = bytes[b];
      bytes[b] = t;
    }
  }
}

function dataMatchesDtype(dtype: Dtype, data: unknown): boolean {
  if (dtype === 'U8' && data instanceof Uint8ClampedArray) return true;
  return data instanceof (DTYPES[dtype].ctor as unknown as typeof Uint8Array);
}

/**
 * Serialize tensors (and an optional string→string metadata map) to safetensors bytes. Tensors are
 * laid out by decreasing element size (then in the given order) so every tensor is naturally
 * aligned in the data section, as the reference implementation does.
 */
export function encodeSafetensors(tensors: Record<string, TensorInput>, metadata?: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata !== undefined) {
    if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) {
      throw new SafetensorsError('metadata must be an object of strings');
    }
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new SafetensorsError(`metadata "${k}" must be a string, got ${typeof v}`);
    }
    const m: Record<string, string> = {};
    for (const [k, v] of Object.entries(metadata)) setOwn(m, k, v);
    header[METADATA_KEY] = m;
  }

  const entries = Object.entries(tensors).map(([name, t], index) => {
    if (name === '') throw new SafetensorsError('tensor names must be non-empty');
    if (name === METADATA_KEY) throw new SafetensorsError(`"${METADATA_KEY}" is reserved and cannot name a tensor`);
    if (!t || typeof t !== 'object') throw new SafetensorsError(`tensor "${name}": expected {dtype, shape, data}`);
    if (!isDtype(t.dtype)) {
      throw new SafetensorsError(
        `tensor "${name}": unsupported dtype ${JSON.stringify(t.dtype)} (supported: ${Object.keys(DTYPES).join(', ')})`,
      );
    }
    if (!Array.isArray(t.shape)) throw new SafetensorsError(`tensor "${name}": shape must be an array`);
    const n = numElements(t.shape, `tensor "${name}"`);
    if (!dataMatchesDtype(t.dtype, t.data)) {
      const got = (t.data as object | undefined)?.constructor?.name ?? typeof t.data;
      throw new SafetensorsError(`tensor "${name}": dtype ${t.dtype} needs a ${DTYPES[t.dtype].ctor.name}, got ${got}`);
    }
    if (t.data.length !== n) {
      throw new SafetensorsError(
        `tensor "${name}": shape ${JSON.stringify(t.shape)} has ${n} elements but data has ${t.data.length}`,
      );
    }
    const size = DTYPES[t.dtype].size;
    return { name, t, index, size, bytes: n * size };
  });
  entries.sort((a, b) => b.size - a.size || a.index - b.index);

  let offset = 0;
  for (const e of entries) {
    setOwn(header, e.name, { dtype: e.t.dtype, shape: [...e.t.shape], data_offsets: [offset, offset + e.bytes] });
    offset += e.bytes;
  }
  const dataLen = offset;

  const json = new TextEncoder().encode(JSON.stringify(header));
  const headerLen = Math.ceil((8 + json.length) / 8) * 8 - 8;
  const out = new Uint8Array(8 + headerLen + dataLen);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLen), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerLen);
  let at = 8 + headerLen;
  for (const e of entries) {
    const d = e.t.data;
    putLE(out, at, new Uint8Array(d.buffer, d.byteOffset, e.bytes), e.size);
    at += e.bytes;
  }
  return out;
}

export interface DecodeOptions {
  /** Named in error messages, e.g. the file path. */
  source?: string;
}

/** One tensor's entry in a safetensors header: byte offsets relative to the data section. */
export interface SafetensorsEntry {
  name: string;
  dtype: Dtype;
  shape: number[];
  begin: number;
  end: number;
}

/** A parsed, validated safetensors header: where the data section starts, the metadata and each tensor's entry. */
export interface SafetensorsHeader {
  dataStart: number;
  metadata: Record<string, string>;
  entries: SafetensorsEntry[];
}

function failer(opts: DecodeOptions): (msg: string) => never {
  const where = opts.source ? `${opts.source}: ` : '';
  return (msg: string): never => {
    throw new SafetensorsError(`${where}invalid safetensors: ${msg}`);
  };
}

/**
 * The header's length N from the file's first 8 bytes (of a file of `fileLength` bytes), checked: the file
 * holds the header, which is under the limit. The header is bytes [8, 8 + N).
 */
export function safetensorsHeaderLength(first: Uint8Array, fileLength: number, opts: DecodeOptions = {}): number {
  const fail = failer(opts);
  if (!(first instanceof Uint8Array)) fail('expected a Uint8Array/Buffer');
  if (first.length < 8 || fileLength < 8)
    fail(`file is ${Math.min(first.length, fileLength)} bytes, too short for the 8-byte header length`);
  const n64 = new DataView(first.buffer, first.byteOffset, 8).getBigUint64(0, true);
  if (n64 > BigInt(fileLength - 8))
    fail(`header length ${n64} exceeds the ${fileLength - 8} bytes after the length field`);
  if (n64 > BigInt(MAX_HEADER_BYTES)) fail(`header length ${n64} exceeds the limit of ${MAX_HEADER_BYTES} bytes`);
  const n = Number(n64);
  if (n < 2) fail(`header length ${n} is too small for a JSON object`);
  return n;
}

/**
 * Parses and validates the header of a safetensors file of `fileLength` bytes from its first bytes (`head`:
 * at least the 8 + N bytes of the length field and the header; the whole file will do). Checks the JSON and
 * entries, that each tensor's byte range equals dtype size × shape product, and that the ranges are in
 * bounds, non-overlapping and cover the data section exactly. A reader that fetches parts of a file (HTTP
 * Range requests) reads the header with this, then only the tensors it needs (safetensorsTensor).
 */
export function decodeSafetensorsHeader(
  head: Uint8Array,
  fileLength: number,
  opts: DecodeOptions = {},
): SafetensorsHeader {
  const fail = failer(opts);
  const n = safetensorsHeaderLength(head, fileLength, opts);
  if (head.length < 8 + n) fail(`the header needs ${8 + n} bytes, got ${head.length}`);

  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(head.subarray(8, 8 + n));
  } catch {
    return fail('header is not valid UTF-8');
  }
  if (!text.startsWith('{')) fail('header does not start with "{"');
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    return fail(`header is not valid JSON (${(e as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) fail('header is not a JSON object');

  const dataStart = 8 + n;
  const dataLen = fileLength - dataStart;
  const metadata: Record<string, string> = {};
  const infos: SafetensorsEntry[] = [];
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === METADATA_KEY) {
      if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
        fail(`"${METADATA_KEY}" must be an object of strings`);
      for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
        if (typeof v !== 'string') fail(`"${METADATA_KEY}" value "${k}" is not a string`);
        setOwn(metadata, k, v as string);
      }
      continue;
    }
    const what = `tensor "${name}"`;
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail(`${what} entry is not an object`);
    const { dtype, shape, data_offsets } = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (!isDtype(dtype)) {
      fail(`${what} has unsupported dtype ${JSON.stringify(dtype)} (supported: ${Object.keys(DTYPES).join(', ')})`);
    }
    if (!Array.isArray(shape)) fail(`${what} has no shape array`);
    let count: number;
    try {
      count = numElements(shape as unknown[], what);
    } catch (e) {
      return fail((e as Error).message);
    }
    if (
      !Array.isArray(data_offsets) ||
      data_offsets.length !== 2 ||
      !data_offsets.every((x) => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0)
    ) {
      fail(`${what} data_offsets must be [begin, end] non-negative integers, got ${JSON.stringify(data_offsets)}`);
    }
    const [begin, end] = data_offsets as [number, number];
    if (end < begin) fail(`${what} data_offsets [${begin}, ${end}] end before begin`);
    if (end > dataLen) fail(`${what} data_offsets [${begin}, ${end}] run past the ${dataLen}-byte data section`);
    const expected = count * DTYPES[dtype as Dtype].size;
    if (end - begin !== expected) {
      fail(
        `${what}: ${dtype} ${JSON.stringify(shape)} needs ${expected} bytes but data_offsets [${begin}, ${end}] span ${end - begin}`,
      );
    }
    infos.push({ name, dtype: dtype as Dtype, shape: (shape as number[]).slice(), begin, end });
  }

  const sorted = [...infos].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let pos = 0;
  for (const t of sorted) {
    if (t.begin < pos) fail(`tensor "${t.name}" [${t.begin}, ${t.end}] overlaps the previous tensor (ends at ${pos})`);
    if (t.begin > pos) fail(`gap in the data section: bytes [${pos}, ${t.begin}) belong to no tensor`);
    pos = t.end;
  }
  if (pos !== dataLen) fail(`data section is ${dataLen} bytes but tensors cover only ${pos} (trailing bytes)`);

  return { dataStart, metadata, entries: infos };
}

/** A tensor's data from the bytes of its range [dataStart + begin, dataStart + end): a fresh, aligned typed array. */
export function safetensorsTensor(entry: SafetensorsEntry, bytes: Uint8Array): SafeTensor {
  const { size, ctor } = DTYPES[entry.dtype];
  if (bytes.length !== entry.end - entry.begin)
    throw new SafetensorsError(`tensor "${entry.name}": ${bytes.length} bytes, expected ${entry.end - entry.begin}`);
  // Fresh, aligned copy. (Not buf.slice: on a Node Buffer that is a view into the same memory.)
  const copy = new Uint8Array(bytes.length);
  copy.set(bytes);
  if (!LITTLE_ENDIAN_HOST && size > 1) swapBytes(copy, size);
  return { dtype: entry.dtype, shape: entry.shape, data: new ctor(copy.buffer, 0, bytes.length / size) } as SafeTensor;
}

/**
 * Parse and validate safetensors bytes (decodeSafetensorsHeader's checks over the whole file). Tensor data is
 * copied into fresh typed arrays (independent of `buf`).
 */
export function decodeSafetensors(buf: Uint8Array, opts: DecodeOptions = {}): SafetensorsFile {
  if (!(buf instanceof Uint8Array)) failer(opts)('expected a Uint8Array/Buffer');
  const { dataStart, metadata, entries } = decodeSafetensorsHeader(buf, buf.length, opts);
  const tensors: Record<string, SafeTensor> = {};
  for (const t of entries)
    setOwn(tensors, t.name, safetensorsTensor(t, buf.subarray(dataStart + t.begin, dataStart + t.end)));
  return { tensors, metadata };
}
