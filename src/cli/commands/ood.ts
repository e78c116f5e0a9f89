// `vaekit ood MODEL --in D1 --out D2`: how well each anomaly score separates in-distribution rows (D1, by
// default the model's own test split) from outliers (D2): AUROC, AUPRC (average precision) and the FPR at
// 95% TPR per score, as a table (--json too), and the ROC curves as SVG (--plot).
import type { Command } from 'commander';
import { writeRocSvg } from '../../io/roc-plot.js';
import { rocCurve } from '../../stats/roc.js';
import { defaultScore, detectionMetrics, SCORE_NAMES } from '../../tasks/anomaly.js';
import { backendOption, out } from '../common.js';
import { withModel } from '../data.js';
import { rowSource, scoreAll, scoreOptions } from '../scoring.js';

const LABELS: Record<string, string> = {
  negElbo: '−ELBO',
  nll: 'NLL',
  corrected: 'NLL − L(x) (complexity-corrected)',
  llr: 'HVAE likelihood ratio',
  regret: 'likelihood regret',
};

export function ood(program: Command): void {
  const cmd = program
    .command('ood <model>')
    .description(
      'out-of-distribution detection: AUROC, AUPRC and FPR at 95% TPR of every anomaly score, in-distribution data against outliers, with a ROC plot',
    )
    .option('--in <dataset>', 'in-distribution data (default: the one the model was trained on)')
    .requiredOption('--out <dataset>', 'outlier data, e.g. mnist or csv:PATH')
    .option('--split <name>', 'split of both data sets (train or test)', 'test')
    .option('--protocol <name>', 'pixel protocol (default and only choice for a pixel model: its own)')
    .option('--data-dir <dir>', 'fashion-mnist: directory holding the four IDX files')
    .option('--label-column <name>', 'csv: the label column (skipped)')
    .option('--limit <n>', 'score only the first N/6 test rows of each data set (quick runs)', (v) => Number(v))
    .option('--plot <file>', 'write the ROC curves as SVG')
    .option('--json', 'print the table as JSON');
  scoreOptions(cmd);
  backendOption(cmd).action((dir, f) =>
    withModel(dir, f, async (ctx) => {
      if (f.plot !== undefined && !f.plot.endsWith('.svg')) throw new Error(`--plot must end in .svg, got "${f.plot}"`);
      if (f.limit !== undefined && !(Number.isInteger(f.limit) && f.limit > 0))
        throw new Error(`--limit must be a positive integer, got ${f.limit}`);
      const inName = f.in ?? ctx.meta.data.dataset;
      const srcIn = await rowSource(ctx, { ...f, dataset: inName });
      const srcOut = await rowSource(ctx, { ...f, dataset: f.out });
      const a = await scoreAll(ctx.model, srcIn, f);
      const b = await scoreAll(ctx.model, srcOut, f);
      const names = SCORE_NAMES.filter((s) => a.scores[s] && b.scores[s]);
      const rows = names.map((s) => ({ score: s, ...detectionMetrics(a.scores[s]!, b.scores[s]!) }));
      const chosen = defaultScore(ctx.model, a.scores.corrected !== undefined);
      if (f.plot)
        await writeRocSvg(
          f.plot,
          names.map((s, i) => ({
            name: LABELS[s],
            points: rocCurve(b.scores[s]!, a.scores[s]!),
            auroc: rows[i].auroc,
          })),
          `${srcIn.name} (in) vs ${srcOut.name} (out)`,
        );
      const pad = (s: string, w: number) => s + ' '.repeat(Math.max(0, w - s.length));
      const table = [
        `in: ${srcIn.name} (${a.n} rows)   out: ${srcOut.name} (${b.n} rows)   k = ${f.k}`,
        `${pad('score', 38)} ${pad('AUROC', 7)} ${pad('AUPRC', 7)} FPR@95%TPR`,
        ...rows.map(
          (r) =>
            `${pad(LABELS[r.score] + (r.score === chosen ? ' *' : ''), 38)} ${r.auroc.toFixed(4)}  ${r.auprc.toFixed(4)}  ${r.fprAt95Tpr.toFixed(4)}`,
        ),
        `* the default score of this model` + (f.plot ? `; ROC curves in ${f.plot}` : ''),
      ];
      out(
        !!f.json,
        { in: srcIn.name, out: srcOut.name, k: f.k, default: chosen, scores: rows, plot: f.plot },
        table.join('\n'),
      );
    }),
  );
}
