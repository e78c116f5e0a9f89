// `vaekit decompress data.vkz --out DIR`: the images of a .vkz file, as PNGs (or one IDX file), written whole
// into --out or not at all. The model is the one named in the file unless --model gives another folder; its
// fingerprint must match the file's. A lossy file (a VQ-VAE's codes) gives the model's reconstructions.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { readContainer } from '../../codec/container.js';
import { encodeIdx } from '../../data/idx.js';
import { encodePng, type Channels } from '../../io/png.js';
import { decompressBinaryImages, decompressLossy } from '../../tasks/compress/index.js';
import { writeDirAtomic, type FileData } from '../../util/atomic.js';
import { backendOption, out } from '../common.js';
import { withModel } from '../data.js';
import { oneOf } from '../options.js';

const FORMATS = ['png', 'idx'] as const;

export function decompress(program: Command): void {
  const cmd = program
    .command('decompress <file>')
    .description('the images of a file written by vaekit compress, as PNGs or IDX (docs/compression.md)')
    .option('--model <dir>', 'the model that compressed it (default: the folder recorded in the file)')
    .option('--out <dir>', 'output directory (written whole, or not at all)', 'decompressed')
    .option('--format <f>', `${FORMATS.join(' | ')}`, oneOf('--format', FORMATS), 'png')
    .option('--json', 'print the figures as JSON');
  backendOption(cmd).action(async (file: string, f: Record<string, any>) => {
    let bytes: Uint8Array;
    try {
      bytes = await readFile(file);
    } catch (e) {
      throw new Error(`${file}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, {
        cause: e,
      });
    }
    let header;
    try {
      header = readContainer(bytes).header; // magic, version, CRCs: before any model is loaded
    } catch (e) {
      throw new Error(`${file}: ${(e as Error).message}`, { cause: e });
    }
    const dir = (f.model as string | undefined) ?? (typeof header.model === 'string' ? header.model : undefined);
    if (!dir) throw new Error(`${file} does not name its model: give --model DIR`);
    await withModel(dir, f, async ({ model }) => {
      const t0 = performance.now();
      const lossy = header.mode === 'lossy';
      const r = lossy
        ? (({ images, count, shape }) => ({ x: images, count, shape }))(decompressLossy(model, bytes))
        : decompressBinaryImages(model, bytes);
      const seconds = (performance.now() - t0) / 1000;
      const [H, W, C = 1] = r.shape;
      const D = H * W * C;
      const eightBit = header.likelihood === 'discretized-logistic' || header.likelihood === 'local-logistic-mixture';
      const pixels = lossy || eightBit ? r.x : Uint8Array.from(r.x, (v) => v * 255);
      const values = lossy ? 'the model’s reconstructions, 8-bit' : 'values 0/255';
      const files: Record<string, FileData> = {};
      if (f.format === 'idx') {
        files['images.idx'] = encodeIdx({ dims: C === 1 ? [r.count, H, W] : [r.count, H, W, C], data: pixels });
      } else {
        for (let i = 0; i < r.count; i++)
          files[`${String(i).padStart(5, '0')}.png`] = encodePng(
            pixels.subarray(i * D, (i + 1) * D),
            W,
            H,
            C as Channels,
          );
      }
      await writeDirAtomic(f.out, files);
      out(
        !!f.json,
        {
          out: f.out,
          count: r.count,
          mode: header.mode,
          shape: r.shape,
          model: path.resolve(dir),
          seconds,
          images_per_second: r.count / seconds,
        },
        `decompressed ${r.count} images ${r.shape.join('×')} in ${seconds.toFixed(1)} s (${(r.count / seconds).toFixed(0)} images/s)\n` +
          `wrote ${f.out}/ (${f.format === 'idx' ? 'images.idx' : 'PNG files'}, ${values})`,
      );
    });
  });
}
