// Fashion-MNIST (Xiao, Rasul & Vollgraf 2017): 60,000 train / 10,000 test 28×28 grayscale images, 10 classes.
//
// Where the four files are looked for, in order:
//   1. the directory the user names (--data-dir); when given, nowhere else;
//   2. the Debian package dataset-fashion-mnist: /usr/share/datasets/fashion-mnist;
//   3. the cache directory ($XDG_CACHE_HOME/vaekit/fashion-mnist, else ~/.cache/vaekit/fashion-mnist),
//      where missing files are downloaded (base URL configurable) when a network is there.
// Each file may be gzip-compressed (`*.gz`, as published) or not (same name without `.gz`).
//
// Integrity: every file is checked by SHA-256 of its *decompressed* IDX content. Hashing the content
// rather than the .gz bytes matters: Debian re-compressed the files (its .gz bytes differ from the
// upstream ones, whose MD5s are listed below), but the decompressed content is identical to the
// canonical files — their MD5s match the published MD5s of the uncompressed upstream files
// (train-images f4a8712d7a061bf5bd6d2ca38dc4d50a, train-labels 9018921c3c673c538a1fc5bad174d6f9,
//  t10k-images 8181f5470baa50b63fa0f6fddb340f0a, t10k-labels 15d484375f8d13e6eb1aabb0c3f46965).
// So both the Debian copies and fresh downloads from the official site pass the same check.

import { createHash } from 'node:crypto';
import { createWriteStream, existsSync } from 'node:fs';
import { readFile, unlink } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { maybeGunzip, parseIdxRaw } from './idx.js';
import { syncAndRename } from './idx-file.js';
import type { RawImages } from './raw.js';
import { ensureDir } from '../util/fs-errors.js';

export const FASHION_MNIST_CLASS_NAMES: readonly string[] = Object.freeze([
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
]);

export const FASHION_MNIST_FILES = Object.freeze({
  trainImages: 'train-images-idx3-ubyte.gz',
  trainLabels: 'train-labels-idx1-ubyte.gz',
  testImages: 't10k-images-idx3-ubyte.gz',
  testLabels: 't10k-labels-idx1-ubyte.gz',
});
export type FashionMnistFile = keyof typeof FASHION_MNIST_FILES;
const FILE_KEYS = Object.keys(FASHION_MNIST_FILES) as FashionMnistFile[];

/** SHA-256 of each file's decompressed IDX content (computed from Debian's files, verified canonical; see top). */
export const FASHION_MNIST_SHA256: Readonly<Record<FashionMnistFile, string>> = Object.freeze({
  trainImages: 'c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888',
  trainLabels: 'bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9',
  testImages: '5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b',
  testLabels: '0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34',
});

/** Upstream-published MD5s of the original .gz files (for reference only; Debian's .gz bytes differ). */
export const FASHION_MNIST_UPSTREAM_GZ_MD5: Readonly<Record<FashionMnistFile, string>> = Object.freeze({
  trainImages: '8d4fb7e6c68d591d4c3dfef9ec88bf0d',
  trainLabels: '25c81989df183df01b3e8a0aad5dffbe',
  testImages: 'bef4ecab320f06d8554ea6380940ec79',
  testLabels: 'bb300cfdad3c16e7a12a480ee83cd310',
});

export const FASHION_MNIST_DEBIAN_DIR = '/usr/share/datasets/fashion-mnist';
export const FASHION_MNIST_DEFAULT_BASE_URL = 'http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/';
/** Environment variable that overrides the download base URL (an explicit option wins over it). */
export const FASHION_MNIST_URL_ENV = 'VAEKIT_FASHION_MNIST_URL';

