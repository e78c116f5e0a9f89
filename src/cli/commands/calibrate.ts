// `vaekit calibrate MODEL --fpr α`: the threshold of a score at a false-positive rate on held-out normal data
// (a split the model was not trained on), written into the model directory atomically (calibration.json);
// `vaekit score` then flags rows above it and reports the achieved FPR.
import type { Command } from 'commander';
import { calibrate as calibrateScores } from '../../tasks/anomaly.js';
import { backendOption, dataOptions, out } from '../common.js';
import { withModel } from '../data.js';
import { posNum } from '../options.js';
import { chosenScore, regretSettings, rowSource, scoreAll, scoreOptions, writeCalibration } from '../scoring.js';

export function calibrate(program: Command): void {
  const cmd = program
    .command('calibrate <model>')
    .description(
      'pick the threshold of an anomaly score at a false-positive rate on held-out normal data and write it into the model directory',
    )
    .requiredOption('--fpr <rate>', 'target false-positive rate on the normal data, in (0, 1)', posNum('--fpr'))
    .option('--split <name>', 'held-out normal split (not the one the model was trained on)', 'test')
    .option('--json', 'print the calibration as JSON');
  scoreOptions(dataOptions(cmd, false));
  backendOption(cmd).action((dir, f) =>
    withModel(dir, f, async (ctx) => {
      if (!(f.fpr < 1)) throw new Error(`--fpr must be in (0, 1), got ${f.fpr}`);
      const own = (f.dataset ?? ctx.meta.data.dataset) === ctx.meta.data.dataset;
      if (own && f.split === 'train')
        throw new Error(`--split train: the model was trained on it; calibrate on held-out normal data (--split test)`);
      const src = await rowSource(ctx, f);
      const t = await scoreAll(ctx.model, src, f);
      const name = chosenScore(ctx.model, t, f.score);
      const c = calibrateScores(t.scores[name]!, name, f.fpr);
      const file = await writeCalibration(
        dir,
        {
          score: name,
          threshold: c.threshold,
          targetFpr: c.targetFpr,
          achievedFpr: c.achievedFpr,
          falsePositives: c.falsePositives,
          n: c.n,
          data: src.name,
          k: f.k,
          ...(name === 'regret' ? { regretSteps: regretSettings(f)!.steps } : {}),
        },
        ctx.model,
      );
      out(
        !!f.json,
        { file, ...c, data: src.name, k: f.k },
        `threshold ${c.threshold.toPrecision(6)} on ${name} at FPR ${f.fpr}: achieved ${c.achievedFpr.toFixed(4)} ` +
          `(${c.falsePositives} of ${c.n} rows of ${src.name}); wrote ${file}`,
      );
    }),
  );
}
