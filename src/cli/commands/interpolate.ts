// `vaekit interpolate MODEL`: decodes points on the latent path between two examples (words models: two words).
import { Option, type Command } from 'commander';
import { interpolate as interpolateRows } from '../../tasks/generate.js';
import { interpolateWords } from '../../tasks/words.js';
import { backendOption, dataOptions, indexOrWord, log, out } from '../common.js';
import { labelsAt, rowsAt, splitWords, withModel, type ModelContext } from '../data.js';
import { posInt } from '../options.js';
import { outFile, outputKind, rowsWriter, wordsOutFile, writeLines } from '../outputs.js';

/** Words: greedy decodes along the path from μ(from) to μ(to), one word a line. */
async function interpolateWordsCommand(ctx: ModelContext, f: Record<string, any>, cmd: Command): Promise<void> {
  const pool =
    typeof f.from === 'number' || typeof f.to === 'number' ? splitWords(await ctx.data(), f.split) : undefined;
  const pick = (v: number | string, flag: string): string => {
    if (typeof v === 'string') return v;
    if (v >= pool!.length)
      throw new Error(`${flag} ${v} is out of range: the ${f.split} split has ${pool!.length} words`);
    return pool![v];
  };
  const [a, b] = [pick(f.from, '--from'), pick(f.to, '--to')];
  const words = interpolateWords(ctx.model as never, a, b, f.steps, { method: f.method });
  const file = wordsOutFile(cmd, f.out);
  if (file) {
    await writeLines(file, words);
    if (!f.json) log(`vaekit: wrote ${words.length} words to ${file}`);
  }
  out(
    !!f.json,
    { from: a, to: b, steps: f.steps, method: f.method, words, ...(file ? { file } : {}) },
    words.join('\n'),
  );
}

export function interpolate(program: Command): void {
  const cmd = program
    .command('interpolate <model>')
    .description('decode points on the latent path between two examples (words models: between two words)')
    .option(
      '--from <i|word>',
      'index of the first example (words models: a word, or the index of one in --split)',
      indexOrWord,
      0,
    )
    .option(
      '--to <i|word>',
      'index of the second example (words models: a word, or the index of one in --split)',
      indexOrWord,
      1,
    )
    .option('--steps <n>', 'points on the path, ends included', posInt('--steps'), 10)
    .addOption(new Option('--method <m>', 'path').choices(['linear', 'slerp']).default('linear'))
    .option('--split <name>', 'train or test', 'test')
    .option(
      '--out <file>',
      'output file (.png or .csv; words models: the words, one a line, written only when --out is given)',
      'interpolation.png',
    )
    .option('--json', 'print what was written as JSON');
  dataOptions(cmd, false);
  backendOption(cmd).action((dir, f, c: Command) =>
    withModel(dir, f, async (ctx) => {
      const { model } = ctx;
      const kind = outputKind(model);
      if (kind === 'words') return interpolateWordsCommand(ctx, f, c);
      for (const [flag, v] of [
        ['--from', f.from],
        ['--to', f.to],
      ] as const)
        if (typeof v !== 'number')
          throw new Error(
            `${flag} must be an example index (a non-negative integer) for this ${model.config.kind} model, got "${v}"`,
          );
      const data = await ctx.data();
      const split = await ctx.split();
      const xa = rowsAt(split, [f.from]);
      const xb = rowsAt(split, [f.to]);
      // a conditional model: each end encoded with its own label, the path decoded with the first's
      const y = labelsAt(model, split, [f.from, f.to], 'interpolate');
      const rows = interpolateRows(model, xa, xb, f.steps, f.method, y && [y[0], y[1]]);
      const w = rowsWriter(kind, data.shape, data.normalizer);
      const { file } = await w.rows(outFile(c, w, f.out), rows, f.steps, { cols: f.steps, title: `interpolation` });
      const cls = (k: number) => data.classNames?.[k] ?? String(k);
      const note = y
        ? ` from example ${f.from} (class ${cls(y[0])}) to ${f.to} (class ${cls(y[1])}${y[0] === y[1] ? ', the same' : ''}); decoded with the label of --from (${cls(y[0])})`
        : '';
      out(
        !!f.json,
        { file, steps: f.steps, ...(y ? { labels: [y[0], y[1]], decoded_with_label: y[0] } : {}) },
        `wrote a ${f.steps}-step interpolation${note} to ${file}`,
      );
    }),
  );
}