export interface FashionMnistOptions {
  /** Directory holding the four files; when given, the only place looked in. */
  dataDir?: string;
  /** Download cache; default {@link defaultFashionMnistCacheDir}. */
  cacheDir?: string;
  /** Debian package directory; default {@link FASHION_MNIST_DEBIAN_DIR} (tests point it elsewhere). */
  debianDir?: string;
  /** Download base URL; default $VAEKIT_FASHION_MNIST_URL, else the official location. */
  baseUrl?: string;
  /** Allow downloading into the cache (default true). */
  download?: boolean;
  /** Per-request timeout for downloads, ms (default 120000). */
  timeoutMs?: number;
  /** Expected content SHA-256 per file (default {@link FASHION_MNIST_SHA256}; tests use fixtures). */
  checksums?: Readonly<Record<FashionMnistFile, string>>;
  /** Progress messages (downloads). */
  log?: (msg: string) => void;
  env?: NodeJS.ProcessEnv;
}

export interface FashionMnistData {
  train: RawImages;
  test: RawImages;
  classNames: string[];
  /** Directory the files were read from. */
  dir: string;
  how: 'data-dir' | 'debian' | 'cache' | 'download';
}

export class DatasetNotFoundError extends Error {
  override name = 'DatasetNotFoundError';
}

export class ChecksumError extends Error {
  override name = 'ChecksumError';
}

export function defaultFashionMnistCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_CACHE_HOME;
  // The XDG spec says relative paths are invalid and must be ignored.
  const base = xdg && xdg.startsWith('/') ? xdg : join(env.HOME || homedir(), '.cache');
  return join(base, 'vaekit', 'fashion-mnist');
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** `dir/NAME.gz`, else `dir/NAME` without .gz, else null. */
export function findFile(dir: string, gzName: string): string | null {
  const gz = join(dir, gzName);
  if (existsSync(gz)) return gz;
  const raw = join(dir, gzName.replace(/\.gz$/, ''));
  if (existsSync(raw)) return raw;
  return null;
}

/** Reads a file, decompresses it when gzip, and checks the content SHA-256; returns the content. */
export async function readVerified(path: string, expected: string): Promise<Uint8Array> {
  const content = await maybeGunzip(await readFile(path), path);
  const got = sha256Hex(content);
  if (got !== expected) {
    throw new ChecksumError(
      `${path}: SHA-256 of the decompressed content is ${got}, expected ${expected}; ` +
        `this is not the canonical Fashion-MNIST file (corrupt, truncated or a different data set)`,
    );
  }
  return content;
}

let tmpCounter = 0;

/**
 * Downloads `url` to `dest` atomically: streams into a temp file beside it, checks the SHA-256 of the
 * (decompressed) content, fsyncs, then renames. Any failure, a hash mismatch included, deletes the
 * temp file, leaves `dest` untouched and throws. Returns the decompressed content.
 */
export async function downloadVerified(
  url: string,
  dest: string,
  expectedSha256: string,
  opts: { timeoutMs?: number } = {},
): Promise<Uint8Array> {
  await ensureDir(dirname(dest));
  const tmp = `${dest}.${process.pid}.${++tmpCounter}.partial`;
  try {
    let res: Response;
    try {
      res = await fetch(url, { signal: AbortSignal.timeout(opts.timeoutMs ?? 120_000), redirect: 'follow' });
    } catch (err) {
      const cause = (err as { cause?: { message?: string } }).cause?.message;
      throw new Error(`cannot fetch ${url}: ${(err as Error).message}${cause ? ` (${cause})` : ''}`, { cause: err });
    }
    if (!res.ok || !res.body) throw new Error(`cannot fetch ${url}: HTTP ${res.status} ${res.statusText}`);
    try {
      await pipeline(Readable.fromWeb(res.body as unknown as WebReadableStream), createWriteStream(tmp));
    } catch (err) {
      throw new Error(`download of ${url} failed part-way: ${(err as Error).message}`, { cause: err });
    }
    let content: Uint8Array;
    try {
      content = await maybeGunzip(await readFile(tmp), url);
    } catch (err) {
      throw new ChecksumError(`download of ${url} is not a valid file: ${(err as Error).message}`);
    }
    const got = sha256Hex(content);
    if (got !== expectedSha256) {
      throw new ChecksumError(
        `download of ${url} has content SHA-256 ${got}, expected ${expectedSha256}; discarded (not saved to ${dest})`,
      );
    }
    await syncAndRename(tmp, dest);
    return content;
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw err;
  }
}

