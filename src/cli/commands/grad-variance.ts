// `vaekit grad-variance MODEL`: the variance of the encoder gradient under the reparameterization and the
// score-function estimators, over many draws on one fixed batch.
import type { Command } from 'commander';
import * as tf from '@tensorflow/tfjs-core';
import { formatGradientVariance, gradientVariance } from '../../eval/gradient-variance.js';
import { backendOption, dataOptions, out } from '../common.js';
import { range, rowsAt, withModel } from '../data.js';
import { rowSize } from '../../data/split.js';
import { int, posInt } from '../options.js';

export function gradVariance(program: Command): void {
  const cmd = program
    .command('grad-variance <model>')
    .description(
      'variance of the encoder gradient: reparameterization vs score-function estimators, over many draws on one batch',
    )
    .option('--draws <n>', 'gradient draws per estimator', posInt('--draws'), 200)
    .option('--batch <n>', 'examples in the fixed batch', posInt('--batch'), 64)
    .option('--split <name>', 'train or test', 'test')
    .option('--seed <n>', 'seed', int('--seed'), 0)
    .option('--json', 'print the report as JSON');
  dataOptions(cmd, false);
  backendOption(cmd).action((dir, f) =>
    withModel(dir, f, async (ctx) => {
      const split = await ctx.split();
      const n = Math.min(f.batch, split.n);
      const x = tf.tensor2d(rowsAt(split, range(0, n)), [n, rowSize(split)]);
      try {
        const report = gradientVariance(ctx.model, x, { draws: f.draws, seed: f.seed });
        out(!!f.json, report as unknown as Record<string, unknown>, formatGradientVariance(report));
      } finally {
        x.dispose();
      }
    }),
  );
}
