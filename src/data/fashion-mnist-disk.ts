// Fashion-MNIST read from disk (issue 16): the images stay in their IDX files and rows are read by offset
// (src/data/idx-file.ts); the published .gz files are decompressed once into the cache directory's
// `decompressed/` folder (checked by the same content SHA-256 as the in-memory loader). The labels (60 KB) are
// held in memory. Where the files are found is the loader's order (src/data/fashion-mnist.ts); when the cache
// folder cannot be written, the pixels are held in memory instead (uint8, as before), with a note.
import { join, resolve } from 'node:path';
import {
  decodeLabels,
  defaultFashionMnistCacheDir,
  FASHION_MNIST_CLASS_NAMES,
  FASHION_MNIST_FILES,
  FASHION_MNIST_SHA256,
  findFile,
  loadFashionMnist,
  localFashionMnist,
  readVerified,
  type FashionMnistData,
  type FashionMnistFile,
  type FashionMnistOptions,
} from './fashion-mnist.js';
import { idxImageSource, openIdxImages, uncompressedIdx } from './idx-file.js';
import { pixelSplit } from './pixels.js';
import type { PixelProtocol } from './protocol.js';
import { lazySplit } from './split.js';
import type { LazySplit } from './types.js';
import { OutputError } from '../util/fs-errors.js';

export interface FashionMnistSplits {
  train: LazySplit;
  test: LazySplit;
  classNames: string[];
  dir: string;
  how: FashionMnistData['how'];
  /** 'disk': rows read from the IDX files; 'memory': the pixels held as bytes (the cache was not writable). */
  held: 'disk' | 'memory';
}

const errCode = (e: unknown) => (e as NodeJS.ErrnoException).code ?? '';

/** Fashion-MNIST's two splits, their rows read from the IDX files on disk. */
export async function openFashionMnist(
  opts: FashionMnistOptions & { protocol: PixelProtocol },
): Promise<FashionMnistSplits> {
  const checksums = opts.checksums ?? FASHION_MNIST_SHA256;
  const classNames = [...FASHION_MNIST_CLASS_NAMES];
  const env = opts.env ?? process.env;
  const cacheDir = resolve(opts.cacheDir ?? defaultFashionMnistCacheDir(env));
  const local = localFashionMnist(opts);
  let how: FashionMnistData['how'];
  let dir: string;
  if (local.dir) [dir, how] = [local.dir, local.how!];
  else {
    // the download cache: the loader fetches and checks what is missing there
    const fm = await loadFashionMnist(opts);
    [dir, how] = [fm.dir, fm.how];
  }
  const path = (k: FashionMnistFile) => findFile(dir, FASHION_MNIST_FILES[k])!;
  const part = async (img: FashionMnistFile, lbl: FashionMnistFile): Promise<LazySplit> => {
    const file = openIdxImages(
      await uncompressedIdx(
        path(img),
        join(cacheDir, 'decompressed'),
        checksums[img],
        'the canonical Fashion-MNIST file',
      ),
      path(img),
    );
    const labels = decodeLabels(await readVerified(path(lbl), checksums[lbl]), path(lbl), file.n, path(img));
    const shape = [file.height, file.width, file.channels];
    return lazySplit(idxImageSource(file, opts.protocol), shape, labels);
  };
  try {
    const [train, test] = await Promise.all([part('trainImages', 'trainLabels'), part('testImages', 'testLabels')]);
    return { train, test, classNames, dir, how, held: 'disk' };
  } catch (e) {
    const cannotWrite =
      e instanceof OutputError || ['EACCES', 'EROFS', 'EPERM', 'ENOSPC', 'ENOTDIR'].includes(errCode(e));
    if (!cannotWrite) throw e;
    opts.log?.(
      `fashion-mnist: cannot write the decompressed copy under ${cacheDir} (${(e as Error).message}); holding the pixels in memory`,
    );
    const fm = await loadFashionMnist({ ...opts, dataDir: dir });
    return {
      train: pixelSplit(fm.train, opts.protocol),
      test: pixelSplit(fm.test, opts.protocol),
      classNames,
      dir,
      how,
      held: 'memory',
    };
  }
}
