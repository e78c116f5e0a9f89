// `vaekit compress MODEL --out data.vkz`: lossless bits-back coding (src/tasks/compress) of a split of the
// model's data set, or of a folder of PNGs, with a binary VAE; with --lossy, a VQ-VAE's code grids entropy-coded
// under its PixelCNN prior (lossy.ts); the file is written atomically.
import path from 'node:path';
import type { Command } from 'commander';
import { loadImageFolder } from '../../data/images.js';
import { applyProtocol } from '../../data/protocol.js';
import { rowRange } from '../../data/split.js';
import { compressBinaryImages, compressLossy } from '../../tasks/compress/index.js';
import { writeFileAtomic } from '../../util/atomic.js';
import { backendOption, dataOptions, log, out } from '../common.js';
import { withModel } from '../data.js';
import { nonNegInt, posInt } from '../options.js';

export function compress(program: Command): void {
  const cmd = program
    .command('compress <model>')
    .description(
      'losslessly compress binary (or, with a discretized-logistic or local-logistic-mixture VAE, 8-bit) images by bits-back coding (docs/compression.md)',
    )
    .option(
      '--images <dir>',
      'a folder of PNGs of the model’s size (binarised as the model’s data were) instead of --dataset',
    )
    .option('--split <name>', 'train or test', 'test')
    .option('--start <i>', 'first example index', nonNegInt('--start'), 0)
    .option('-n, --n <n>', 'how many images (default: all)', posInt('--n'))
    .option('--latent-bits <b>', 'latent buckets per unit, 2^b (default 10)', posInt('--latent-bits'))
    .option(
      '--lossy',
      'lossy: a VQ-VAE’s code grids entropy-coded under its PixelCNN prior (decompress gives its reconstructions)',
    )
    .option('--out <file>', 'the compressed file', 'data.vkz')
    .option('--json', 'print the figures as JSON');
  dataOptions(cmd, false);
  backendOption(cmd).action(async (dir: string, f: Record<string, any>) => {
    if (f.images !== undefined && f.dataset !== undefined) throw new Error('give --images or --dataset, not both');
    if (f.latentBits !== undefined && f.latentBits > 12)
      throw new Error(`--latent-bits must be 1…12, got ${f.latentBits}`);
    if (f.lossy && f.latentBits !== undefined)
      throw new Error('--latent-bits is a bits-back setting; leave it out with --lossy');
    await withModel(dir, f, async (ctx) => {
      const { model, meta } = ctx;
      const lossy = !!f.lossy;
      if (lossy && model.config.kind !== 'vqvae')
        throw new Error(
          `--lossy codes a VQ-VAE's code grid; this model is a ${model.config.kind} (train one with --model vqvae, or leave out --lossy)`,
        );
      if (!lossy && model.config.kind === 'vqvae')
        throw new Error('this model is a VQ-VAE: its codes compress with --lossy (bits-back needs a vae)');
      const lik = (model.config as { likelihood?: string }).likelihood;
      const eightBit = lik === 'discretized-logistic' || lik === 'local-logistic-mixture';
      if (!lossy && !eightBit && meta.data.protocol !== 'binary')
        throw new Error(
          `compress codes binary images; this model was trained on the ${meta.data.protocol} protocol (train one with --protocol binary)`,
        );
      const shape = model.config.inputShape;
      const D = shape.reduce((a, b) => a * b, 1);
      let x: Float32Array, n: number, source: string;
      if (f.images !== undefined) {
        const folder = await loadImageFolder(f.images, { color: shape[2] === 3 ? 'rgb' : 'grayscale' });
        if (folder.height !== shape[0] || folder.width !== shape[1] || folder.channels !== (shape[2] ?? 1))
          throw new Error(
            `--images ${f.images}: the images are ${folder.height}×${folder.width}×${folder.channels}, the model takes ${shape.join('×')}`,
          );
        n = Math.min(f.n ?? folder.n, folder.n);
        const protocol = lossy
          ? meta.data.protocol === 'binary'
            ? 'binary'
            : 'continuous'
          : eightBit
            ? 'continuous'
            : 'binary';
        x = applyProtocol(protocol, folder.pixels.subarray(0, n * D));
        source = `${n} images of ${f.images}`;
      } else {
        const split = await ctx.split();
        if (f.start >= split.n)
          throw new Error(`--start ${f.start} is past the end of the ${f.split} split (${split.n} examples)`);
        n = Math.min(f.n ?? split.n - f.start, split.n - f.start);
        x = rowRange(split, f.start, f.start + n);
        source = `${f.split} images ${f.start}…${f.start + n - 1} of ${(await ctx.data()).name}`;
      }
      const t0 = performance.now();
      let last = t0;
      const onProgress = (done: number) => {
        const now = performance.now();
        if (now - last > 5000 && !f.json) {
          log(`compress: ${done}/${n} images`);
          last = now;
        }
      };
      const note = { model: path.resolve(dir) };
      if (lossy) {
        const r = compressLossy(model, x, n, { note, onProgress });
        const seconds = (performance.now() - t0) / 1000;
        await writeFileAtomic(f.out, r.bytes);
        const s = r.stats;
        out(
          !!f.json,
          { out: f.out, source, mode: 'lossy', seconds, images_per_second: n / seconds, ...s },
          `compressed ${source} (lossy, ${s.codes} codes of ${s.codebookSize}): ${s.fileBytes} bytes, ` +
            `${s.bitsPerImage.toFixed(1)} bits/image (${s.payloadBitsPerImage.toFixed(1)} without the header), ` +
            `${s.bitsPerDim.toFixed(4)} bits/dim, PSNR ${s.psnr.toFixed(2)} dB, SSIM ${s.ssim.toFixed(4)}, ` +
            `${(n / seconds).toFixed(0)} images/s\nwrote ${f.out}`,
        );
        return;
      }
      const { bytes, stats } = compressBinaryImages(model, x, n, { latentBits: f.latentBits, note, onProgress });
      const seconds = (performance.now() - t0) / 1000;
      await writeFileAtomic(f.out, bytes);
      const record = { out: f.out, source, seconds, images_per_second: n / seconds, ...stats };
      out(
        !!f.json,
        record,
        `compressed ${source}: ${stats.fileBytes} bytes, ${stats.bitsPerDim.toFixed(4)} bits/dim, ` +
          `${stats.bytesPerImage.toFixed(2)} bytes/image (start-up ${stats.startupBits} bits), ${(n / seconds).toFixed(0)} images/s\nwrote ${f.out}`,
      );
    });
  });
}
