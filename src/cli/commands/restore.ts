// `vaekit restore MODEL --task denoise|inpaint|superres`: degrade images of a split (or a folder of PNGs),
// restore them with the model as the prior (src/tasks/restore) and write, all at once into --out, the
// restored images, a grid (original / degraded / restored / uncertainty) and restore.json (the degradation,
// the method and PSNR/SSIM against the originals).
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { applyProtocol } from '../../data/protocol.js';
import { loadImageFolder } from '../../data/images.js';
import { decodePng, encodePng, imageGrid, type Channels } from '../../io/png.js';
import {
  checkDegradationForLikelihood,
  checkPixelMask,
  checkRestorable,
  degradationFromFlags,
  degrade,
  fromObservation,
  parseMaskFlag,
  pearson,
  quality,
  restoreImages,
  RESTORE_METHODS,
  RESTORE_TASKS,
  type MaskSpec,
  type RestoreMethod,
} from '../../tasks/restore/index.js';
import { writeDirAtomic, type FileData } from '../../util/atomic.js';
import { backendOption, dataOptions, out } from '../common.js';
import { range, rowsAt, withModel } from '../data.js';
import { nonNegInt, nonNegNum, oneOf, posInt, posNum } from '../options.js';

/** A mask PNG of the user: black (0) = known, white (255) = missing; any other value is an error. */
async function readMaskPng(
  file: string,
): Promise<Extract<MaskSpec, { kind: 'user' }> & { height: number; width: number }> {
  let img;
  try {
    img = decodePng(await readFile(file));
  } catch (e) {
    throw new Error(`--mask ${file}: not a readable PNG (${(e as Error).message})`, { cause: e });
  }
  const values = new Uint8Array(img.width * img.height);
  for (let j = 0; j < values.length; j++) {
    const v = Math.round(img.pixels[j * img.channels] * 255);
    if (v !== 0 && v !== 255)
      throw new Error(`--mask ${file} is not binary: pixel ${j} is ${v} (want 0 = known or 255 = missing)`);
    values[j] = v === 0 ? 1 : 0;
  }
  return { kind: 'user', name: path.basename(file), values, height: img.height, width: img.width };
}

