// The .vkz container: a header and a payload cut into blocks, each with its CRC-32.
//
//   magic        4 bytes   0x89 'V' 'K' 'Z'
//   version      u16       VKZ_VERSION (2; version 1 files, all lossless, still read)
//   header       u32 length, UTF-8 JSON {mode, method, fingerprint, shape, count, …coder settings}, u32 CRC-32
//   blocks       u32 length L > 0, L payload bytes, u32 CRC-32 of them; repeated
//   end          u32 0, and nothing after it
//
// Integers are little-endian. The fingerprint names the model the payload needs (a SHA-256 of its config
// and weights); the reader checks it against the model it is given. Every way a file can be wrong (another
// file type, a newer version, cut short, a flipped bit, trailing bytes, another model) is one FormatError
// with one line naming it. The mode (version 2 on; a version 1 file is 'lossless') says what the payload
// decodes to: 'lossless' the images themselves (bits-back), 'lossy' a VQ-VAE's codes (lossy.ts); a mode this
// vaekit does not know is refused with one line.
import { ByteReader, ByteWriter, TruncatedError } from './bitio.js';
import { crc32 } from './crc32.js';

export const VKZ_MAGIC = new Uint8Array([0x89, 0x56, 0x4b, 0x5a]);
export const VKZ_VERSION = 2;
/** Versions this vaekit reads: 1 (no mode field: lossless) and 2. */
export const VKZ_READ_VERSIONS = [1, 2] as const;
export const VKZ_MODES = ['lossless', 'lossy'] as const;
export type VkzMode = (typeof VKZ_MODES)[number];
export const DEFAULT_BLOCK_SIZE = 1 << 20;

export class FormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FormatError';
  }
}

export interface ContainerHeader {
  /** What the payload decodes to (written by version 2; 'lossless' when absent). */
  mode?: VkzMode;
  /** The coder that wrote the payload, e.g. 'bits-back'. */
  method: string;
  /** Hex SHA-256 of the model (see modelFingerprint in src/tasks/compress). */
  fingerprint: string;
  /** Per-image shape, e.g. [28, 28, 1]. */
  shape: number[];
  /** Number of images. */
  count: number;
  /** Coder settings (precisions, likelihood, …). */
  [setting: string]: unknown;
}

function checkHeader(h: unknown, version = VKZ_VERSION): ContainerHeader {
  const bad = (m: string): never => {
    throw new FormatError(`corrupted .vkz file: the header ${m}`);
  };
  if (typeof h !== 'object' || h === null || Array.isArray(h)) return bad('is not a JSON object');
  const o = h as Record<string, unknown>;
  if (typeof o.method !== 'string' || !o.method) bad('has no method');
  if (typeof o.fingerprint !== 'string' || !/^[0-9a-f]{64}$/.test(o.fingerprint)) bad('has no model fingerprint');
  if (!Array.isArray(o.shape) || !o.shape.length || !o.shape.every((d) => Number.isInteger(d) && d > 0))
    bad('has no valid image shape');
  if (!Number.isInteger(o.count) || (o.count as number) < 0) bad('has no valid image count');
  if (version === 1) {
    if (o.mode !== undefined) bad('of a version 1 file has a mode');
    return { ...o, mode: 'lossless' } as ContainerHeader;
  }
  if (!VKZ_MODES.includes(o.mode as VkzMode))
    throw new FormatError(
      `unknown .vkz mode ${JSON.stringify(o.mode)} (this vaekit reads ${VKZ_MODES.join(' and ')} files)`,
    );
  return o as ContainerHeader;
}

/** The file bytes of a header and payload (blocks of at most blockSize bytes). */
export function writeContainer(
  header: ContainerHeader,
  payload: Uint8Array,
  blockSize = DEFAULT_BLOCK_SIZE,
): Uint8Array {
  header = { ...header, mode: header.mode ?? 'lossless' };
  checkHeader(header);
  if (!(Number.isInteger(blockSize) && blockSize > 0)) throw new Error(`block size must be positive, got ${blockSize}`);
  const w = new ByteWriter();
  w.bytes(VKZ_MAGIC).u16(VKZ_VERSION);
  const hb = new TextEncoder().encode(JSON.stringify(header));
  w.u32(hb.length).bytes(hb).u32(crc32(hb));
  for (let o = 0; o < payload.length; o += blockSize) {
    const b = payload.subarray(o, Math.min(o + blockSize, payload.length));
    w.u32(b.length).bytes(b).u32(crc32(b));
  }
  w.u32(0);
  return w.finish();
}

/** Magic and version only: what a reader checks before anything else. Returns the version. */
export function sniffContainer(bytes: Uint8Array): number {
  if (bytes.length < 4 || VKZ_MAGIC.some((v, i) => bytes[i] !== v))
    throw new FormatError('not a vaekit compressed file (it does not start with the .vkz magic bytes)');
  if (bytes.length < 6) throw new FormatError('truncated .vkz file: it ends inside the format version');
  const version = bytes[4] | (bytes[5] << 8);
  if (!(VKZ_READ_VERSIONS as readonly number[]).includes(version))
    throw new FormatError(
      `unsupported .vkz format version ${version} (this vaekit reads versions ${VKZ_READ_VERSIONS.join(' and ')})`,
    );
  return version;
}

export function readContainer(bytes: Uint8Array): { header: ContainerHeader; payload: Uint8Array } {
  const version = sniffContainer(bytes);
  const r = new ByteReader(bytes);
  r.pos = 6;
  let where = 'the header';
  try {
    const hlen = r.u32();
    const hb = r.bytes(hlen);
    if (crc32(hb) !== r.u32()) throw new FormatError('corrupted .vkz file: the CRC of the header does not match');
    let parsed: unknown;
    try {
      parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(hb));
    } catch {
      throw new FormatError('corrupted .vkz file: the header is not valid JSON');
    }
    const header = checkHeader(parsed, version);
    const chunks: Uint8Array[] = [];
    let total = 0;
    for (let i = 0; ; i++) {
      where = `block ${i}`;
      const len = r.u32();
      if (len === 0) break;
      const b = r.bytes(len);
      if (crc32(b) !== r.u32()) throw new FormatError(`corrupted .vkz file: the CRC of block ${i} does not match`);
      chunks.push(b);
      total += len;
    }
    if (r.remaining > 0) throw new FormatError(`corrupted .vkz file: ${r.remaining} bytes after the end marker`);
    const payload = new Uint8Array(total);
    let o = 0;
    for (const c of chunks) {
      payload.set(c, o);
      o += c.length;
    }
    return { header, payload };
  } catch (e) {
    if (e instanceof TruncatedError) throw new FormatError(`truncated .vkz file: it ends inside ${where}`);
    throw e;
  }
}

/** A FormatError unless the file's fingerprint is the model's. */
export function checkFingerprint(header: ContainerHeader, fingerprint: string): void {
  if (header.fingerprint !== fingerprint)
    throw new FormatError(
      `this file was compressed with another model (fingerprint ${header.fingerprint.slice(0, 12)}…; ` +
        `the model given has ${fingerprint.slice(0, 12)}…)`,
    );
}
