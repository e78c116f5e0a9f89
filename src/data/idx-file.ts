// IDX image files read from disk by row (issue 16): the pixels stay in the file, rows are read by byte offset
// (header + index × row bytes) through a bounded cache and converted per read with the protocol's table.
//
// A gzip-compressed file (as Fashion-MNIST is published) is decompressed once into a cache file: streamed through
// zlib into a temp file beside it (its SHA-256 checked on the way when one is expected), fsynced, then renamed into
// place, so a reader sees the whole verified file or none. The cache file is named after the source's absolute
// path, size and mtime, so a changed source gets a new one. An uncompressed file is read where it is.
import { createHash } from 'node:crypto';
import { closeSync, createReadStream, createWriteStream, existsSync, fstatSync, openSync, readSync } from 'node:fs';
import { open, rename, rm, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { ensureDir } from '../util/fs-errors.js';
import { cacheBudget, RowCache } from './cache.js';
import { protocolTable, type PixelProtocol } from './protocol.js';
import type { RowSource } from './types.js';
import { convertRows } from './pixels.js';
import { parseIdxHeader } from './idx.js';

/** An opened uncompressed IDX file of uint8 images: n × height × width (× channels). */
export interface IdxImageFile {
  path: string;
  n: number;
  height: number;
  width: number;
  channels: number;
  /** Byte offset of the first image. */
  headerBytes: number;
}

/** True when the file starts with the gzip magic 1f 8b. */
function fileIsGzip(path: string): boolean {
  const fd = openSync(path, 'r');
  try {
    const b = Buffer.alloc(2);
    return readSync(fd, b, 0, 2, 0) === 2 && b[0] === 0x1f && b[1] === 0x8b;
  } finally {
    closeSync(fd);
  }
}

/** A pass-through stream that hashes what flows through it. */
function hasher(): { stream: Transform; hex: () => string } {
  const h = createHash('sha256');
  const stream = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      h.update(chunk);
      cb(null, chunk);
    },
  });
  return { stream, hex: () => h.digest('hex') };
}

/** Makes the complete file `tmp` durable (fsync), then renames it to `dest`: a reader sees all of it or none. */
export async function syncAndRename(tmp: string, dest: string): Promise<void> {
  const fh = await open(tmp, 'r+');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, dest);
}

/** The SHA-256 of a file's bytes, streamed. */
export async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** The name of the decompressed copy of `src` in `cacheDir`: keyed by its absolute path, size and mtime. */
export async function decompressedName(src: string, cacheDir: string): Promise<string> {
  const abs = resolve(src);
  const st = await stat(abs);
  const key = createHash('sha256').update(`${abs}\0${st.size}\0${st.mtimeMs}`).digest('hex').slice(0, 16);
  return join(cacheDir, `${basename(abs).replace(/\.gz$/, '')}.${key}`);
}

/**
 * The path of `src` uncompressed: `src` itself when it is no gzip file, else its decompressed copy in `cacheDir`
 * (made once, atomically). `sha256`: the expected SHA-256 of the uncompressed content; a mismatch is an error and
 * nothing is cached (an uncompressed `src` is hashed on every call, by streaming).
 */