export function restore(program: Command): void {
  const cmd = program
    .command('restore <model>')
    .description('denoise, inpaint or super-resolve images with the model as the prior (docs/restoration.md)')
    .option('--task <task>', `what to undo: ${RESTORE_TASKS.join(' | ')}`)
    .option('--sigma <s>', 'denoise: Gaussian noise σ (continuous models)', posNum('--sigma'))
    .option('--p <p>', 'denoise: probability of a bit flip / salt-and-pepper pixel (binary models)', nonNegNum('--p'))
    .option('--noise <kind>', 'denoise with --p: bit-flip | salt-pepper (default bit-flip)')
    .option('--mask <m>', 'inpaint: center:SIZE | random:FRACTION | bottom | FILE.png (black known, white missing)')
    .option('--factor <f>', 'superres: downsampling factor (box average), e.g. 2 or 4', posInt('--factor'))
    .option(
      '--method <m>',
      `${RESTORE_METHODS.join(' | ')} (gibbs, mwg: inpaint only)`,
      oneOf('--method', RESTORE_METHODS),
      'map',
    )
    .option('--images <dir>', 'a folder of PNGs of the model’s size instead of --dataset')
    .option('--observed', '--images are already degraded (superres: low-res), no originals: no PSNR/SSIM')
    .option('-n, --n <n>', 'how many images', posInt('--n'), 16)
    .option('--split <name>', 'train or test', 'test')
    .option('--start <i>', 'first example index', nonNegInt('--start'), 0)
    .option('--seed <n>', 'seed of the degradation and of the method', nonNegInt('--seed'), 0)
    .option('--restarts <R>', 'map: random restarts', posInt('--restarts'))
    .option('--steps <S>', 'map: Adam steps', posInt('--steps'))
    .option('--samples <L>', 'posterior samples behind the uncertainty', posInt('--samples'))
    .option('--iterations <T>', 'gibbs, mwg: sweeps', posInt('--iterations'))
    .option('--out <dir>', 'output directory (written whole, or not at all)', 'restored')
    .option('--json', 'print the figures as JSON');
  dataOptions(cmd, false);
  backendOption(cmd).action(async (dir: string, f: Record<string, any>) => {
    // every flag checked before any work
    if (f.task === undefined) throw new Error(`--task is required: ${RESTORE_TASKS.join(' | ')}`);
    if (f.images !== undefined && f.dataset !== undefined) throw new Error('give --images or --dataset, not both');
    if (f.observed && f.images === undefined) throw new Error('--observed needs --images DIR (the degraded images)');
    const maskFlag = f.task === 'inpaint' && f.mask !== undefined ? parseMaskFlag(f.mask, f.seed) : undefined;
    const user = maskFlag?.kind === 'file' ? await readMaskPng(maskFlag.path) : undefined;
    const degradation = degradationFromFlags(f as never, user);
    const method = f.method as RestoreMethod;
    if ((method === 'gibbs' || method === 'mwg') && degradation.task !== 'inpaint')
      throw new Error(`--method ${method} imputes missing pixels, so it is for --task inpaint only`);
    await withModel(dir, f, async (ctx) => {
      const { model, meta } = ctx;
      const likelihood = (model.config as { likelihood?: string }).likelihood ?? '';
      checkDegradationForLikelihood(degradation, likelihood);
      checkRestorable(model, method, degradation.task);
      const shape = model.config.inputShape;
      if (shape.length !== 3) throw new Error(`restore works on images; this model takes [${shape}]`);
      if (user && (user.height !== shape[0] || user.width !== shape[1]))
        throw new Error(
          `--mask ${f.mask} is ${user.height}×${user.width}, the model's images are ${shape[0]}×${shape[1]}`,
        );
      if (user) checkPixelMask(user.values, shape[0], shape[1], f.mask);
      let x: Float32Array, n: number, source: string;
      if (f.images !== undefined) {
        const folder = await loadImageFolder(f.images, { color: shape[2] === 3 ? 'rgb' : 'grayscale' });
        const k = f.observed && degradation.task === 'superres' ? degradation.factor : 1;
        const want = [shape[0] / k, shape[1] / k, shape[2]];
        if (folder.height !== want[0] || folder.width !== want[1] || folder.channels !== want[2])
          throw new Error(
            `--images ${f.images}: the images are ${folder.height}×${folder.width}×${folder.channels}, the model takes ${want.join('×')}${k > 1 ? ` (×${k} low-res)` : ''}`,
          );
        n = Math.min(f.n, folder.n);
        const D = want[0] * want[1] * want[2];
        x = applyProtocol(meta.data.protocol, folder.pixels.subarray(0, n * D));
        source = `${n} images of ${f.images}`;
      } else {
        const split = await ctx.split();
        n = Math.min(f.n, split.n - f.start);
        if (n < 1) throw new Error(`--start ${f.start} is past the end of the ${f.split} split (${split.n} examples)`);
        x = rowsAt(split, range(f.start, n));
        source = `${f.split} images ${f.start}…${f.start + n - 1} of ${(await ctx.data()).name}`;
      }
      const deg = f.observed ? fromObservation(x, n, shape, degradation) : degrade(x, n, shape, degradation);
      const clean = f.observed ? null : x;
      const t0 = performance.now();
      const r = restoreImages(model, deg, {
        method,
        seed: f.seed,
        restarts: f.restarts,
        steps: f.steps,
        samples: f.samples,
        iterations: f.iterations,
      });
      const seconds = (performance.now() - t0) / 1000;
      const err = clean ? r.x.map((v, i) => Math.abs(v - clean[i])) : null;
      const figures = {
        restored: clean ? quality(r.x, clean, n, deg.shape) : null,
        degraded: clean ? quality(deg.display, clean, n, deg.shape) : null,
        uncertainty_error_correlation: err
          ? pearson(r.uncertainty, err, deg.mask ? (i) => deg.mask![i] === 0 : undefined)
          : null,
        ...(r.acceptance !== undefined ? { acceptance: r.acceptance } : {}),
      };
      // the files: one PNG per restored image, the grid, and the record
      const [H, W, C] = shape;
      const D = H * W * C;
      let maxU = 0;
      for (const u of r.uncertainty) maxU = Math.max(maxU, u);
      const k = clean ? 4 : 3; // columns: [original,] degraded, restored, uncertainty
      const cells = new Float32Array(k * n * D);
      for (let i = 0; i < n; i++) {
        const o = (k * i + k - 3) * D;
        if (clean) cells.set(clean.subarray(i * D, (i + 1) * D), k * i * D);
        cells.set(deg.display.subarray(i * D, (i + 1) * D), o);
        cells.set(r.x.subarray(i * D, (i + 1) * D), o + D);
        for (let j = 0; j < D; j++) cells[o + 2 * D + j] = maxU > 0 ? r.uncertainty[i * D + j] / maxU : 0;
      }
      const grid = imageGrid(cells, k * n, H, W, C, { cols: k });
      const files: Record<string, FileData> = {
        'grid.png': encodePng(grid.pixels, grid.width, grid.height, grid.channels),
      };
      for (let i = 0; i < n; i++)
        files[`restored/${String(i).padStart(5, '0')}.png`] = encodePng(
          r.x.subarray(i * D, (i + 1) * D),
          W,
          H,
          C as Channels,
        );
      const record = {
        model: dir,
        source,
        degradation: deg.record,
        method,
        options: r.options,
        seconds,
        restores_per_second: n / seconds,
        ...figures,
        grid:
          `grid.png (per row: ${clean ? 'original, ' : ''}degraded, restored, uncertainty scaled to its maximum ` +
          maxU.toFixed(4) +
          ')',
      };
      files['restore.json'] = JSON.stringify(record, null, 2) + '\n';
      await writeDirAtomic(f.out, files);
      const q = figures.restored,
        d0 = figures.degraded;
      out(
        !!f.json,
        { out: f.out, n, ...record },
        `${method}: ${n} ${degradation.task} restorations of ${source} in ${seconds.toFixed(1)} s\n` +
          (q && d0
            ? `PSNR ${q.psnr.toFixed(2)} dB, SSIM ${q.ssim.toFixed(3)} (degraded: ${d0.psnr.toFixed(2)} dB, ${d0.ssim.toFixed(3)}); ` +
              `uncertainty–error correlation ${figures.uncertainty_error_correlation!.toFixed(3)}\n`
            : 'no originals (--observed): no PSNR/SSIM\n') +
          `wrote ${f.out}/ (grid.png, restored/, restore.json)`,
      );
    });
  });
}
