// A folder of PNG files too large to hold decoded: indexed once (names and sizes from the headers, so an
// image of another size or a .png that is no PNG is an error naming the file before training starts),
// decoded on demand through a bounded cache, and off the main thread on worker threads (readAsync), so the
// trainer can decode the next batch while it computes on this one.
import { closeSync, openSync, readdirSync, readFileSync, readSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { cacheBudget, RowCache } from './cache.js';
import { folderOptions, listPngFiles, pngHeader, type ImageFolderOptions } from './images.js';
import { decodePng, type DecodeSpec } from './png-decode.js';
import { convertRows } from './pixels.js';
import { protocolTable, type PixelProtocol } from './protocol.js';
import type { RowSource } from './types.js';
import type { PngJob } from './png-decode.js';

export interface PngFolderIndex {
  dir: string;
  files: string[];
  spec: DecodeSpec;
  channels: number;
}

/** Image formats that are not PNG, by extension. */
const OTHER_IMAGE = /\.(jpe?g|gif|webp|bmp|tiff?|jxl|avif|heic|ppm|pgm)$/i;

/** Lists the .png files and reads each one's header: one size for all (or resize 'nearest'). */
export async function indexPngFolder(dir: string, opts: ImageFolderOptions = {}): Promise<PngFolderIndex> {
  const { color, resize } = folderOptions(opts);
  const files = await listPngFiles(dir);
  // an image in another format would be left out of the data without a word: name it instead
  const other = readdirSync(dir).find((f) => OTHER_IMAGE.test(f));
  if (other)
    throw new Error(
      `images ${dir}: ${other} is a ${other.replace(/.*\./, '').toUpperCase()} file; an image folder is read as PNG files ` +
        `only: convert it to PNG (e.g. with ImageMagick: convert ${other} ${other.replace(/\.[^.]+$/, '.png')}) or move it out`,
    );
  if (files.length === 0) throw new Error(`images ${dir}: no .png files in the folder`);
  let [h, w] = opts.size ?? [0, 0];
  let sizeFrom = opts.size ? 'the requested size' : '';
  const head = new Uint8Array(24);
  for (const f of files) {
    const path = join(dir, f);
    const fd = openSync(path, 'r');
    let got: number;
    try {
      got = readSync(fd, head, 0, 24, 0);
    } finally {
      closeSync(fd);
    }
    const size = pngHeader(head.subarray(0, got), path);
    if (h === 0) {
      [h, w] = [size.height, size.width];
      sizeFrom = `the size of ${f}`;
    } else if ((size.height !== h || size.width !== w) && resize !== 'nearest') {
      throw new Error(
        `images: ${path} is ${size.height}×${size.width} (H×W) but ${h}×${w} is expected (${sizeFrom}); ` +
          `make all images one size or resize them with resize 'nearest'`,
      );
    }
  }
  return { dir, files, spec: { color, height: h, width: w, resize, sizeFrom }, channels: color === 'rgb' ? 3 : 1 };
}

/** Worker threads for decoding (default: the cores less one, at most 4; 0 decodes on the main thread). */
export const PNG_WORKERS_ENV = 'VAEKIT_PNG_WORKERS';

function workerCount(): number {
  const v = process.env[PNG_WORKERS_ENV];
  if (v !== undefined && v !== '') {
    const k = Number(v);
    if (!(Number.isInteger(k) && k >= 0)) throw new Error(`${PNG_WORKERS_ENV}=${v}: give a whole number of threads`);
    return k;
  }
  return Math.max(1, Math.min(4, availableParallelism() - 1));
}

class Pool {
  private readonly workers: Worker[] = [];
  private readonly pending = new Map<number, { resolve: (x: Float32Array) => void; reject: (e: Error) => void }>();
  private busy = 0;
  private next = 0;
  constructor(size: number) {
    for (let i = 0; i < size; i++) {
      // the worker is TypeScript: register tsx in the thread (found from here, not the working directory), then load it
      const api = JSON.stringify(import.meta.resolve('tsx/esm/api'));
      const file = JSON.stringify(new URL('./png-worker.ts', import.meta.url).href);
      const w = new Worker(`import(${api}).then((m) => { m.register(); return import(${file}); })`, { eval: true });
      w.on('message', (m: { id: number; x?: Float32Array; error?: string }) => {
        const p = this.pending.get(m.id)!;
        this.pending.delete(m.id);
        if (--this.busy === 0) this.workers.forEach((x) => x.unref());
        if (m.error !== undefined) p.reject(new Error(m.error));
        else p.resolve(m.x!);
      });
      w.on('error', (e) => this.pending.forEach((p) => p.reject(e)));
      w.unref();
      this.workers.push(w);
    }
  }
  run(job: Omit<PngJob, 'id'>): Promise<Float32Array> {
    const id = this.next++;
    const w = this.workers[id % this.workers.length];
    if (this.busy++ === 0) this.workers.forEach((x) => x.ref()); // keep the process up while work is out
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      w.postMessage({ ...job, id });
    });
  }
  get size(): number {
    return this.workers.length;
  }
  async close(): Promise<void> {
    // a timer keeps the process up until the workers have stopped: an unref'd worker's exit does not, so without it
    // the process could end inside this await (Worker.ref() before terminate() was not enough on Node 20)
    const keep = setInterval(() => {}, 1 << 30);
    try {
      await Promise.all(this.workers.map((w) => w.terminate()));
    } finally {
      clearInterval(keep);
    }
    const closed = new Error('the PNG decoding workers were closed');
    this.pending.forEach((p) => p.reject(closed)); // reads still out (an abandoned prefetch) end, never hang
    this.pending.clear();
    this.workers.length = 0;
  }
}

const ROW0 = [0];

/** Rows of the folder's images (file i is row i), decoded and converted with the protocol on demand. */
export function pngFolderSource(index: PngFolderIndex, protocol: PixelProtocol): RowSource {
  const d = index.spec.height * index.spec.width * index.channels;
  const table = protocolTable(protocol);
  const cache = new RowCache<Uint8Array>(cacheBudget(), d, (k) => new Uint8Array(k));
  const paths = index.files.map((f) => join(index.dir, f));
  let pool: Pool | null = null;
  const readRows = (indices: ArrayLike<number>): Float32Array => {
    const out = new Float32Array(indices.length * d);
    const rows = (at: number, count: number) => out.subarray(at * d, (at + count) * d);
    cache.gather(
      indices,
      1,
      (slots, at) => convertRows(cache.slab!, d, slots, table, rows(at, slots.length)),
      (j, _m, at) => {
        const px = decodePng(readFileSync(paths[j]), paths[j], index.spec);
        cache.set(j, px);
        convertRows(px, d, ROW0, table, rows(at, 1));
      },
    );
    return out;
  };
  const threads = workerCount();
  return {
    n: paths.length,
    rowSize: d,
    readRows,
    async readAsync(indices) {
      if (threads === 0) return readRows(indices);
      pool ??= new Pool(threads);
      const m = indices.length;
      const per = Math.ceil(m / pool.size);
      const parts: Promise<Float32Array>[] = [];
      for (let s = 0; s < m; s += per) {
        const ps = Array.from({ length: Math.min(per, m - s) }, (_, i) => paths[indices[s + i]]);
        parts.push(pool.run({ paths: ps, spec: index.spec, table }));
      }
      const out = new Float32Array(m * d);
      (await Promise.all(parts)).forEach((x, k) => out.set(x, k * per * d));
      return out;
    },
    residentBytes: () => cache.bytes + paths.reduce((a, p) => a + 2 * p.length, 0),
    async close() {
      await pool?.close();
      pool = null;
    },
  };
}
