// IDX reader/writer (the MNIST / Fashion-MNIST container format), for raw or gzip-compressed bytes.
//
// Layout: magic = 0x00 0x00 <dtype> <ndims>, then ndims big-endian uint32 dimensions, then the data,
// row-major, big-endian for multi-byte types. The reader checks every part and that the data length
// matches the dimensions exactly; any problem is an Error naming the file and what is wrong.

import { readFile, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { gunzip, gunzipSync, gzipSync } from 'node:zlib';
import { promisify } from 'node:util';

const gunzipAsync = promisify(gunzip);

export type IdxDtype = 'uint8' | 'int8' | 'int16' | 'int32' | 'float32' | 'float64';
export type IdxData = Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;

export interface IdxArray {
  dims: number[];
  data: IdxData;
  dtype: IdxDtype;
}

interface DtypeInfo {
  code: number;
  dtype: IdxDtype;
  bytes: number;
}

const DTYPES: DtypeInfo[] = [
  { code: 0x08, dtype: 'uint8', bytes: 1 },
  { code: 0x09, dtype: 'int8', bytes: 1 },
  { code: 0x0b, dtype: 'int16', bytes: 2 },
  { code: 0x0c, dtype: 'int32', bytes: 4 },
  { code: 0x0d, dtype: 'float32', bytes: 4 },
  { code: 0x0e, dtype: 'float64', bytes: 8 },
];

const hex = (b: number) => '0x' + b.toString(16).padStart(2, '0');

/** True when the bytes start with the gzip magic 1f 8b. */
export function isGzip(buf: Uint8Array): boolean {
  return buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b;
}

function gzipError(name: string, err: unknown): Error {
  const msg = err instanceof Error ? err.message : String(err);
  return new Error(`IDX file ${name}: corrupt or truncated gzip data (${msg})`);
}

/** Decompresses when gzip (by magic), else returns the bytes as they are. */
export function maybeGunzipSync(buf: Uint8Array, name = '<buffer>'): Uint8Array {
  if (!isGzip(buf)) return buf;
  try {
    return gunzipSync(buf);
  } catch (err) {
    throw gzipError(name, err);
  }
}

/** Async version (zlib runs on the thread pool, so several files decode in parallel). */
export async function maybeGunzip(buf: Uint8Array, name = '<buffer>'): Promise<Uint8Array> {
  if (!isGzip(buf)) return buf;
  try {
    return await gunzipAsync(buf);
  } catch (err) {
    throw gzipError(name, err);
  }
}

export interface IdxHeader {
  dtype: IdxDtype;
  dims: number[];
  /** Bytes before the data: 4 + 4 × dims.length. */
  headerBytes: number;
  /** Values in the data (the product of dims). */
  count: number;
}

/**
 * Parses and checks an IDX header: `head` is the start of the uncompressed bytes (at least the header, when
 * the file is that long: 1,024 bytes always are), `size` the length of the whole; that length must be exactly the
 * header plus the data its dimensions need.
 */
export function parseIdxHeader(head: Uint8Array, size: number, name = '<buffer>'): IdxHeader {
  const fail = (problem: string): never => {
    throw new Error(`IDX file ${name}: ${problem}`);
  };
  if (size < 4) fail(`too short (${size} bytes) to hold the 4-byte IDX magic number; truncated or not an IDX file`);
  if (head[0] !== 0 || head[1] !== 0) {
    fail(
      `bad magic number ${Array.from(head.subarray(0, 4), hex).join(' ')}: an IDX file starts with 0x00 0x00 <type> <ndims>; ` +
        `this is not an IDX file`,
    );
  }
  const info = DTYPES.find((t) => t.code === head[2]);
  if (!info) {
    fail(
      `unknown data type code ${hex(head[2])} (known: ${DTYPES.map((t) => `${hex(t.code)} ${t.dtype}`).join(', ')})`,
    );
  }
  const { dtype, bytes } = info!;
  const ndims = head[3];
  if (ndims === 0) fail('number of dimensions is 0');
  const headerBytes = 4 + 4 * ndims;
  if (size < headerBytes) {
    fail(`truncated header: ${ndims} dimensions need ${headerBytes} header bytes, the file has ${size}`);
  }
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const dims: number[] = [];
  let count = 1;
  for (let i = 0; i < ndims; i++) {
    const d = view.getUint32(4 + 4 * i, false);
    dims.push(d);
    count *= d;
  }
  const expected = count * bytes;
  const actual = size - headerBytes;
  const shape = `${dims.join('×')} ${dtype}`;
  if (actual < expected) {
    fail(
      `truncated: dimensions ${shape} need ${expected} data bytes, only ${actual} present (${expected - actual} missing)`,
    );
  }
  if (actual > expected) {
    fail(
      `oversize: dimensions ${shape} need ${expected} data bytes, found ${actual} (${actual - expected} unexpected trailing bytes)`,
    );
  }
  return { dtype, dims, headerBytes, count };
}

/** Parses uncompressed IDX bytes. */
export function parseIdxRaw(buf: Uint8Array, name = '<buffer>'): IdxArray {
  const { dtype, dims, headerBytes, count } = parseIdxHeader(buf, buf.length, name);
  const data = decodeData(buf, headerBytes, count, dtype, new DataView(buf.buffer, buf.byteOffset, buf.byteLength));
  return { dims, data, dtype };
}

function decodeData(buf: Uint8Array, off: number, count: number, dtype: IdxDtype, view: DataView): IdxData {
  switch (dtype) {
    case 'uint8':
      return new Uint8Array(buf.subarray(off, off + count)); // own copy, independent of the file buffer
    case 'int8':
      return new Int8Array(buf.buffer, buf.byteOffset + off, count).slice();
    case 'int16': {
      const out = new Int16Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt16(off + 2 * i, false);
      return out;
    }
    case 'int32': {
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt32(off + 4 * i, false);
      return out;
    }
    case 'float32': {
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat32(off + 4 * i, false);
      return out;
    }
    case 'float64': {
      const out = new Float64Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat64(off + 8 * i, false);
      return out;
    }
  }
}

/** Parses IDX bytes, gzip-compressed (detected by magic 1f 8b) or raw. */
export function parseIdx(buf: Uint8Array, name = '<buffer>'): IdxArray {
  return parseIdxRaw(maybeGunzipSync(buf, name), name);
}

export async function readIdxFile(path: string): Promise<IdxArray> {
  let buf: Uint8Array;
  try {
    buf = await readFile(path);
  } catch (err) {
    throw new Error(`IDX file ${path}: cannot read (${(err as Error).message})`, { cause: err });
  }
  return parseIdxRaw(await maybeGunzip(buf, path), path);
}

export function readIdxFileSync(path: string): IdxArray {
  let buf: Uint8Array;
  try {
    buf = readFileSync(path);
  } catch (err) {
    throw new Error(`IDX file ${path}: cannot read (${(err as Error).message})`, { cause: err });
  }
  return parseIdx(buf, path);
}

function dtypeOf(data: IdxData): IdxDtype {
  if (data instanceof Uint8Array) return 'uint8';
  if (data instanceof Int8Array) return 'int8';
  if (data instanceof Int16Array) return 'int16';
  if (data instanceof Int32Array) return 'int32';
  if (data instanceof Float32Array) return 'float32';
  if (data instanceof Float64Array) return 'float64';
  throw new Error('encodeIdx: unsupported array type');
}

/** Encodes an array as IDX bytes (gzip-compressed when `gzip`); dtype follows the typed array's type. */
export function encodeIdx(arr: { dims: number[]; data: IdxData }, opts: { gzip?: boolean } = {}): Buffer {
  const dtype = dtypeOf(arr.data);
  const info = DTYPES.find((t) => t.dtype === dtype)!;
  const { dims, data } = arr;
  if (dims.length < 1 || dims.length > 255) throw new Error(`encodeIdx: need 1..255 dimensions, got ${dims.length}`);
  let count = 1;
  for (const d of dims) {
    if (!Number.isInteger(d) || d < 0 || d > 0xffffffff) throw new Error(`encodeIdx: bad dimension ${d}`);
    count *= d;
  }
  if (count !== data.length)
    throw new Error(`encodeIdx: dims ${dims.join('×')} hold ${count} values, data has ${data.length}`);
  const headerLen = 4 + 4 * dims.length;
  const out = Buffer.alloc(headerLen + count * info.bytes);
  out[2] = info.code;
  out[3] = dims.length;
  dims.forEach((d, i) => out.writeUInt32BE(d, 4 + 4 * i));
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  for (let i = 0; i < count; i++) {
    const o = headerLen + i * info.bytes;
    const v = data[i];
    switch (dtype) {
      case 'uint8':
        view.setUint8(o, v);
        break;
      case 'int8':
        view.setInt8(o, v);
        break;
      case 'int16':
        view.setInt16(o, v, false);
        break;
      case 'int32':
        view.setInt32(o, v, false);
        break;
      case 'float32':
        view.setFloat32(o, v, false);
        break;
      case 'float64':
        view.setFloat64(o, v, false);
        break;
    }
  }
  return opts.gzip ? gzipSync(out) : out;
}

export async function writeIdxFile(
  path: string,
  arr: { dims: number[]; data: IdxData },
  opts: { gzip?: boolean } = {},
): Promise<void> {
  await writeFile(path, encodeIdx(arr, opts));
}