/** The labels of an IDX label file's content, checked: 1-D uint8, n of them (as the images), each in 0..9. */
export function decodeLabels(content: Uint8Array, path: string, n: number, imagesPath: string): Int32Array {
  const lbl = parseIdxRaw(content, path);
  if (lbl.dtype !== 'uint8' || lbl.dims.length !== 1) {
    throw new Error(`${path}: expected a 1-D uint8 IDX label array, got ${lbl.dims.join('×')} ${lbl.dtype}`);
  }
  if (lbl.dims[0] !== n) throw new Error(`${path} has ${lbl.dims[0]} labels but ${imagesPath} has ${n} images`);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const c = lbl.data[i];
    if (c >= FASHION_MNIST_CLASS_NAMES.length)
      throw new Error(`${path}: label ${c} at index ${i} is out of range 0..9`);
    labels[i] = c;
  }
  return labels;
}

function decode(
  content: Record<FashionMnistFile, Uint8Array>,
  paths: Record<FashionMnistFile, string>,
): { train: RawImages; test: RawImages } {
  const part = (imgKey: FashionMnistFile, lblKey: FashionMnistFile): RawImages => {
    const img = parseIdxRaw(content[imgKey], paths[imgKey]);
    if (img.dtype !== 'uint8' || img.dims.length !== 3) {
      throw new Error(`${paths[imgKey]}: expected a 3-D uint8 IDX image array, got ${img.dims.join('×')} ${img.dtype}`);
    }
    const [n, height, width] = img.dims;
    const labels = decodeLabels(content[lblKey], paths[lblKey], n, paths[imgKey]);
    return { pixels: img.data as Uint8Array, n, height, width, channels: 1, labels };
  };
  return { train: part('trainImages', 'trainLabels'), test: part('testImages', 'testLabels') };
}

const missingIn = (dir: string) => FILE_KEYS.filter((k) => findFile(dir, FASHION_MNIST_FILES[k]) === null);

/**
 * Steps 1 and 2 of where the files are looked for (see the top of this file): --data-dir (an error when it lacks
 * a file), else the Debian package's directory when it holds all four; else `looked` says what was missing there.
 */
export function localFashionMnist(opts: Pick<FashionMnistOptions, 'dataDir' | 'debianDir'>): {
  dir?: string;
  how?: 'data-dir' | 'debian';
  looked: string;
} {
  if (opts.dataDir !== undefined) {
    const dir = resolve(opts.dataDir);
    const missing = missingIn(dir);
    if (missing.length > 0) {
      throw new DatasetNotFoundError(
        `Fashion-MNIST: --data-dir ${dir} lacks ${missing.map((k) => FASHION_MNIST_FILES[k]).join(', ')} ` +
          `(each may also be stored uncompressed, without .gz). ` +
          `Get the four files from ${FASHION_MNIST_DEFAULT_BASE_URL} (or: sudo apt-get install dataset-fashion-mnist, ` +
          `then omit --data-dir).`,
      );
    }
    return { dir, how: 'data-dir', looked: '' };
  }
  const debianDir = opts.debianDir ?? FASHION_MNIST_DEBIAN_DIR;
  const debianMissing = missingIn(debianDir);
  if (debianMissing.length === 0) return { dir: debianDir, how: 'debian', looked: '' };
  return {
    looked:
      `${debianDir} (Debian package dataset-fashion-mnist): ` +
      (debianMissing.length === FILE_KEYS.length
        ? 'not installed'
        : `missing ${debianMissing.map((k) => FASHION_MNIST_FILES[k]).join(', ')}`),
  };
}

