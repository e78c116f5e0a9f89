// `vaekit score MODEL`: per-row anomaly scores of a data set, streamed in batches (a CSV file is read line by
// line, never whole) with a progress bar: index, −ELBO, NLL (--k importance samples), the complexity-corrected
// score, the HVAE likelihood ratio, the rank of the chosen score and, once `vaekit calibrate` has set a
// threshold, a flag. The file is written atomically at the end (no partial file on an error).
import type { Command } from 'commander';
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { ranks } from '../../stats/roc.js';
import { falsePositiveRate } from '../../stats/threshold.js';
import { backendOption, dataOptions, log, out } from '../common.js';
import { withModel } from '../data.js';
import { chosenScore, readCalibration, rowSource, scoreAll, scoreOptions, type ScoreTable } from '../scoring.js';

const COLUMNS = [
  ['negElbo', 'neg_elbo'],
  ['nll', 'nll'],
  ['complexityBits', 'complexity_bits'],
  ['corrected', 'corrected'],
  ['llr', 'llr'],
  ['regret', 'regret'],
] as const;

/** The lines of the output, in chunks (CSV or JSON lines inside one JSON object). */
function* lines(t: ScoreTable, score: string, rank: Float64Array, flags: Uint8Array | undefined, json: boolean) {
  const cols = COLUMNS.filter(([k]) => t.scores[k]);
  const num = (v: number) => +v.toPrecision(8);
  if (!json)
    yield ['index', ...cols.map(([, c]) => c), 'score', 'rank', ...(flags ? ['flagged'] : [])].join(',') + '\n';
  else yield `{"score":${JSON.stringify(score)},"n":${t.n},"rows":[\n`;
  const s = t.scores[score as 'nll']!;
  let chunk = '';
  for (let i = 0; i < t.n; i++) {
    if (json) {
      const o: Record<string, unknown> = { index: i };
      for (const [k, c] of cols) o[c] = num(t.scores[k]![i]);
      Object.assign(o, { score: num(s[i]), rank: rank[i] }, flags ? { flagged: flags[i] === 1 } : {});
      chunk += JSON.stringify(o) + (i + 1 < t.n ? ',\n' : '\n');
    } else
      chunk +=
        [i, ...cols.map(([k]) => num(t.scores[k]![i])), num(s[i]), rank[i], ...(flags ? [flags[i]] : [])].join(',') +
        '\n';
    if (chunk.length > 1 << 16) {
      yield chunk;
      chunk = '';
    }
  }
  yield chunk + (json ? ']}\n' : '');
}

/** Streams the lines into a temp file next to `file`, then renames it over `file` (removed on any error). */
async function writeLinesAtomic(file: string, src: Iterable<string>): Promise<void> {
  const abs = path.resolve(file);
  const tmp = path.join(path.dirname(abs), `.${path.basename(abs)}.tmp-${process.pid}-${Date.now().toString(36)}`);
  try {
    const ws = createWriteStream(tmp, { flags: 'wx' });
    for (const s of src) if (!ws.write(s)) await new Promise<void>((r) => ws.once('drain', () => r()));
    await new Promise<void>((resolve, reject) => ws.end((e?: Error | null) => (e ? reject(e) : resolve())));
    await rename(tmp, abs);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

export function score(program: Command): void {
  const cmd = program
    .command('score <model>')
    .description(
      'per-row anomaly scores of a split or a CSV file, streamed in batches: −ELBO, NLL (--k), the complexity-corrected score, the HVAE likelihood ratio, rank, and a flag once `vaekit calibrate` set a threshold',
    )
    .option('--split <name>', 'train or test', 'test')
    .option('--out <file>', 'output file (.csv or .json)', 'scores.csv')
    .option('--json', 'print the summary as JSON');
  scoreOptions(dataOptions(cmd, false));
  backendOption(cmd).action((dir, f) =>
    withModel(dir, f, async (ctx) => {
      if (!/\.(csv|json)$/.test(f.out)) throw new Error(`--out must end in .csv or .json, got "${f.out}"`);
      const cal = await readCalibration(dir, ctx.model, log);
      if (cal && f.score !== undefined && f.score !== cal.score)
        throw new Error(`--score ${f.score}: the model's calibration is for the ${cal.score} score (recalibrate)`);
      const src = await rowSource(ctx, f);
      // a calibrated regret is scored with the calibration's steps unless --regret-steps says otherwise
      const regretSteps = f.regretSteps || (cal?.score === 'regret' ? (cal.regretSteps ?? 0) : 0);
      const t = await scoreAll(ctx.model, src, { ...f, score: f.score ?? cal?.score, regretSteps });
      const name = chosenScore(ctx.model, t, f.score ?? cal?.score);
      const s = t.scores[name]!;
      const r = ranks(s); // ascending mid-ranks; rank 1 = the most anomalous
      const rank = r.map((v) => t.n + 1 - v);
      const flags = cal ? Uint8Array.from(s, (v) => (v > cal.threshold ? 1 : 0)) : undefined;
      await writeLinesAtomic(f.out, lines(t, name, rank, flags, f.out.endsWith('.json')));
      const flagged = flags ? flags.reduce((a, b) => a + b, 0) : undefined;
      const summary = {
        file: f.out,
        data: src.name,
        n: t.n,
        score: name,
        k: f.k,
        ...(cal
          ? {
              threshold: cal.threshold,
              flagged,
              flaggedFraction: falsePositiveRate(s, cal.threshold),
              calibration: { data: cal.data, targetFpr: cal.targetFpr, achievedFpr: cal.achievedFpr, n: cal.n },
            }
          : {}),
      };
      if (!cal && !f.json) log(`no threshold set: run vaekit calibrate ${dir} --fpr 0.05 to flag`);
      out(
        !!f.json,
        summary,
        `scored ${t.n} rows of ${src.name} (score ${name}, k = ${f.k}); wrote ${f.out}` +
          (cal
            ? `\nflagged ${flagged} of ${t.n} (${((100 * flagged!) / t.n).toFixed(2)}%) above ${cal.threshold.toPrecision(6)}, ` +
              `calibrated at FPR ${cal.targetFpr} on ${cal.data}: achieved FPR ${cal.achievedFpr.toFixed(4)} there (n = ${cal.n})`
            : ''),
      );
    }),
  );
}
