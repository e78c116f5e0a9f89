// The per-epoch hook of the live run report: after each epoch, a sample grid (a fixed z ~ p(z) each epoch,
// so the grids show the same draws learning), the first test examples beside their reconstructions (image
// data) and the KL per latent unit over the first test examples, written under RUN/report/, then
// RUN/index.html rebuilt (src/io/run-html.ts). The math is the tasks' and eval's; this file draws and writes.
import path from 'node:path';
import type { Split } from '../data/types.js';
import { rowRange } from '../data/split.js';
import { latentHealth } from '../eval/latent.js';
import type { LatentVariableModel } from '../models/types.js';
import { Rng } from '../rng.js';
import { generate, reconstruct } from '../tasks/generate.js';
import { ensureDir, writeFileAtomic } from '../util/atomic.js';
import { imageGrid, imageToPng, reconstructionGrid, upscale } from './png.js';
import { REPORT_DIR, writeEpochRecord, writeRunHtml, type EpochRecord } from './run-html.js';

export interface EpochReportOptions {
  /** Seed of the sample grid's draws (the same every epoch). */
  seed?: number;
  /** Samples in the grid (default 64; a conditional model: 8 per class). */
  samples?: number;
  /** Test examples reconstructed (default 16) and used for the KL per unit (default 500). */
  reconstructions?: number;
  klExamples?: number;
}

const isImage = (shape: number[]) => shape.length === 3 && [1, 3].includes(shape[2]);

/** Records epoch `epoch` of the run in RUN/report/ and rewrites RUN/index.html. */
export async function reportEpoch(
  runDir: string,
  model: LatentVariableModel,
  test: Split | undefined,
  epoch: number,
  opts: EpochReportOptions = {},
): Promise<EpochRecord> {
  const rdir = path.join(runDir, REPORT_DIR);
  await ensureDir(rdir);
  const rec: EpochRecord = { epoch };
  const shape = model.config.inputShape;
  const tag = String(epoch).padStart(3, '0');
  const K = model.numClasses;
  const words = model.config.kind === 'seqvae';
  if (isImage(shape) && !words) {
    const [h, w, c] = shape;
    const n = K ? 8 * K : (opts.samples ?? 64);
    const y = K ? Int32Array.from({ length: n }, (_, i) => Math.floor(i / 8)) : undefined;
    const gen = generate(model, n, new Rng(opts.seed ?? 1), { y });
    const grid = upscale(imageGrid(clip(gen), n, h, w, c, { cols: 8 }), 2);
    rec.samples = `${REPORT_DIR}/samples-${tag}.png`;
    await writeFileAtomic(path.join(runDir, rec.samples), imageToPng(grid));
    if (test && test.n > 0) {
      const m = Math.min(opts.reconstructions ?? 16, test.n);
      const x = rowRange(test, 0, m).slice();
      const r = reconstruct(model, x, m, K ? test.y?.subarray(0, m) : undefined);
      const pairs = upscale(reconstructionGrid(clip(x), clip(r), m, h, w, c, { pairsPerRow: 4 }), 2);
      rec.reconstructions = `${REPORT_DIR}/reconstructions-${tag}.png`;
      await writeFileAtomic(path.join(runDir, rec.reconstructions), imageToPng(pairs));
    }
  }
  if (test && test.n >= 2 && model.config.kind !== 'vqvae' && !words)
    rec.klPerUnit = latentHealth(model, test, { limit: opts.klExamples ?? 500 }).klPerDim;
  await writeEpochRecord(runDir, rec);
  await writeRunHtml(runDir, { done: false });
  return rec;
}

function clip(x: Float32Array): Float32Array {
  return x.map((v) => (v < 0 ? 0 : v > 1 ? 1 : v));
}
