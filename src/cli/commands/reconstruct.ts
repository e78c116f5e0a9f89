// `vaekit reconstruct MODEL`: originals beside their reconstructions (words models: each word beside its
// greedy decode, and the exact-match rate; series: the RMSE in data units).
import type { Command } from 'commander';
import { mse } from '../../eval/reconstruction.js';
import { dataUnits } from '../../io/series.js';
import { reconstruct as reconstructRows } from '../../tasks/generate.js';
import { exactMatches, reconstructWords } from '../../tasks/words.js';
import { backendOption, dataOptions, out, wordList } from '../common.js';
import { labelsAt, range, rowsAt, splitWords, withModel, type ModelContext } from '../data.js';
import { nonNegInt, posInt } from '../options.js';
import { outFile, outputKind, rowsWriter, wordsOutFile, writeLines } from '../outputs.js';

/** Words: each word beside its greedy decode at z = μ(word), and the fraction decoded back exactly. */
async function reconstructWordsCommand(ctx: ModelContext, f: Record<string, any>, cmd: Command): Promise<void> {
  let words: string[];
  if (f.words !== undefined) words = wordList('--words', f.words);
  else {
    const all = splitWords(await ctx.data(), f.split);
    if (f.start >= all.length)
      throw new Error(`--start ${f.start} is past the end of the ${f.split} split (${all.length} words)`);
    words = all.slice(f.start, f.start + f.n);
  }
  const rec = reconstructWords(ctx.model as never, words);
  const { exact, rate } = exactMatches(words, rec);
  const file = wordsOutFile(cmd, f.out);
  if (file) await writeLines(file, ['word\treconstruction', ...words.map((w, i) => `${w}\t${rec[i]}`)]);
  const pairs = words.map((w, i) => ({ word: w, reconstruction: rec[i], exact: w === rec[i] }));
  out(
    !!f.json,
    { n: words.length, exact, exact_match: rate, pairs, ...(file ? { file } : {}) },
    pairs.map((p) => `${p.word} → ${p.reconstruction}${p.exact ? '' : '  ✗'}`).join('\n') +
      `\nexact match: ${exact}/${words.length} (${(100 * rate).toFixed(1)}%)${f.words === undefined ? ` of ${f.split} words ${f.start}…${f.start + words.length - 1}` : ''}` +
      (file ? `\nwrote ${file}` : ''),
  );
}

export function reconstruct(program: Command): void {
  const cmd = program
    .command('reconstruct <model>')
    .description('originals beside their reconstructions E[x | z = μ(x)]')
    .option('-n, --n <n>', 'how many examples', posInt('--n'), 32)
    .option('--split <name>', 'train or test', 'test')
    .option('--start <i>', 'first example index', nonNegInt('--start'), 0)
    .option(
      '--words <list>',
      'words models: comma-separated words to reconstruct, e.g. cat,zebra (default: --n words of --split from --start)',
    )
    .option(
      '--out <file>',
      'output file (.png or .csv; words models: a TSV, written only when --out is given)',
      'reconstructions.png',
    )
    .option('--json', 'print what was written as JSON');
  dataOptions(cmd, false);
  backendOption(cmd).action((dir, f, c: Command) =>
    withModel(dir, f, async (ctx) => {
      const { model, meta } = ctx;
      const kind = outputKind(model);
      if (kind === 'words') return reconstructWordsCommand(ctx, f, c);
      if (f.words !== undefined)
        throw new Error(`--words is an option of words models; this is a ${model.config.kind} of ${meta.data.dataset}`);
      const data = await ctx.data();
      const split = await ctx.split();
      const n = Math.min(f.n, split.n - f.start);
      if (n < 1) throw new Error(`--start ${f.start} is past the end of the ${f.split} split (${split.n} examples)`);
      const idx = range(f.start, n);
      const x = rowsAt(split, idx);
      const y = labelsAt(model, split, idx, 'reconstruct'); // a conditional model: q(z|x, y) and p(x|z, y) with each example's label
      const r = reconstructRows(model, x, n, y);
      const w = rowsWriter(kind, data.shape, data.normalizer);
      const written = await w.pairs(
        outFile(c, w, f.out),
        x,
        r,
        n,
        `${f.split} series ${f.start}…${f.start + n - 1} and their reconstructions`,
      );
      if (written.plot) {
        // numeric series: originals and reconstructions in data units, the RMSE in data units and normalised
        const err = {
          rmse: Math.sqrt(mse(dataUnits(x, data.normalizer), dataUnits(r, data.normalizer))),
          rmse_normalized: Math.sqrt(mse(x, r)),
        };
        return out(
          !!f.json,
          { file: written.file, plot: written.plot, n, ...err },
          `wrote ${n} originals and reconstructions to ${written.file} and ${written.plot}\nRMSE ${err.rmse.toPrecision(4)} (data units), ${err.rmse_normalized.toPrecision(4)} (normalised, ${data.protocol})`,
        );
      }
      out(
        !!f.json,
        { file: written.file, n },
        `wrote ${n} originals and reconstructions${y ? ' (given their labels)' : ''} to ${written.file}`,
      );
    }),
  );
}