/** Loads Fashion-MNIST as raw uint8 pixels and labels; see the top of this file for where it looks. */
export async function loadFashionMnist(opts: FashionMnistOptions = {}): Promise<FashionMnistData> {
  const env = opts.env ?? process.env;
  const checksums = opts.checksums ?? FASHION_MNIST_SHA256;
  const classNames = [...FASHION_MNIST_CLASS_NAMES];

  const readAll = async (dir: string, how: FashionMnistData['how']): Promise<FashionMnistData> => {
    const paths = {} as Record<FashionMnistFile, string>;
    for (const k of FILE_KEYS) paths[k] = findFile(dir, FASHION_MNIST_FILES[k])!;
    const contents = await Promise.all(FILE_KEYS.map((k) => readVerified(paths[k], checksums[k])));
    const content = Object.fromEntries(FILE_KEYS.map((k, i) => [k, contents[i]])) as Record<
      FashionMnistFile,
      Uint8Array
    >;
    return { ...decode(content, paths), classNames, dir, how };
  };
  const local = localFashionMnist(opts);
  if (local.dir) return readAll(local.dir, local.how!);
  const looked = [local.looked];

  // 3. The cache, downloading what is missing or bad there.
  const cacheDir = resolve(opts.cacheDir ?? defaultFashionMnistCacheDir(env));
  const content = {} as Record<FashionMnistFile, Uint8Array>;
  const paths = {} as Record<FashionMnistFile, string>;
  const need: FashionMnistFile[] = [];
  for (const k of FILE_KEYS) {
    const p = findFile(cacheDir, FASHION_MNIST_FILES[k]);
    if (p === null) {
      need.push(k);
      continue;
    }
    try {
      content[k] = await readVerified(p, checksums[k]);
      paths[k] = p;
    } catch (err) {
      opts.log?.(`fashion-mnist: cached ${p} is bad (${(err as Error).message}); fetching it again`);
      need.push(k);
    }
  }
  if (need.length === 0) return { ...decode(content, paths), classNames, dir: cacheDir, how: 'cache' };
  looked.push(`${cacheDir} (download cache): missing ${need.map((k) => FASHION_MNIST_FILES[k]).join(', ')}`);

  let baseUrl = opts.baseUrl ?? env[FASHION_MNIST_URL_ENV] ?? FASHION_MNIST_DEFAULT_BASE_URL;
  if (!baseUrl.endsWith('/')) baseUrl += '/';
  let failure: string;
  if (opts.download === false) {
    failure = 'downloading is turned off';
  } else {
    try {
      for (const k of need) {
        const url = new URL(FASHION_MNIST_FILES[k], baseUrl).href;
        const dest = join(cacheDir, FASHION_MNIST_FILES[k]);
        opts.log?.(`fashion-mnist: downloading ${url} -> ${dest}`);
        content[k] = await downloadVerified(url, dest, checksums[k], { timeoutMs: opts.timeoutMs });
        paths[k] = dest;
      }
      return { ...decode(content, paths), classNames, dir: cacheDir, how: 'download' };
    } catch (err) {
      failure = `download from ${baseUrl} failed: ${(err as Error).message}`;
    }
  }
  throw new DatasetNotFoundError(
    [
      'Fashion-MNIST data not found.',
      `Looked for ${Object.values(FASHION_MNIST_FILES).join(', ')} (or the same names without .gz) in:`,
      ...looked.map((l) => `  - ${l}`),
      `and the ${failure}.`,
      'To fix it, do one of:',
      '  - install the Debian package:  sudo apt-get install dataset-fashion-mnist',
      `  - download the four files from ${FASHION_MNIST_DEFAULT_BASE_URL} into a directory and pass --data-dir DIR`,
      '  - or train on the bundled MNIST digits instead:  --dataset mnist',
    ].join('\n'),
  );
}