export async function uncompressedIdx(
  src: string,
  cacheDir: string,
  sha256?: string,
  what = 'the expected file',
): Promise<string> {
  const mismatch = (got: string) =>
    new Error(
      `${src}: SHA-256 of the decompressed content is ${got}, expected ${sha256}; ` +
        `this is not ${what} (corrupt, truncated or a different data set)`,
    );
  if (!fileIsGzip(src)) {
    if (sha256 !== undefined) {
      const got = await sha256File(src);
      if (got !== sha256) throw mismatch(got);
    }
    return src;
  }
  const dest = await decompressedName(src, cacheDir);
  if (existsSync(dest)) return dest; // only ever renamed into place complete and verified
  await ensureDir(cacheDir);
  const tmp = `${dest}.tmp-${process.pid}-${Date.now().toString(36)}`;
  try {
    const h = hasher();
    try {
      await pipeline(createReadStream(src), createGunzip(), h.stream, createWriteStream(tmp, { flags: 'wx' }));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? '';
      if (code.startsWith('Z_') || /incorrect header|unexpected end|invalid/i.test((e as Error).message))
        throw new Error(`IDX file ${src}: corrupt or truncated gzip data (${(e as Error).message})`, { cause: e });
      throw e;
    }
    const got = h.hex();
    if (sha256 !== undefined && got !== sha256) throw mismatch(got);
    await syncAndRename(tmp, dest);
    return dest;
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

/** Opens an uncompressed IDX file of uint8 images and checks its header against its size (src/data/idx.ts). */
export function openIdxImages(path: string, name = path): IdxImageFile {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    const head = Buffer.alloc(4 + 4 * 255); // the longest header
    readSync(fd, head, 0, head.length, 0);
    const { dtype, dims, headerBytes } = parseIdxHeader(head, size, name);
    const fail = (problem: string): never => {
      throw new Error(`IDX file ${name}: ${problem}`);
    };
    if (dtype !== 'uint8') fail(`expected uint8 images (type 0x08), got ${dtype}`);
    if (dims.length !== 3 && dims.length !== 4)
      fail(`expected 3 or 4 dimensions (n × height × width [× channels]), got ${dims.length}`);
    const [n, height, width] = dims;
    return { path, n, height, width, channels: dims[3] ?? 1, headerBytes };
  } finally {
    closeSync(fd);
  }
}

/** Longest run of consecutive file rows read with one call. */
const RUN_ROWS = 256;
/** Rows read at once around a miss when the whole file fits the cache. */
const BLOCK_ROWS = 1024;

/**
 * Rows of an IDX image file read by byte offset, converted with the protocol's table. Rows read are kept as bytes
 * in a direct-mapped cache of at most VAEKIT_DATA_CACHE_MB (never more than the file's rows); the cached rows of a
 * read are converted straight from the cache's slab, a stretch of them in one call; consecutive uncached rows are
 * read with one call, and when the whole file fits the cache, the block of rows around a miss. The file stays
 * open until close().
 */
export function idxImageSource(file: IdxImageFile, protocol: PixelProtocol, budget = cacheBudget()): RowSource {
  const d = file.height * file.width * file.channels;
  const table = protocolTable(protocol);
  const cache = new RowCache(Math.min(budget, file.n * (d + 8)), d, (k) => new Uint8Array(k));
  // when the whole file fits the cache, a miss reads the block of rows around it (one sequential read instead of
  // one call per row: a first epoch in random order then costs ~n/BLOCK reads); else each run of rows is read
  const fits = budget >= file.n * (d + 8);
  const scratch = Buffer.alloc((fits ? BLOCK_ROWS : RUN_ROWS) * d);
  const scratchRows = Uint32Array.from({ length: fits ? BLOCK_ROWS : RUN_ROWS }, (_, i) => i);
  let fd: number | null = openSync(file.path, 'r');
  const readRun = (first: number, count: number) => {
    if (fd === null) throw new Error(`IDX file ${file.path}: read after close`);
    const bytes = count * d;
    let done = 0;
    while (done < bytes) {
      const r = readSync(fd, scratch, done, bytes - done, file.headerBytes + first * d + done);
      if (r === 0) throw new Error(`IDX file ${file.path}: ended early at row ${first + Math.floor(done / d)}`);
      done += r;
    }
  };
  const rows = (out: Float32Array<ArrayBuffer>, at: number, count: number) => out.subarray(at * d, (at + count) * d);
  return {
    n: file.n,
    rowSize: d,
    readRows(indices) {
      if (fd === null) throw new Error(`IDX file ${file.path}: read after close`);
      const out = new Float32Array(indices.length * d);
      cache.gather(
        indices,
        RUN_ROWS,
        (slots, at) => convertRows(cache.slab!, d, slots, table, rows(out, at, slots.length)),
        (j, m, at) => {
          // rows j … j + m - 1: read (their block when the file fits the cache), cached, converted from the read
          const first = fits ? j - (j % BLOCK_ROWS) : j;
          const count = fits ? Math.min(BLOCK_ROWS, file.n - first) : m;
          for (let a = first; a < j + m; a += count) {
            const c = Math.min(count, file.n - a);
            readRun(a, c);
            for (let t = 0; t < c; t++) cache.set(a + t, scratch.subarray(t * d, (t + 1) * d));
            const lo = Math.max(j, a);
            const hi = Math.min(j + m, a + c);
            convertRows(scratch, d, scratchRows.subarray(lo - a, hi - a), table, rows(out, at + lo - j, hi - lo));
          }
        },
      );
      return out;
    },
    residentBytes: () => cache.bytes + scratch.byteLength,
    async close() {
      if (fd !== null) closeSync(fd);
      fd = null;
    },
  };
}
