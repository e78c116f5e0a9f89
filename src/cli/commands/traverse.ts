// `vaekit traverse MODEL`: latent traversals from the prior mean, one row per latent dimension (largest KL
// first), as a PNG grid and optionally an animated GIF.
import type { Command } from 'commander';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { ensureDirSync, writeFileAtomic } from '../../util/atomic.js';
import { backendOption, dataOptions, out } from '../common.js';
import { withModel } from '../data.js';
import { nonNegInt, posInt, posNum } from '../options.js';

export function traverse(program: Command): void {
  const cmd = program
    .command('traverse <model>')
    .description(
      'latent traversals from the prior mean: one row per latent dimension (largest KL over the test split first), ' +
        'each swept over −range … range; a PNG grid, and with --gif an animated GIF (frame s: every dimension at value s)',
    )
    .option('--out <dir>', 'output directory (traversal.png, traversal.gif)', 'traversal')
    .option('--dims <k>', 'only the K dimensions of largest KL (default: all)', posInt('--dims'))
    .option('--steps <n>', 'values per dimension (at least 2)', posInt('--steps'), 11)
    .option('--range <r>', 'sweep −r … r, in prior standard deviations', posNum('--range'), 3)
    .option('--label <k>', 'cvae: the class to decode (required there)', nonNegInt('--label'))
    .option('--gif', 'also write traversal.gif')
    .option('--no-ping-pong', 'GIF: play the values forth only (default: forth and back)')
    .option('--scale <s>', 'nearest-neighbour enlargement of the PNG and GIF', posInt('--scale'), 2)
    .option('--json', 'print what was written as JSON');
  dataOptions(cmd, false);
  backendOption(cmd).action(async (dir, f) => {
    const { latentTraversal } = await import('../../eval/traversal.js');
    const { traversalGif, traversalGrid } = await import('../../io/traversal.js');
    const { latentHealth } = await import('../../eval/latent.js');
    const { imageToPng, upscale } = await import('../../io/png.js');
    await withModel(dir, f, async (ctx) => {
      const { model, meta } = ctx;
      const kind = model.config.kind;
      const K = model.numClasses;
      if (kind !== 'vae' && kind !== 'cvae' && kind !== 'hvae')
        throw new Error(
          `traverse: needs an image model with a continuous latent (vae, cvae or hvae); this model is a ${kind}`,
        );
      const s = model.config.inputShape;
      if (!(s.length === 3 && (s[2] === 1 || s[2] === 3)))
        throw new Error(`traverse: the model's inputs [${s.join(', ')}] are not images`);
      if (f.steps < 2) throw new Error(`--steps must be at least 2, got ${f.steps}`);
      if (K === undefined && f.label !== undefined)
        throw new Error(`--label: this ${kind} model is not conditioned on labels`);
      if (K !== undefined && f.label === undefined)
        throw new Error(`traverse: this ${kind} is conditioned on a label: give --label (0 … ${K - 1})`);
      if (K !== undefined && f.label >= K)
        throw new Error(`--label ${f.label} is out of range: the model has classes 0 … ${K - 1}`);
      const data = await ctx.data();
      const kl = latentHealth(model, data.test).klPerDim; // per-dimension KL over the test split (cvae: given its labels)
      const base = tf.tidy(
        () =>
          model
            .prior(1, K !== undefined ? tf.tensor1d([f.label], 'int32') : undefined)
            .mean()
            .dataSync() as Float32Array,
      );
      const t = latentTraversal(model, base, { steps: f.steps, limit: f.range, kl, maxRows: f.dims, y: f.label });
      ensureDirSync(f.out);
      const png = path.join(f.out, 'traversal.png');
      const grid = upscale(traversalGrid(t), f.scale);
      await writeFileAtomic(png, imageToPng(grid));
      const written: Record<string, unknown> = {
        png,
        rows: t.rows,
        steps: t.steps,
        dims: t.dims,
        kl: t.dims.map((d) => kl[d]),
        values: t.values,
        width: grid.width,
        height: grid.height,
      };
      if (f.gif) {
        const gif = path.join(f.out, 'traversal.gif');
        await writeFileAtomic(gif, traversalGif(t, { scale: f.scale, pingPong: f.pingPong }));
        Object.assign(written, { gif, frames: f.pingPong ? 2 * t.steps - 2 : t.steps });
      }
      const cls = K !== undefined ? ` of class ${meta.data.classNames?.[f.label] ?? f.label}` : '';
      out(
        !!f.json,
        written,
        `wrote ${t.rows} latent dimensions × ${t.steps} values (−${f.range} … ${f.range})${cls} to ${png}${f.gif ? ` and ${written.gif}` : ''}\n` +
          `rows (by KL over ${data.test.n} test examples): ${t.dims.map((d) => `z${d} ${kl[d].toFixed(2)}`).join(', ')}`,
      );
    });
  });
}
